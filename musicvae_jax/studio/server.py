"""The studio's web server: a small ASGI app (Starlette) around `engine.Studio`.

JSON in, JSON out; media (WAV, MIDI, PNG, recipe JSON, z as .npy) by URL.
Every request first passes `security.Guard` (Host, Origin, the per-launch
token, body types). Bad input is a 400 with `{"error": "..."}` the page
shows (403 for what the studio may not touch, 409 while a map is being
built); anything unexpected is a 500 with a one-line message, logged on one
line, and the server keeps serving. Model calls run in a worker thread (the
event loop never blocks) and one at a time (the Studio's lock); a latent map
is built by a background job the page polls (`/api/map/status`).
"""

from __future__ import annotations

import html
import json
import logging
import math
import socket
from importlib import resources

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from musicvae_jax.studio import arrange, controls, security, session
from musicvae_jax.studio.engine import Studio
from musicvae_jax.studio.errors import StudioError

log = logging.getLogger('musicvae_jax.studio')
STATIC = resources.files('musicvae_jax.studio') / 'static'
MAX_JSON_BYTES = 1 << 20
TOKEN_PLACEHOLDER = '__STUDIO_TOKEN__'
SHUTDOWN_SECONDS = 3   # requests still running when the server stops get this long


def _error(message: str, status: int = 400) -> JSONResponse:
  return JSONResponse({'error': message}, status_code=status)


async def _json(request: Request) -> dict:
  body = await request.body()
  if len(body) > MAX_JSON_BYTES:
    raise StudioError('request too large')
  try:
    value = json.loads(body or b'{}')
  except ValueError:
    raise StudioError('the request is not JSON') from None
  except RecursionError:
    raise StudioError('the request is nested too deeply') from None
  if not isinstance(value, dict):
    raise StudioError('the request must be a JSON object')
  return value


# -- fields of a request: one-line messages naming the field --------------------------
def _shown(value) -> str:
  """`value` as a message quotes it: its repr, cut to 40 characters."""
  text_ = repr(value)
  return text_ if len(text_) <= 40 else text_[:37] + '...'


def integer(q: dict, field: str, default: int) -> int:
  """`q[field]` as an int (a whole number, as JSON number or text)."""
  value = q.get(field, default)
  if isinstance(value, bool) or value is None:
    raise StudioError(f'{field}: {_shown(value)} is not a whole number')
  try:
    number = float(value)
  except (TypeError, ValueError):
    raise StudioError(f'{field}: {_shown(value)} is not a whole number') from None
  except OverflowError:
    number = math.inf
  if not math.isfinite(number) or number != int(number) or abs(number) >= 2**31:
    raise StudioError(f'{field}: {_shown(value)} is not a whole number below 2^31')
  return int(number)


def number(q: dict, field: str, default: float) -> float:
  """`q[field]` as a finite float."""
  value = q.get(field, default)
  try:
    result = float(value) if not isinstance(value, bool) else math.nan
  except (TypeError, ValueError, OverflowError):
    result = math.nan
  if not math.isfinite(result):
    raise StudioError(f'{field}: {_shown(value)} is not a number')
  return result


def text(q: dict, field: str, default: str = '', limit: int | None = None) -> str:
  """`q[field]` as text ('' for null), at most `limit` characters when given."""
  value = q.get(field, default)
  if value is None:
    return ''
  if not isinstance(value, str):
    raise StudioError(f'{field}: {_shown(value)} is not text')
  if limit is not None and len(value) > limit:
    raise StudioError(f'{field}: {len(value)} characters; at most {limit}')
  return value


def chords(q: dict) -> str:
  """The chords of a request: a chord model's progression, or a
  multicontrol model's chords control (text, capped)."""
  return text(q, 'chords', limit=controls.MAX_CHOICE_CHARS)


