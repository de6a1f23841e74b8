"""Side-by-side A/B of config overrides: train steps of each variant
interleaved round by round in one process, so that a machine's drift hits
every variant alike (how docs/benchmarks.md's issue-17 tables were taken).

  python scripts/benchmark_ab.py --config=mel_2bar.py --batch_size=64 \
      --variants=',lstm_fused_bidirectional=True,lstm_save=states'
  python scripts/benchmark_ab.py --config=hier.py --batch_size=64 --memory_only \
      --variants=',lstm_save=states,lstm_wavefront=True'

`--variants` is a list separated by `;` (or `,` between single overrides
when each variant sets one field; the empty variant is today's defaults);
one variant is `field=value[,field=value...]` when `;` separates variants.
`--set` applies overrides to every variant (e.g. hidden sizes). Prints, per
variant, median and best sequences/s over `--rounds` rounds of `--steps`
steps, and XLA's step memory (arguments + outputs + temporaries - aliased).
`--memory_only` compiles without running (abstract state: no parameters
are allocated), for models too slow to time.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

import benchmark  # noqa: E402
from musicvae_jax import config_base, family, steps  # noqa: E402


def parse_overrides(text: str) -> dict:
  """'a=1,b=(2,3),c=x' -> {'a': 1, 'b': (2, 3), 'c': 'x'}."""
  out, depth, field = {}, 0, ''
  for char in text + ',':
    depth += (char in '([') - (char in ')]')
    if char == ',' and depth == 0:
      if field.strip():
        key, value = field.split('=', 1)
        try:
          out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
          out[key.strip()] = value.strip()
      field = ''
    else:
      field += char
  return out


def compile_step(config_name: str, batch: int, overrides: dict, memory_only: bool = False):
  """(config, spec, compiled train step, state, batch) of `config_name` at
  `batch` with `overrides`; `memory_only`: the state as shapes only."""
  config = config_base.load_config_file(config_name)
  with config.unlocked():
    config.batch_size = batch
    for key, value in overrides.items():
      setattr(config, key, value)
  spec = benchmark.token_spec(config)
  fam = family.get(config)
  model, objective = fam.build_model(config, spec), fam.objective(config, spec)
  data = benchmark.synthetic_batch(config, spec, batch)
  if memory_only:
    state = jax.eval_shape(
        lambda: steps.create_train_state(config, model, objective, data))
  else:
    state = steps.create_train_state(config, model, objective, data)
  train, _, _ = steps.jit_steps(config, model, objective)
  compiled = train.lower(state, data).compile()
  return config, spec, compiled, state, data


def stepper(compiled, state, data):
  """`run(n)`: `n` steps of `compiled` on `data` from the last state, waited for."""
  holder = {'state': state}

  def run(n: int) -> None:
    s = holder['state']
    for _ in range(n):
      s, metrics = compiled(s, data)
    benchmark.block((s, metrics))
    holder['state'] = s
  return run


def build(config_name: str, batch: int, overrides: dict, memory_only: bool):
  _, _, compiled, state, data = compile_step(config_name, batch, overrides, memory_only)
  memory = benchmark.memory_analysis(compiled)['total_bytes']
  run = stepper(compiled, state, data)
  if not memory_only:
    run(1)
  return run, memory


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--config', default='mel_2bar.py')
  parser.add_argument('--batch_size', type=int, default=64)
  parser.add_argument('--variants', default='')
  parser.add_argument('--set', default='', help='overrides for every variant')
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--memory_only', action='store_true')
  args = parser.parse_args()
  sep = ';' if ';' in args.variants else ','
  common = parse_overrides(args.set)
  variants = {}
  for text in args.variants.split(sep):
    variants[text or '(defaults)'] = build(
        args.config, args.batch_size, {**common, **parse_overrides(text)},
        args.memory_only)
  times = {name: [] for name in variants}
  for _ in range(0 if args.memory_only else args.rounds):
    for name, (run, _) in variants.items():
      start = time.perf_counter()
      run(args.steps)
      times[name].append((time.perf_counter() - start) / args.steps)
  for name, (_, memory) in variants.items():
    line = f'{name:60s} XLA step memory {memory / 1e9:6.2f} GB'
    if times[name]:
      med, best = statistics.median(times[name]), min(times[name])
      line += (f'  median {args.batch_size / med:8.2f} seq/s'
               f'  best {args.batch_size / best:8.2f}')
    print(line, flush=True)


if __name__ == '__main__':
  main()
