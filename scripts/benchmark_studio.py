"""Studio latency: start-up to the first sample, each action after warm-up,
and a mix-slider move to playable audio.

The command for docs/benchmarks.md ("Issue 27 point 2"), on a quiet machine:

  python scripts/benchmark_studio.py --configs=configs/mel_2bar.py:small,configs/hier.py:cpu \
      --repeats=10 > studio_bench.jsonl
  python scripts/benchmark_studio.py --pretrained=folk_mel_2bar --repeats=10 >> studio_bench.jsonl

Other uses:

  python scripts/benchmark_studio.py --configs=configs/hier.py:full --repeats=5
  python scripts/benchmark_studio.py --workdir=runs/folk_mel_2bar
  python scripts/benchmark_studio.py --pretrained=folk_mel_2bar   # a shipped model (--model)
  python scripts/benchmark_studio.py --configs=configs/hier.py:full --repeats=5 \
      --weights=float32,int8        # the studio's --weights, one after the other
  python scripts/benchmark_studio.py --nostartup    # only the in-process parts

One JSON line per model and weight storage, with:

* `startup` (skipped with --nostartup): the real command line
  (`python -m musicvae_jax.studio --workdir=... --port=0`) in fresh
  processes, timed from launch to the answer of the page's first
  `POST /api/sample` (4 samples) over HTTP, token read from the page as a
  browser does: `cold` (an empty compilation cache folder), `warm` (a second
  process on the folder the first filled) and `off` (--nocompilation_cache).
  Each also gives the seconds until the address was printed (`serving_s`),
  and the studio's own warm-up line (`warmup`: shapes, seconds,
  compilations since start-up, how many the persistent cache served).
* `actions`: in this process after `Studio.warmup()`: median and max
  milliseconds of `sample` with 1, 5 and 16 items, a 2-item `mix`, a walk
  of 29 windows, and `compiled_after_warmup` (jax compilations during all
  of these: 0 expected; compile_events.py).
* the slider measurement: `POST /api/mix` (blend two latents, decode a
  batch of one, build the NoteSequence) then `GET /api/item/<id>/wav`
  (synthesise and encode the WAV), over HTTP to a real uvicorn server on
  127.0.0.1. The browser's `decodeAudioData` (a few ms) is not included.
  Each repeat moves to a new point, so nothing is served from a cache.
  Decode time alone (`TrainedModel.decode_to_tensors`, batch 1) and
  synthesis time alone are reported too.

Parameters are freshly initialised and written as a checkpoint in a
temporary run folder (latency does not depend on training) unless
--workdir or --pretrained is given. Median and max over --repeats, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))


def _fresh_run(spec: str, folder: Path) -> Path:
  """A run folder holding freshly initialised parameters of config `spec`
  (one checkpoint, step 0), as the studio's --workdir reads it."""
  import jax
  from musicvae_jax import checkpoints, config_base, family, steps
  config = config_base.load_config_file(str(REPO / spec) if ':' in spec or spec.endswith('.py')
                                        else spec)
  parts = family.build(config)
  state = jax.jit(lambda b: steps.create_train_state(config, parts.model, parts.objective, b))(
      parts.objective.example_batch(config, 1))
  ckpt = checkpoints.Checkpointer(folder, async_save=False)
  ckpt.save(0, state, config)
  ckpt.close()
  checkpoints.write_config(folder, config)
  return folder


ADDRESS = re.compile(r'at (http://127\.0\.0\.1:\d+/)')
WARMED = re.compile(r'warmed (\d+) batch shapes in ([\d.]+) s \((\d+) compilations since '
                    r'start-up, (\d+) read from the compilation cache\)')
TOKEN = re.compile(r'<meta name="studio-token" content="([^"]+)"')


