"""Batch-one inference latency under each LSTM weight storage (issue 27), side
by side, and how closely each agrees with float32.

  python scripts/benchmark_inference.py                         # hier:full, mel_2bar:small
  python scripts/benchmark_inference.py --configs=hier.py:full --repeats=9
  python scripts/benchmark_inference.py --skip_timing --agreement_z=16   # agreement only
  python scripts/benchmark_inference.py --json=runs/inference.json
  python scripts/benchmark_inference.py --configs= --workdirs=runs/folk16_hier@1000 \
      --agreement_z=32                  # a trained run (read only, at that step)

What one timing is: `TrainedModel.encode_tensors` of one random window
(`encode`), `decode_to_tensors` of one z at temperature 1e-5 (`decode`,
greedy), and the two one after the other from the encoder's mu (`total`: what
"encode + greedy decode of one melody" costs), wall clock of calls that
return host arrays, after one warm-up call each (compilation). Every storage
(`--weights`) is a `TrainedModel` over the same freshly initialised float32
parameters (latency does not depend on training). The storages are measured
in turn within each of `--repeats` rounds (interleaved), so a busy machine's
drift hits all alike; the table gives the median and the minimum over rounds,
and the process CPU seconds of the median call (user + system, all threads).
The load average (`os.getloadavg`) before and after is printed with the
table: figures taken at a load above the core count are comparisons, not
the machine's speed.

Agreement with float32 (same parameters, `--agreement_z` latents): encoder mu
max |error| on random windows, the share of greedy decodes (from the same z)
identical token for token, and the max |error| of per-step logits along the
float32 greedy sequence (teacher forced, so every storage reads the same
inputs). Freshly initialised parameters have tiny logits (near-ties at every
step), so their greedy decodes are a harsh test; `--workdirs` measures
trained runs (`DIR@STEP`: that checkpoint, read only) as well.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from musicvae_jax import config_base, family, steps  # noqa: E402
from musicvae_jax.models import weight_storage  # noqa: E402

DEFAULT_CONFIGS = 'hier.py:full,mel_2bar.py:small'


def machine() -> str:
  """The CPU model and core count (lscpu), for the record."""
  try:
    out = subprocess.run(['lscpu'], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(':', 1) for line in out.splitlines() if ':' in line)
    name = fields.get('Model name', '?').strip()
    return f'{name}, {fields.get("CPU(s)", "?").strip()} CPUs'
  except (OSError, subprocess.CalledProcessError):
    return f'{os.cpu_count()} CPUs'


def fresh_params(config):
  """float32 parameters initialised from `config.seed` (no checkpoint)."""
  parts = family.build(config)
  batch = parts.objective.example_batch(config, 1)
  return jax.jit(lambda b: steps.init_params(
      parts.model, parts.objective, jax.random.key(config.seed), b))(batch)


def models(config_spec: str, formats):
  """{format: TrainedModel} over one set of fresh float32 parameters."""
  config = config_base.load_config_file(config_spec)
  params = fresh_params(config)
  cls = family.get(config).trained_model_class()
  return config, {fmt: cls(config, params, weights=fmt) for fmt in formats}


def trained_models(spec: str, formats):
  """{format: TrainedModel} of a trained run `DIR[@STEP]` (an explicit step
  reads the checkpoint without locking or tidying the workdir)."""
  from musicvae_jax.trained_model import TrainedModel
  path, _, step = spec.partition('@')
  base = TrainedModel.from_workdir(path, step=int(step) if step else None)
  cls = type(base)
  return base.config, {fmt: base if fmt == 'float32' else
                       cls(base.config, base.params, weights=fmt) for fmt in formats}


def _cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def timing(trained: dict, repeats: int, seed: int = 0) -> dict:
  """Median / min wall ms (and CPU ms of the median call) of encode, greedy
  decode and encode-then-decode per storage, interleaved over rounds."""
  any_model = next(iter(trained.values()))
  rs = np.random.RandomState(seed)
  tokens = np.stack([rs.randint(0, d, (1, any_model.seq_len))
                     for d in any_model.spec.part_depths], -1).astype(np.int32)
  z = rs.standard_normal((1, any_model.config.z_size)).astype(np.float32)

  def calls(m):
    def total():
      _, mu, _ = m.encode_tensors(tokens)
      return m.decode_to_tensors(mu, temperature=1e-5)
    return {'encode': lambda: m.encode_tensors(tokens),
            'decode': lambda: m.decode_to_tensors(z, temperature=1e-5),
            'total': total}

  table = {fmt: calls(m) for fmt, m in trained.items()}
  compile_s = {}
  for fmt, c in table.items():
    start = time.perf_counter()
    for call in c.values():
      call()
    compile_s[fmt] = time.perf_counter() - start
  wall = {fmt: {k: [] for k in c} for fmt, c in table.items()}
  cpu = {fmt: {k: [] for k in c} for fmt, c in table.items()}
  for _ in range(repeats):
    for fmt, c in table.items():
      for name, call in c.items():
        c0, t0 = _cpu_seconds(), time.perf_counter()
        call()
        wall[fmt][name].append(1e3 * (time.perf_counter() - t0))
        cpu[fmt][name].append(1e3 * (_cpu_seconds() - c0))
  out = {}
  for fmt in table:
    row = {'warmup_s': round(compile_s[fmt], 1),
           'params_mb': round(weight_storage.nbytes(
               trained[fmt].inference_params) / 2**20, 1)}
    for name in table[fmt]:
      w, c = wall[fmt][name], cpu[fmt][name]
      median_at = int(np.argsort(w)[len(w) // 2])
      row[name] = {'median_ms': round(statistics.median(w), 1),
                   'min_ms': round(min(w), 1),
                   'cpu_ms_of_median': round(c[median_at], 1)}
    out[fmt] = row
  return out


def agreement(trained: dict, count: int, seed: int = 1) -> dict:
  """Each storage against float32 on the same parameters (module docstring)."""
  ref = trained['float32']
  rs = np.random.RandomState(seed)
  tokens = np.stack([rs.randint(0, d, (count, ref.seq_len))
                     for d in ref.spec.part_depths], -1).astype(np.int32)
  z = rs.standard_normal((count, ref.config.z_size)).astype(np.float32)
  _, mu_ref, _ = ref.encode_tensors(tokens)
  greedy_ref = ref.decode_to_tensors(z, temperature=1e-5)
  logits_ref = ref.teacher_forced_logits(z, greedy_ref)
  out = {}
  for fmt, m in trained.items():
    if fmt == 'float32':
      continue
    _, mu, _ = m.encode_tensors(tokens)
    greedy = m.decode_to_tensors(z, temperature=1e-5)
    logits = m.teacher_forced_logits(z, greedy_ref)
    same = np.all(greedy == greedy_ref, axis=(1, 2))
    out[fmt] = {'mu_max_abs_error': float(np.abs(mu - mu_ref).max()),
                'mu_max_abs': float(np.abs(mu_ref).max()),
                'greedy_identical_share': float(same.mean()),
                'greedy_token_agreement': float(np.mean(greedy == greedy_ref)),
                'logits_max_abs_error': float(np.abs(logits - logits_ref).max()),
                'logits_max_abs': float(np.abs(logits_ref).max()),
                'latents': count}
  distinct = len({tuple(np.ravel(g)) for g in greedy_ref})
  return {'distinct_float32_greedy_decodes': distinct, **out}


def print_tables(name: str, times: dict | None, agree: dict | None, load) -> None:
  print(f'\n## {name}   (load average before {load[0]}, after {load[1]})')
  if times:
    print('| weights | params MB | encode ms (min) | decode ms (min) | '
          'encode + decode ms (min) | CPU ms of the median total |')
    print('|---|---|---|---|---|---|')
    for fmt, row in times.items():
      cells = [f'{row[k]["median_ms"]} ({row[k]["min_ms"]})'
               for k in ('encode', 'decode', 'total')]
      print(f'| {fmt} | {row["params_mb"]} | ' + ' | '.join(cells)
            + f' | {row["total"]["cpu_ms_of_median"]} |')
  if agree:
    print(f'\nfloat32 greedy decodes: {agree["distinct_float32_greedy_decodes"]} '
          'distinct among the latents')
    print('| weights | mu max abs error (max abs mu) | greedy identical | '
          'tokens equal | logits max abs error (max abs logit) |')
    print('|---|---|---|---|---|')
    for fmt, a in agree.items():
      if fmt == 'distinct_float32_greedy_decodes':
        continue
      print(f'| {fmt} | {a["mu_max_abs_error"]:.2e} ({a["mu_max_abs"]:.2g}) | '
            f'{a["greedy_identical_share"]:.0%} of {a["latents"]} | '
            f'{a["greedy_token_agreement"]:.2%} | {a["logits_max_abs_error"]:.2e} '
            f'({a["logits_max_abs"]:.2g}) |')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--configs', default=DEFAULT_CONFIGS,
                      help='comma-separated NAME.py[:VARIANT] (fresh parameters)')
  parser.add_argument('--workdirs', default='',
                      help='comma-separated trained runs DIR[@STEP] to measure too')
  parser.add_argument('--weights', default=','.join(weight_storage.FORMATS),
                      help='storages to compare (float32 is always included)')
  parser.add_argument('--repeats', type=int, default=7, help='interleaved rounds')
  parser.add_argument('--agreement_z', type=int, default=8,
                      help='latents / windows of the agreement check (0: none)')
  parser.add_argument('--skip_timing', action='store_true')
  parser.add_argument('--json', default='', help='also write the results here')
  args = parser.parse_args(argv)
  formats = ['float32'] + [f for f in args.weights.split(',')
                           if f and f != 'float32']
  for fmt in formats:
    weight_storage.check_format(fmt)
  results = {'machine': machine(), 'jax': jax.__version__, 'repeats': args.repeats,
             'date': time.strftime('%Y-%m-%d %H:%M'), 'configs': {}}
  print(f'{results["machine"]}, jax {jax.__version__}, {results["date"]}')
  specs = [(s, models) for s in args.configs.split(',') if s]
  specs += [(s, trained_models) for s in args.workdirs.split(',') if s]
  for spec, make in specs:
    before = os.getloadavg()
    _, trained = make(spec, formats)
    times = None if args.skip_timing else timing(trained, args.repeats)
    agree = agreement(trained, args.agreement_z) if args.agreement_z else None
    load = (tuple(round(x, 2) for x in before),
            tuple(round(x, 2) for x in os.getloadavg()))
    print_tables(spec, times, agree, load)
    results['configs'][spec] = {'timing': times, 'agreement': agree,
                                'load_average': load}
  if args.json:
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
  main()
