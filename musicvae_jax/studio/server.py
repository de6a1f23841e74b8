"""The studio's web server: a small ASGI app (Starlette) around `engine.Studio`.

JSON in, JSON out; media (WAV, MIDI, PNG, recipe JSON, z as .npy) by URL.
Bad input is a 400 with `{"error": "..."}` the page shows; anything
unexpected is a 500 with a one-line message, logged on one line, and the
server keeps serving. Model calls run in a worker thread (the event loop
never blocks) and one at a time (the Studio's lock).
"""

from __future__ import annotations

import logging
import socket
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from musicvae_jax.studio.engine import Studio, StudioError

log = logging.getLogger('musicvae_jax.studio')
STATIC = resources.files('musicvae_jax.studio') / 'static'
MAX_JSON_BYTES = 1 << 20


def _error(message: str, status: int = 400) -> JSONResponse:
  return JSONResponse({'error': message}, status_code=status)


async def _json(request: Request) -> dict:
  body = await request.body()
  if len(body) > MAX_JSON_BYTES:
    raise StudioError('request too large')
  import json
  try:
    value = json.loads(body or b'{}')
  except ValueError:
    raise StudioError('the request is not JSON') from None
  if not isinstance(value, dict):
    raise StudioError('the request must be a JSON object')
  return value


def _handler(fn):
  """Wraps an endpoint: StudioError -> 400, anything else -> one-line 500."""
  async def endpoint(request: Request):
    try:
      return await fn(request)
    except StudioError as error:
      return _error(str(error))
    except (TypeError, KeyError, ValueError) as error:  # e.g. a missing or non-numeric field
      return _error(f'bad request: {type(error).__name__}: {error}'[:300])
    except Exception as error:  # keep serving; say what happened in one line
      log.error('%s %s failed: %s: %s', request.method, request.url.path,
                type(error).__name__, error)
      return _error(f'internal error: {type(error).__name__}: {error}'[:300], 500)
  return endpoint


def make_app(studio: Studio) -> Starlette:
  """The ASGI app serving `studio` (page, static assets, JSON API, media)."""

  def items(found) -> JSONResponse:
    return JSONResponse({'items': [studio.item_json(i) for i in found]})

  async def index(request):
    return FileResponse(str(STATIC / 'index.html'), media_type='text/html')

  async def info(request):
    return JSONResponse(studio.info())

  async def sample(request):
    q = await _json(request)
    return items(await run_in_threadpool(
        studio.sample, q.get('n', 4), q.get('temperature', 0.5), q.get('seed', 0),
        str(q.get('chords') or '')))

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
        studio.use_window, q['upload'], q.get('start_bar', 1),
        q.get('temperature', 0.5), q.get('seed', 0)))

  async def perform(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.perform, q['upload'], str(q.get('how', '')), q.get('temperature', 0.5),
        q.get('seed', 0))])

  async def mix(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.mix, q['ids'], q.get('x', 0.5), q.get('y', 0.5),
        q.get('temperature', 0.5), q.get('seed', 0), str(q.get('chords') or ''))])

  async def walk(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.walk, q.get('ids') or [], q.get('steps', 3), q.get('temperature', 0.5),
        q.get('seed', 0), int(q.get('anchors', 0)), str(q.get('chords') or ''))])

  async def build_map(request):
    q = await _json(request)
    return JSONResponse(await run_in_threadpool(
        studio.build_map, str(q.get('folder', '')), q.get('method', 'pca'),
        int(q.get('seed', 0))))

  async def map_point(request):
    q = await _json(request)
    return items([await run_in_threadpool(studio.map_window, q['index'])])

  async def map_decode(request):
    q = await _json(request)
    return items([await run_in_threadpool(
        studio.map_decode, q['x'], q['y'], q.get('temperature', 0.5), q.get('seed', 0),
        str(q.get('chords') or ''))])

  async def attribute(request):
    q = await _json(request)
    amounts = q.get('amounts') or {}
    if not isinstance(amounts, dict):
      raise StudioError('amounts must be an object of attribute: amount')
    return items([await run_in_threadpool(
        studio.attribute, q.get('base') or '', amounts, q.get('temperature', 0.5),
        q.get('seed', 0), str(q.get('chords') or ''))])

  async def item_media(request):
    item_id, kind = request.path_params['item'], request.path_params['kind']
    data, content_type, filename = await run_in_threadpool(studio.media, item_id, kind)
    headers = {'Cache-Control': 'no-store'}
    if request.query_params.get('download'):
      headers['Content-Disposition'] = f'attachment; filename="{filename}"'
    return Response(data, media_type=content_type, headers=headers)

  routes = [Route('/', _handler(index)),
            Route('/api/info', _handler(info))]
  for path, fn in (('/api/sample', sample), ('/api/upload', upload),
                   ('/api/window', window), ('/api/perform', perform), ('/api/mix', mix), ('/api/walk', walk),
                   ('/api/map', build_map), ('/api/map/point', map_point),
                   ('/api/map/decode', map_decode), ('/api/attribute', attribute)):
    routes.append(Route(path, _handler(fn), methods=['POST']))
  routes += [Route('/api/item/{item}/{kind}', _handler(item_media)),
             Mount('/static', StaticFiles(directory=str(STATIC)), name='static')]
  return Starlette(routes=routes)


def bind(host: str, port: int) -> socket.socket:
  """A listening socket on (host, port); port 0 picks a free one."""
  family = socket.AF_INET6 if ':' in host else socket.AF_INET
  sock = socket.socket(family, socket.SOCK_STREAM)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  sock.bind((host, port))
  sock.listen(64)
  return sock


def make_server(studio: Studio, sock: socket.socket, log_level: str = 'warning'):
  """A uvicorn Server for the app; run with `server.run(sockets=[sock])`."""
  import uvicorn
  config = uvicorn.Config(make_app(studio), log_level=log_level, lifespan='off',
                          access_log=False)
  return uvicorn.Server(config)
