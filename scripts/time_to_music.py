r"""Time to music: how good a run gets against steps and wall minutes.

Trains (optionally) and then scores every checkpoint a run kept, on held-out
data, with the figures issue 25 asks for:

  teacher_forced   held-out token accuracy with teacher forcing (evaluate)
  greedy           accuracy of greedy decodes of z = mu (evaluate)
  silent_share     share of those greedy decodes holding no note
  onset_f1         note-start F1 of those greedy decodes
  samples          temperature-0.5 samples of z ~ N(0, I) (pretrained/stats.py):
                   note density, pitch range, in-scale share
  data             the same statistics of the held-out windows themselves

against the step and the training wall time up to it (TensorBoard event
times; evaluation during training included, as a user waits for it too).

  # Train the README's demo with its checkpoints kept, then measure it:
  python scripts/time_to_music.py --workdir=runs/ttm_demo --train \
      --config=mel_2bar:cpu --output=docs/time_to_music/demo.json
  # Measure a run that already kept its checkpoints (any overrides it used):
  python scripts/time_to_music.py --workdir=runs/folk_fb48 --output=out/fb48.json

`--train` passes `--config.keep_latest=1000` so no checkpoint is dropped; a
run trained without it is measured at the checkpoints it kept. Anything after
`--` goes to `musicvae_jax.train` unchanged (e.g. `-- --config.free_bits=48`).
The JSON holds one row per step plus the machine and load; `--markdown`
prints the table for docs/quality.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicvae_jax import checkpoints, evaluate, startup  # noqa: E402
from musicvae_jax.pretrained import run_record, stats  # noqa: E402
from musicvae_jax.trained_model import TrainedModel  # noqa: E402

# The bars issue 25 sets for the folk demo (held-out, greedy decodes).
TARGETS = {'greedy_accuracy': 0.80, 'onset_f1': 0.5, 'sample_stats_within': 0.20}


def train(workdir: str, config: str, extra: list[str]) -> float:
  """Runs `musicvae_jax.train` to the end; returns its wall seconds."""
  command = [sys.executable, '-m', 'musicvae_jax.train', f'--config={config}',
             f'--workdir={workdir}', '--config.keep_latest=1000', *extra]
  print(' '.join(command), flush=True)
  start = time.time()
  subprocess.run(command, check=True, cwd=ROOT,
                 env=dict(os.environ, PYTHONPATH=str(ROOT)))
  return time.time() - start


def data_statistics(model: TrainedModel, windows: np.ndarray, limit: int = 256) -> dict:
  """pretrained/stats.py's figures of held-out windows `[n, T, ...]`."""
  return stats.window_statistics(model.converter, windows, int(model.config.slice_bars), limit)


def score(workdir: str, step: int, eval_dir: str | None, max_batches: int,
          data: dict | None) -> tuple[dict[str, Any], dict | None]:
  """One row: the evaluate figures and sample statistics at `step`."""
  model = TrainedModel.from_workdir(workdir, step=step)
  report = evaluate.evaluate_model(model, eval_dir, num_samples_k=0, seeds=1,
                                   max_batches=max_batches, progress=False,
                                   label=workdir)
  if data is None:
    windows, _ = evaluate.eval_windows(model.config, eval_dir, model.converter)
    data = data_statistics(model, np.asarray(windows.windows))
  greedy = report.get('greedy', {})
  seconds = run_record.wall_seconds(workdir, step)
  row = {
      'step': step,
      'wall_minutes': None if seconds is None else round(seconds / 60, 2),
      'teacher_forced_accuracy': report.get('teacher_forced', {}).get('accuracy'),
      'greedy_accuracy': greedy.get('accuracy'),
      'greedy_silent_share': greedy.get('silent_share'),
      'onset_f1': (greedy.get('onset') or {}).get('f1'),
      'kl_per_sequence': report['kl_per_sequence'],
      'active_units': report['active_units'],
      'samples': stats.sample_statistics(model, n=32, seed=0, temperature=0.5),
  }
  return row, data


