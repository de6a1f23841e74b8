"""Where the jitted training step's wall time goes (issue 27 point 4).

  python scripts/profile_step.py                      # both targets, ~3-4 min quiet
  python scripts/profile_step.py --targets='mel_2bar.py@64' --out=/tmp/prof
  python scripts/profile_step.py --targets='hier.py@64@enc_rnn_sizes=(512,512),dec_rnn_sizes=(512,512),conductor_rnn_sizes=(512,512)'

`--targets` is a `;` list of `CONFIG@BATCH[@OVERRIDES]` (OVERRIDES as
benchmark_ab.py's `--set`: `field=value,...`). For each target, in one
process: build the train step exactly as benchmark.py / benchmark_ab.py do
(synthetic batch, `steps.jit_steps`), compile it, time it untraced (median
of `--windows` windows of about a second each), then run `--trace_steps`
steps under `jax.profiler.trace` and attribute every execution's wall time
to categories (`musicvae_jax/step_profile.py`: XLA:CPU's thunk runtime
records one trace event per executed thunk, named after its HLO
instruction): matmul, element-wise fusions, copies (stacking, transposes,
broadcasts, dynamic-update-slice), reductions, the optimizer, while-loop
overhead and gaps between thunks. The categories add up to the traced step.

Also printed: analytic FLOPs (`benchmark.analytic_flops`) and their rate
against the in-process `[4096, 4096]` matmul peak (`benchmark.matmul_peak`),
the matmuls by shape with their achieved GFLOP/s next to the chained-loop
ceiling of the same shape (`benchmark_limits.loop_rate`, for the
`--ceilings` in-loop shapes with the most time), every while loop's
per-iteration thunks by category and the copies XLA runs in it, and the top
thunks. `--out DIR` keeps report.md, profile.json, each target's optimized
HLO (`NAME.hlo.txt`) and its trace.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

import benchmark  # noqa: E402
import benchmark_ab  # noqa: E402
import benchmark_limits  # noqa: E402
from musicvae_jax import step_profile  # noqa: E402

HIER_512 = 'enc_rnn_sizes=(512,512),dec_rnn_sizes=(512,512),conductor_rnn_sizes=(512,512)'
DEFAULT_TARGETS = f'mel_2bar.py@64;hier.py@64@{HIER_512}'


def parse_targets(text: str) -> list[tuple[str, int, dict]]:
  """'a.py@64;b.py@8@x=1,y=(2,3)' -> [('a.py', 64, {}), ('b.py', 8, {...})]."""
  out = []
  for item in filter(None, (t.strip() for t in text.split(';'))):
    parts = item.split('@', 2)
    out.append((parts[0], int(parts[1]) if len(parts) > 1 else 64,
                benchmark_ab.parse_overrides(parts[2]) if len(parts) > 2 else {}))
  return out


def build_step(config_name: str, batch: int, overrides: dict):
  """(config, spec, compiled train step, state, batch) as benchmark_ab builds them."""
  return benchmark_ab.compile_step(config_name, batch, overrides)


def profile_target(config_name: str, batch: int, overrides: dict, *,
                   windows: int = 3, window_seconds: float = 1.0,
                   trace_steps: int = 2, trace_dir: str | None = None,
                   log=print) -> dict:
  """Times and traces one target's train step; returns the parsed HLO
  (`hlo`), the averaged attribution (`profile`, `step_profile.average` plus
  'runs'), the untraced `step_seconds`, `flops_analytic` (None where the
  config has no analytic count), `compile_seconds` and the HLO text."""
  start = time.perf_counter()
  config, spec, compiled, state, data = build_step(config_name, batch, overrides)
  compile_s = time.perf_counter() - start
  log(f'  compiled in {compile_s:.1f} s', flush=True)
  run = benchmark_ab.stepper(compiled, state, data)

  start = time.perf_counter()
  run(1)
  first = time.perf_counter() - start
  per_window = max(1, round(window_seconds / max(first, 1e-6)))
  times = benchmark.timed_windows(lambda: run(per_window), windows)
  step_s = statistics.median(times) / per_window
  log(f'  untraced step {1e3 * step_s:.1f} ms ({windows} windows of {per_window})',
      flush=True)
  folder = trace_dir or tempfile.mkdtemp(prefix='profile_step_')
  with jax.profiler.trace(folder):
    run(trace_steps)
  hlo_text = compiled.as_text()
  hlo = step_profile.parse_hlo(hlo_text)
  runs = step_profile.executions(step_profile.load_trace(folder),
                                 _module_name(hlo_text))
  if not runs:
    raise RuntimeError(f'no thunk events of the train step in {folder}: this '
                       'jax/XLA version may not trace thunks')
  prof = step_profile.average([step_profile.attribute(hlo, ev) for ev in runs.values()])
  prof['runs'] = len(runs)
  no_flops = benchmark.analytic_flops_unsupported(config)
  flops = None if no_flops else benchmark.analytic_flops(config, spec, batch)['train_step']
  return {'hlo': hlo, 'hlo_text': hlo_text, 'profile': prof, 'step_seconds': step_s,
          'flops_analytic': flops, 'compile_seconds': compile_s,
          'trace_dir': folder}


def _module_name(hlo_text: str) -> str:
  """'HloModule jit_train_step, ...' -> 'jit_train_step'."""
  first = hlo_text.split('\n', 1)[0]
  return first.split()[1].rstrip(',') if first.startswith('HloModule') else 'jit_train_step'


def ceilings_for(hlo, profile, count: int, steps_: int = 64) -> dict:
  """Chained-loop FLOP/s (`benchmark_limits.loop_rate`) of the `count`
  in-loop matmul shapes with the most time."""
  out = {}
  for row in step_profile.matmul_shapes(hlo, profile):
    if len(out) >= count:
      break
    if row['in_loop'] and row['mkn'] not in out:
      out[row['mkn']] = benchmark_limits.loop_rate(*row['mkn'], steps=steps_)
  return out


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--targets', default=DEFAULT_TARGETS)
  parser.add_argument('--windows', type=int, default=3)
  parser.add_argument('--window_seconds', type=float, default=1.0)
  parser.add_argument('--trace_steps', type=int, default=2)
  parser.add_argument('--ceilings', type=int, default=6,
                      help='in-loop matmul shapes to time as chained loops')
  parser.add_argument('--matmul_n', type=int, default=4096,
                      help='size of the peak matmul (0: skip the peak)')
  parser.add_argument('--top', type=int, default=15)
  parser.add_argument('--out', default='', help='folder for report.md, '
                      'profile.json, the HLO and the traces')
  args = parser.parse_args()
  out = Path(args.out) if args.out else None
  if out:
    out.mkdir(parents=True, exist_ok=True)
  results = []
  for name, batch, overrides in parse_targets(args.targets):
    tag = f"{Path(name.split(':')[0]).stem}_b{batch}" + ('_set' if overrides else '')
    print(f'{name} batch {batch} {overrides or ""}', flush=True)
    r = profile_target(name, batch, overrides, windows=args.windows,
                       window_seconds=args.window_seconds,
                       trace_steps=args.trace_steps,
                       trace_dir=str(out / f'trace_{tag}') if out else None)
    r.update(name=name, batch=batch, overrides=overrides, tag=tag)
    if out:
      (out / f'{tag}.hlo.txt').write_text(r['hlo_text'])
    results.append(r)
  peak = (benchmark.matmul_peak('float32', args.matmul_n)['flops_per_second']
          if args.matmul_n else None)
  machine = benchmark.machine_info()
  load = machine.get('load_average')
  report = [f'## Train step profile (jax {jax.__version__}, '
            f'{jax.devices()[0].platform}, {machine.get("cpu", "?")}, '
            f'{machine.get("cpu_count", "?")} cpus, load average '
            + (' / '.join(f'{x:.1f}' for x in load) if load else '?') + ')',
            '', f'Command: `{" ".join(sys.argv)}`', '',
            f'In-process matmul peak ([{args.matmul_n}]^2, f32): '
            + (f'{peak / 1e9:.1f} GFLOP/s' if peak else 'skipped'), '']
  dump = []
  for r in results:
    ceil = ceilings_for(r['hlo'], r['profile'], args.ceilings) if args.ceilings else {}
    title = f"{r['name']} batch {r['batch']}" + (
        f" ({', '.join(f'{k}={v}' for k, v in r['overrides'].items())})"
        if r['overrides'] else '')
    report.append(step_profile.format_report(
        title, r['hlo'], r['profile'], step_seconds=r['step_seconds'],
        flops_analytic=r['flops_analytic'], peak=peak, ceilings=ceil, top=args.top))
    dump.append({'name': r['name'], 'batch': r['batch'], 'overrides': r['overrides'],
                 'step_seconds': r['step_seconds'], 'compile_seconds': r['compile_seconds'],
                 'flops_analytic': r['flops_analytic'], 'peak': peak,
                 'traced_wall_us': r['profile']['wall_us'],
                 'categories_us': r['profile']['categories'],
                 'matmul_shapes': [{**m, 'mkn': list(m['mkn'])} for m in
                                   step_profile.matmul_shapes(r['hlo'], r['profile'])],
                 'ceilings': {'x'.join(map(str, k)): v for k, v in ceil.items()},
                 'loops': step_profile.loops(r['hlo'], r['profile'])})
  text = '\n'.join(report)
  print(text, flush=True)
  if out:
    (out / 'report.md').write_text(text)
    (out / 'profile.json').write_text(json.dumps(dump, indent=1, default=str))
    print(f'wrote {out}/report.md, profile.json, *.hlo.txt, trace_*/')


if __name__ == '__main__':
  main()