def start_to_first_sample(source: str, weights: str, cache: list[str], env: dict,
                          timeout: float = 600) -> dict:
  """Launches the studio's command line on `source` (`--workdir=DIR` or
  `--model=NAME`); seconds from launch to the address and to the answer of
  the first `POST /api/sample` (n=4), and its warm-up line (waited for, then
  the process is stopped)."""
  import subprocess
  command = [sys.executable, '-m', 'musicvae_jax.studio', source, '--port=0',
             f'--weights={weights}', *cache]
  t0 = time.perf_counter()
  child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
  lines, seen = [], threading.Event()
  found: dict = {}

  def read():
    for line in child.stdout:
      lines.append(line)
      if ADDRESS.search(line) and 'serving_s' not in found:
        found['serving_s'] = time.perf_counter() - t0
        found['base'] = ADDRESS.search(line).group(1)
        seen.set()
      match = WARMED.search(line)
      if match:
        shapes, seconds, compiled, from_disk = match.groups()
        found['warmup'] = {'shapes': int(shapes), 'seconds': float(seconds),
                           'compilations': int(compiled), 'from_disk': int(from_disk)}
    seen.set()

  reader = threading.Thread(target=read, daemon=True)
  reader.start()
  try:
    if not seen.wait(timeout) or 'base' not in found:
      raise RuntimeError('the studio did not start: ' + ''.join(lines)[-2000:])
    base = found['base']
    _post(f'{base}api/sample', {'n': 4, 'temperature': 0.5, 'seed': 0}, _token(base))
    first = time.perf_counter() - t0
    deadline = time.perf_counter() + timeout
    while 'warmup' not in found and child.poll() is None and time.perf_counter() < deadline:
      time.sleep(0.05)
  finally:
    child.terminate()
    child.wait(timeout=30)
  return {'first_sample_s': round(first, 2), 'serving_s': round(found['serving_s'], 2),
          'warmup': found.get('warmup')}


def startup(source: str, weights: str, scratch: Path) -> dict:
  """`start_to_first_sample` with an empty compilation cache (cold), again
  on the cache the first filled (warm), and with the cache off."""
  import os
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])}
  folder = scratch / f'xla_{weights}'
  with_cache = [f'--compilation_cache_dir={folder}']
  return {'cold': start_to_first_sample(source, weights, with_cache, env),
          'warm': start_to_first_sample(source, weights, with_cache, env),
          'off': start_to_first_sample(source, weights, ['--nocompilation_cache'], env),
          'cache_files': len(list(folder.iterdir()))}


def _summary(xs: list[float]) -> dict:
  return {'median_ms': round(statistics.median(xs), 1), 'max_ms': round(max(xs), 1)}


def actions(model, name: str, repeats: int, temperature: float = 0.5) -> dict:
  """Milliseconds per studio action after `Studio.warmup()` (engine calls,
  no HTTP), and the compilations they caused (0 expected)."""
  from musicvae_jax import compile_events
  from musicvae_jax.studio.engine import Studio
  studio = Studio(model, name)
  counter = compile_events.Counter()
  start = time.perf_counter()
  shapes = studio.warmup()
  out = {'warmup': {'shapes': shapes, 'seconds': round(time.perf_counter() - start, 1),
                    'compilations': counter.compiled}}
  counter.reset()
  ids = [item.id for item in studio.sample(2, temperature, 0)]
  runs = {f'sample_{n}': (lambda seed, n=n: studio.sample(n, temperature, seed))
          for n in (1, 5, 16)}
  runs['mix'] = lambda seed: studio.mix(ids, (seed % 10) / 10, 0, temperature, seed)
  runs['walk_29'] = lambda seed: studio.walk([], 3, temperature, seed, random_anchors=8)
  for what, run in runs.items():
    times = []
    for seed in range(repeats):
      t0 = time.perf_counter()
      run(seed + 1)
      times.append((time.perf_counter() - t0) * 1e3)
    out[what] = _summary(times)
  out['compiled_after_warmup'] = counter.compiled
  return out


def _token(base: str) -> str:
  """The per-launch API token, read from the page as the browser reads it."""
  with urllib.request.urlopen(base, timeout=600) as response:
    return TOKEN.search(response.read().decode()).group(1)


def _post(url: str, body: dict, token: str | None = None) -> dict:
  headers = {'Content-Type': 'application/json'}
  if token:
    headers['X-Studio-Token'] = token
  request = urllib.request.Request(url, json.dumps(body).encode(), method='POST',
                                   headers=headers)
  with urllib.request.urlopen(request, timeout=600) as response:
    return json.loads(response.read())