def within(sample: dict, data: dict, share: float) -> bool:
  """Every sample statistic within `share` (relative) of the data's."""
  for key in ('note_density', 'pitch_range', 'in_scale_share'):
    want, got = data.get(key), sample.get(key)
    if want is None or got is None or abs(got - want) > share * abs(want):
      return False
  return True


def markdown(result: dict) -> str:
  """The table for docs/quality.md."""
  data = result['data']
  lines = ['| step | wall min | teacher-forced acc | greedy acc | greedy silent | onset F1 '
           '| KL (nats) | active units | notes/bar | pitch range | in scale |',
           '|---|---|---|---|---|---|---|---|---|---|---|']
  fmt = lambda v, d=3: '-' if v is None else f'{v:.{d}f}'
  for r in result['rows']:
    s = r['samples']
    lines.append(
        f"| {r['step']} | {fmt(r['wall_minutes'], 1)} | {fmt(r['teacher_forced_accuracy'])} "
        f"| {fmt(r['greedy_accuracy'])} | {fmt(r['greedy_silent_share'], 2)} "
        f"| {fmt(r['onset_f1'])} | {fmt(r['kl_per_sequence'], 1)} | {r['active_units']} "
        f"| {fmt(s['note_density'], 2)} | {fmt(s['pitch_range'], 1)} "
        f"| {fmt(s['in_scale_share'], 2)} |")
  lines.append(f"| held-out data | | | | {fmt(data['silent_share'], 2)} | | | "
               f"| {fmt(data['note_density'], 2)} | {fmt(data['pitch_range'], 1)} "
               f"| {fmt(data['in_scale_share'], 2)} |")
  return '\n'.join(lines)


def first_reaching(rows: list[dict], data: dict) -> dict | None:
  """The first row that meets every TARGETS bar (None if none does)."""
  for r in rows:
    if ((r['greedy_accuracy'] or 0) >= TARGETS['greedy_accuracy']
        and (r['onset_f1'] or 0) >= TARGETS['onset_f1']
        and within(r['samples'], data, TARGETS['sample_stats_within'])):
      return r
  return None


def main(argv: list[str]) -> None:
  ours, _, extra = (argv[:argv.index('--')], None, argv[argv.index('--') + 1:]) \
      if '--' in argv else (argv, None, [])
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--train', action='store_true', help='train first (to the end)')
  parser.add_argument('--config', default='mel_2bar:cpu', help='with --train')
  parser.add_argument('--eval_dir', default=None,
                      help="held-out MIDI (default: the run's own eval set)")
  parser.add_argument('--max_batches', type=int, default=4,
                      help='held-out batches scored per checkpoint (0: all)')
  parser.add_argument('--output', required=True, help='JSON file')
  parser.add_argument('--markdown', action='store_true', help='print the table')
  args = parser.parse_args(ours)
  trained_seconds = train(args.workdir, args.config, extra) if args.train else None
  steps = checkpoints.Checkpointer(args.workdir, read_only=True,
                                   async_save=False).all_steps()
  rows, data = [], None
  for step in sorted(steps):
    row, data = score(args.workdir, step, args.eval_dir, args.max_batches, data)
    rows.append(row)
    print(json.dumps(row), flush=True)
  result = {
      'workdir': args.workdir, 'command': ' '.join(sys.argv),
      'config': json.loads(Path(args.workdir, 'config.json').read_text()),
      'machine': run_record.machines(args.workdir) or [startup.machine_summary()],
      'load_average_at_measurement': os.getloadavg(),
      'train_wall_seconds': trained_seconds, 'data': data, 'rows': rows,
      'targets': TARGETS, 'first_reaching_targets': first_reaching(rows, data),
      'measured': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
  }
  Path(args.output).parent.mkdir(parents=True, exist_ok=True)
  Path(args.output).write_text(json.dumps(result, indent=1) + '\n')
  if args.markdown:
    print(markdown(result))
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main(sys.argv[1:])
