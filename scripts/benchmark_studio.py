"""Studio latency: from a mix-slider move to playable audio, after warm-up.

  python scripts/benchmark_studio.py                       # mel_2bar:small, hier:cpu
  python scripts/benchmark_studio.py --configs=configs/hier.py:full --repeats=5
  python scripts/benchmark_studio.py --workdir=runs/folk_mel_2bar
  python scripts/benchmark_studio.py --configs=configs/hier.py:full --repeats=5 \
      --weights=float32,int8        # the studio's --weights, one after the other

What one measurement is (what the page does when the mix point moves):
`POST /api/mix` (blend two latents, decode a batch of one, build the
NoteSequence) then `GET /api/item/<id>/wav` (synthesise and encode the WAV),
over HTTP to a real uvicorn server on 127.0.0.1. The browser's
`decodeAudioData` (a few ms) is not included. Each repeat moves to a new
point, so nothing is served from a cache. Parameters are freshly initialised
(latency does not depend on training) unless --workdir is given. Decode time
alone (`TrainedModel.decode_to_tensors`, batch 1) and synthesis time alone
are reported too. Median and max over --repeats, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))


def _models(spec: str, weights: list[str]):
  """One `TrainedModel` per weight storage over the same fresh parameters."""
  import jax
  from musicvae_jax import config_base, family, steps
  config = config_base.load_config_file(str(REPO / spec) if ':' in spec or spec.endswith('.py')
                                        else spec)
  parts = family.build(config)
  batch = parts.objective.example_batch(config, 1)
  params = jax.jit(lambda b: steps.init_params(parts.model, parts.objective,
                                               jax.random.key(0), b))(batch)
  cls = parts.family.trained_model_class()
  return [cls(config, params, weights=w) for w in weights]


def _post(url: str, body: dict) -> dict:
  request = urllib.request.Request(url, json.dumps(body).encode(), method='POST',
                                   headers={'Content-Type': 'application/json'})
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
  ids = [item['id'] for item in _post(f'{base}/api/sample',
                                      {'n': 2, 'temperature': temperature, 'seed': 0})['items']]
  rng = np.random.default_rng(0)
  total, decode, synth = [], [], []
  for i in range(repeats + 1):           # the first one warms the HTTP path
    x = float(rng.uniform())
    t0 = time.perf_counter()
    item = _post(f'{base}/api/mix', {'ids': ids, 'x': x, 'y': 0, 'temperature': temperature,
                                     'seed': 0})['items'][0]
    with urllib.request.urlopen(f'{base}/api/item/{item["id"]}/wav', timeout=600) as response:
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
  parser.add_argument('--repeats', type=int, default=10)
  parser.add_argument('--weights', default='float32',
                      help="comma-separated weight storages (the studio's --weights), "
                           'measured one after the other')
  args = parser.parse_args()
  weights = args.weights.split(',')
  results = []
  if args.workdir:
    from musicvae_jax.trained_model import TrainedModel
    for w in weights:
      results.append(measure(TrainedModel.from_workdir(args.workdir, weights=w),
                             args.workdir, args.repeats))
  else:
    for spec in args.configs.split(','):
      for model in _models(spec, weights):
        results.append(measure(model, spec, args.repeats))
  for r in results:
    print(json.dumps(r))


if __name__ == '__main__':
  main()