def measure(model, name: str, repeats: int, temperature: float = 0.5) -> dict:
  import numpy as np
  from musicvae_jax.studio import media, server
  from musicvae_jax.studio.engine import Studio
  studio = Studio(model, name)
  start = time.perf_counter()
  studio.warmup()
  warmup_s = time.perf_counter() - start
  sock = server.bind('127.0.0.1', 0)
  app = server.make_server(studio, sock)
  thread = threading.Thread(target=app.run, kwargs={'sockets': [sock]}, daemon=True)
  thread.start()
  while not app.started:
    time.sleep(0.02)
  base = f'http://127.0.0.1:{sock.getsockname()[1]}'
  token = _token(base + '/')
  ids = [item['id'] for item in _post(f'{base}/api/sample',
                                      {'n': 2, 'temperature': temperature, 'seed': 0},
                                      token)['items']]
  rng = np.random.default_rng(0)
  total, decode, synth = [], [], []
  for i in range(repeats + 1):           # the first one warms the HTTP path
    x = float(rng.uniform())
    t0 = time.perf_counter()
    item = _post(f'{base}/api/mix', {'ids': ids, 'x': x, 'y': 0, 'temperature': temperature,
                                     'seed': 0}, token)['items'][0]
    with urllib.request.urlopen(f'{base}/api/item/{item["id"]}/wav?token={token}',
                                timeout=600) as response:
      wav = response.read()
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    model.decode_to_tensors(rng.standard_normal((1, model.config.z_size)).astype('float32'),
                            temperature=temperature)
    t2 = time.perf_counter()
    media.wav_bytes(studio.item(item['id']).ns)
    t3 = time.perf_counter()
    if i:
      total.append(elapsed * 1e3)
      decode.append((t2 - t1) * 1e3)
      synth.append((t3 - t2) * 1e3)
  app.should_exit = True
  thread.join(timeout=10)
  summary = lambda xs: {'median_ms': round(statistics.median(xs), 1), 'max_ms': round(max(xs), 1)}
  return {'model': name, 'weights': model.weights, 'slice_bars': studio.slice_bars,
          'warmup_s': round(warmup_s, 1), 'load_average': [round(x, 2) for x in os.getloadavg()],
          'wav_bytes': len(wav), 'slider_to_audio': summary(total),
          'decode_only': summary(decode), 'synth_only': summary(synth), 'repeats': repeats}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--configs', default='configs/mel_2bar.py:small,configs/hier.py:cpu',
                      help='comma-separated config specs (fresh parameters)')
  parser.add_argument('--workdir', default='', help='measure this trained run instead')
  parser.add_argument('--pretrained', default='',
                      help='measure these shipped models instead (comma-separated names, '
                           "the studio's --model)")
  parser.add_argument('--repeats', type=int, default=10)
  parser.add_argument('--weights', default='float32',
                      help="comma-separated weight storages (the studio's --weights), "
                           'measured one after the other')
  parser.add_argument('--nostartup', dest='startup', action='store_false',
                      help='skip the start-up runs (fresh processes)')
  args = parser.parse_args()
  import tempfile
  from musicvae_jax.trained_model import TrainedModel
  weights = args.weights.split(',')
  with tempfile.TemporaryDirectory(prefix='benchmark_studio_') as scratch:
    scratch = Path(scratch)
    # (name, the studio's model flag, loader) per model
    if args.pretrained:
      runs = [(name, f'--model={name}', lambda w, name=name: TrainedModel.from_pretrained(
          name, weights=w)) for name in args.pretrained.split(',')]
    elif args.workdir:
      runs = [(args.workdir, f'--workdir={args.workdir}',
               lambda w: TrainedModel.from_workdir(args.workdir, weights=w))]
    else:
      runs = []
      for i, spec in enumerate(args.configs.split(',')):
        run = _fresh_run(spec, scratch / f'run{i}')
        runs.append((spec, f'--workdir={run}',
                     lambda w, run=run: TrainedModel.from_workdir(run, weights=w)))
    for i, (name, source, load) in enumerate(runs):
      for w in weights:
        result = {'model': name}
        if args.startup:
          result['startup'] = startup(source, w, scratch / 'caches' / f'model{i}')
        model = load(w)
        result['actions'] = actions(model, name, args.repeats)
        result.update(measure(model, name, args.repeats))
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
  main()