def control_choices(q: dict) -> dict[str, str]:
  """A multicontrol model's rhythm, contour and register choices of a
  request (studio/controls.py; each text, capped; '' when not sent)."""
  return {name: text(q, name, limit=controls.MAX_CHOICE_CHARS) for name in controls.NAMES[1:]}


def id_list(q: dict, field: str) -> list[str]:
  value = q.get(field) or []
  if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
    raise StudioError(f'{field}: expected a list of result ids')
  return value


def _handler(fn):
  """Wraps an endpoint: StudioError -> its status (400, 403, 409), anything
  else -> one-line 500."""
  async def endpoint(request: Request):
    try:
      return await fn(request)
    except StudioError as error:
      return _error(str(error), error.status)
    except Exception as error:  # keep serving; say what happened in one line
      log.error('%s %s failed: %s: %s', request.method, request.url.path,
                type(error).__name__, error)
      return _error(f'internal error: {type(error).__name__}: {error}'[:300], 500)
  return endpoint


def page(token: str) -> str:
  """index.html with the launch's token in its `<meta name="studio-token">`."""
  template = (STATIC / 'index.html').read_text(encoding='utf-8')
  return template.replace(TOKEN_PLACEHOLDER, html.escape(token, quote=True))


def make_app(studio: Studio, policy: security.Policy):
  """The ASGI app serving `studio` (page, static assets, JSON API, media),
  behind `security.Guard(policy)`."""
  index_html = page(policy.token)

  def items(found) -> JSONResponse:
    return JSONResponse({'items': [studio.item_json(i) for i in found]})

  async def index(request):
    return HTMLResponse(index_html, headers={'Cache-Control': 'no-store'})

  async def info(request):
    return JSONResponse(studio.info())

  async def sample(request):
    q = await _json(request)
    return items(await run_in_threadpool(
        studio.sample, integer(q, 'n', 4), number(q, 'temperature', 0.5),
        integer(q, 'seed', 0), chords(q), control_choices(q)))

  async def upload(request):
    name = request.query_params.get('name', 'upload.mid')
    chunks, size = [], 0
    async for chunk in request.stream():  # read it all, keep at most the limit
      size += len(chunk)
      if size <= studio.max_upload_bytes:
        chunks.append(chunk)
    if size > studio.max_upload_bytes:
      return _error(f'{name}: {size / 1e6:.1f} MB is over the limit of '
                    f'{studio.max_upload_bytes / 1e6:.1f} MB', 413)
    return JSONResponse(await run_in_threadpool(studio.upload, name, b''.join(chunks)))

  async def window(request):
    q = await _json(request)
    return items(await run_in_threadpool(
        studio.use_window, text(q, 'upload'), integer(q, 'start_bar', 1),
        number(q, 'temperature', 0.5), integer(q, 'seed', 0)))

  async def perform(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.perform, text(q, 'upload'), text(q, 'how'), number(q, 'temperature', 0.5),
        integer(q, 'seed', 0))])

  async def mix(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.mix, id_list(q, 'ids'), number(q, 'x', 0.5), number(q, 'y', 0.5),
        number(q, 'temperature', 0.5), integer(q, 'seed', 0), chords(q),
        control_choices(q))])

  async def walk(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.walk, id_list(q, 'ids'), integer(q, 'steps', 3), number(q, 'temperature', 0.5),
        integer(q, 'seed', 0), integer(q, 'anchors', 0), chords(q), control_choices(q))])

  async def build_map(request):
    q = await _json(request)
    folder = text(q, 'folder').strip()
    source = text(q, 'source') or ('folder' if folder else 'eval')
    return JSONResponse(await run_in_threadpool(
        studio.start_map, source, folder, text(q, 'method', 'pca'), integer(q, 'seed', 0)))

  async def map_status(request):
    return JSONResponse(studio.map_status())

  async def map_cancel(request):
    return JSONResponse(studio.cancel_map())

  async def map_point(request):
    q = await _json(request)
    return items([await run_in_threadpool(studio.map_window, integer(q, 'index', -1))])

  async def map_decode(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.map_decode, number(q, 'x', 0.0), number(q, 'y', 0.0),
        number(q, 'temperature', 0.5), integer(q, 'seed', 0), chords(q),
        control_choices(q))])

  async def attribute(request):
    q = await _json(request)
    amounts = q.get('amounts') or {}
    if not isinstance(amounts, dict):
      raise StudioError('amounts: expected an object of attribute: amount')
    amounts = {str(k): number(amounts, k, 0.0) for k in amounts}
    return items([await run_in_threadpool(
        studio.attribute, text(q, 'base'), amounts, number(q, 'temperature', 0.5),
        integer(q, 'seed', 0), chords(q), control_choices(q))])

  async def item_info(request):
    with studio.lock:
      item = studio.item(request.path_params['item'])
    return JSONResponse(studio.item_json(item))

  async def restore(request):
    q = await _json(request)
    return items([await run_in_threadpool(session.restore, studio, q)])

  async def item_media(request):
    item_id, kind = request.path_params['item'], request.path_params['kind']
    playback = arrange.parse(request.query_params)   # ?bpm=&transpose= of the page's controls
    data, content_type, filename = await run_in_threadpool(studio.media, item_id, kind, playback)
    headers = {'Cache-Control': 'no-store'}
    if request.query_params.get('download'):
      headers['Content-Disposition'] = f'attachment; filename="{filename}"'
    return Response(data, media_type=content_type, headers=headers)

  routes = [Route('/', _handler(index)),
            Route('/api/info', _handler(info)),
            Route('/api/map/status', _handler(map_status))]
  for path, fn in (('/api/sample', sample), ('/api/upload', upload),
                   ('/api/window', window), ('/api/perform', perform), ('/api/mix', mix),
                   ('/api/walk', walk), ('/api/map', build_map),
                   ('/api/map/cancel', map_cancel), ('/api/map/point', map_point),
                   ('/api/map/decode', map_decode), ('/api/attribute', attribute),
                   ('/api/restore', restore)):
    routes.append(Route(path, _handler(fn), methods=['POST']))
  routes += [Route('/api/item/{item}', _handler(item_info)),
             Route('/api/item/{item}/{kind}', _handler(item_media)),
             Mount('/static', StaticFiles(directory=str(STATIC)), name='static')]
  return security.Guard(Starlette(routes=routes), policy)


