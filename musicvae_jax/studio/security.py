"""Who may talk to the studio: checks on every request before the app sees it.

The studio serves one person's browser on this machine. Other web pages open
in that browser must not be able to drive it, so every request passes `Guard`:

* Host: only the address the server bound (`127.0.0.1:PORT`,
  `localhost:PORT`, `[::1]:PORT` or `--host:PORT`, plus `--allowed_host`
  names for a proxy or tunnel) is answered; anything else gets 421. A page
  that rebinds its own domain name to 127.0.0.1 (DNS rebinding) sends its
  own name as Host, so it can read nothing. Servers bound to every interface
  (0.0.0.0, ::) also answer IP-literal Hosts on their port (an IP address
  cannot be rebound).
* Fetch metadata and Origin: a request a browser marks as coming from another
  site (`Sec-Fetch-Site: cross-site` / `same-site`), or whose `Origin` is not
  this server's own, gets 403; only following a link to the page itself
  (a top-level navigation to `/`) is let through.
* Token: every `/api/` request carries the per-launch token the page reads
  from its own HTML (`<meta name="studio-token">`), as the `X-Studio-Token`
  header or, for download links, a `token` query parameter; without it, 403.
* Bodies: a POST must say `Content-Type: application/json` (uploads:
  `application/octet-stream`); neither is a type a cross-site form or a
  "simple" cross-site fetch can send without the browser asking first.

Refusals are one-line JSON errors, `{"error": "..."}`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from typing import Iterable
from urllib.parse import parse_qs

TOKEN_HEADER = 'x-studio-token'
TOKEN_QUERY = 'token'
LOOPBACK_NAMES = ('127.0.0.1', 'localhost', '[::1]')
WILDCARD_HOSTS = ('0.0.0.0', '::', '')
# Body types per POST path (any other path: JSON only).
BODY_TYPES = {'/api/upload': ('application/octet-stream',)}
JSON_TYPES = ('application/json',)


def new_token() -> str:
  """A fresh random token (one per launch)."""
  return secrets.token_urlsafe(24)


def host_name(host: str) -> str:
  """`host` as it appears in a Host header: IPv6 literals in brackets."""
  host = host.strip().lower()
  return f'[{host}]' if ':' in host and not host.startswith('[') else host


def _is_ip_literal(name: str) -> bool:
  try:
    ipaddress.ip_address(name.strip('[]'))
  except ValueError:
    return False
  return True


class Policy:
  """What the guard allows: the Host values and the token.

  `host`, `port`: the address the server bound. `extra_hosts`: more Host
  values to answer (`name` or `name:port`; a bare name means this port).
  """

  def __init__(self, host: str, port: int, token: str | None = None,
               extra_hosts: Iterable[str] = ()):
    self.port = int(port)
    self.token = token or new_token()
    names = set(LOOPBACK_NAMES)
    self.wildcard = host.strip() in WILDCARD_HOSTS
    if not self.wildcard:
      names.add(host_name(host))
    self.hosts = {f'{name}:{self.port}' for name in names}
    for extra in extra_hosts:
      extra = extra.strip().lower()
      if not extra:
        continue
      _, colon, port_text = extra.rpartition(':')
      has_port = colon and port_text.isdigit() and not extra.endswith(']')
      self.hosts.add(extra if has_port else f'{host_name(extra)}:{self.port}')

  def host_allowed(self, host: str) -> bool:
    host = host.strip().lower()
    if host in self.hosts:
      return True
    if self.wildcard:  # every interface: any IP literal on our port
      name, _, port = host.rpartition(':')
      return port == str(self.port) and _is_ip_literal(name)
    return False

  def address(self) -> str:
    """The address to show in messages."""
    return f'http://127.0.0.1:{self.port}/'

  def check(self, method: str, path: str, query: str,
            headers: dict[str, str]) -> tuple[int, str] | None:
    """(status, one-line message) for a refused request, None when it may pass.

    `headers`: lower-case names -> values.
    """
    host = headers.get('host', '')
    if not self.host_allowed(host):
      return 421, (f'this studio answers only at its own address ({self.address()}); '
                   f'Host {host[:80]!r} refused')
    site = headers.get('sec-fetch-site', '')
    navigation = (method in ('GET', 'HEAD') and path == '/'
                  and headers.get('sec-fetch-mode', '') == 'navigate')
    if site in ('cross-site', 'same-site') and not navigation:
      return 403, 'requests from other web sites are refused'
    origin = headers.get('origin')
    if origin is not None and origin.lower() != f'http://{host.strip().lower()}':
      return 403, f'requests from other web sites are refused (Origin {origin[:80]!r})'
    if path.startswith('/api/'):
      given = headers.get(TOKEN_HEADER) or parse_qs(query).get(TOKEN_QUERY, [''])[0]
      if not hmac.compare_digest(given.encode(), self.token.encode()):
        return 403, ('missing or wrong studio token (open the page from the address '
                     'the studio printed, and reload it)')
    if method == 'POST':
      allowed = BODY_TYPES.get(path, JSON_TYPES)
      kind = headers.get('content-type', '').split(';')[0].strip().lower()
      if kind not in allowed:
        return 415, (f'{path} takes {" or ".join(allowed)} bodies, not '
                     f'{kind or "no content type"!r}')
    return None


class Guard:
  """ASGI middleware: `Policy.check` on every HTTP request, before `app`."""

  def __init__(self, app, policy: Policy):
    self.app = app
    self.policy = policy

  async def __call__(self, scope, receive, send):
    if scope['type'] != 'http':
      return await self.app(scope, receive, send)
    headers: dict[str, str] = {}
    for name, value in scope.get('headers', ()):
      headers.setdefault(name.decode('latin-1').lower(), value.decode('latin-1'))
    refused = self.policy.check(scope['method'], scope['path'],
                                scope.get('query_string', b'').decode('latin-1'), headers)
    if refused is None:
      return await self.app(scope, receive, send)
    status, message = refused
    body = json.dumps({'error': message}).encode()
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'application/json'),
                            (b'content-length', str(len(body)).encode()),
                            (b'cache-control', b'no-store')]})
    await send({'type': 'http.response.body', 'body': body})