def bind(host: str, port: int) -> socket.socket:
  """A listening socket on (host, port); port 0 picks a free one."""
  family = socket.AF_INET6 if ':' in host else socket.AF_INET
  sock = socket.socket(family, socket.SOCK_STREAM)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  sock.bind((host, port))
  sock.listen(64)
  return sock


def policy_for(sock: socket.socket, host: str | None = None,
               extra_hosts=(), token: str | None = None) -> security.Policy:
  """The guard's policy for a bound socket (`host`: the --host given)."""
  bound, port = sock.getsockname()[:2]
  return security.Policy(host if host is not None else bound, port, token, extra_hosts)


class StudioServer(uvicorn.Server):
  """uvicorn's Server that stops the studio's background work (the map job)
  before it waits for running requests."""

  def __init__(self, config: uvicorn.Config, studio: Studio):
    super().__init__(config)
    self.studio = studio

  async def shutdown(self, sockets=None):
    self.studio.close()
    await super().shutdown(sockets)


def make_server(studio: Studio, sock: socket.socket, log_level: str = 'warning',
                policy: security.Policy | None = None) -> StudioServer:
  """A uvicorn Server for the app; run with `server.run(sockets=[sock])`.
  Stopping it (Ctrl-C, SIGTERM) cancels the map job and waits at most
  SHUTDOWN_SECONDS for requests still running."""
  policy = policy or policy_for(sock)
  config = uvicorn.Config(make_app(studio, policy), log_level=log_level, lifespan='off',
                          access_log=False, timeout_graceful_shutdown=SHUTDOWN_SECONDS)
  return StudioServer(config, studio)
