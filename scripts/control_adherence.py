r"""Does a multicontrol model follow its controls? Measured on held-out data.

Takes the controls (chords, rhythm, shape, register) of held-out windows of
a multicontrol run, decodes z ~ N(0, I) under each at a temperature, and
scores the melodies against (musicvae_jax/control_adherence.py):

  followed   the controls they were decoded under;
  chance     another window's controls (the same decodes, the controls
             rolled by one window): what agreement no conditioning gives;
  data       the held-out melodies against their own controls (the ceiling:
             rhythm, shape and register agree exactly by construction).

  python scripts/control_adherence.py --workdir=runs/multicontrol \
      --output=out/adherence.json --markdown
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))

from musicvae_jax import control_adherence, input_pipeline  # noqa: E402
from musicvae_jax.trained_model import TrainedModel  # noqa: E402


def held_out_windows(model, count: int, seed: int) -> np.ndarray:
  """Up to `count` held-out windows `[n, T, 5]` of the run (seeded pick)."""
  if model.config.get('controls', '') != 'multicontrol':
    raise SystemExit(f'error: a run with config.controls={model.config.get("controls", "")!r}: '
                     'this needs a multicontrol run (configs/mel_2bar_multicontrol.py)')
  windows = np.asarray(input_pipeline.load(model.config, model.converter).eval_windows)
  if len(windows) > count:
    windows = windows[np.sort(np.random.default_rng(seed).choice(len(windows), count,
                                                                 replace=False))]
  return windows


def measure(model, windows: np.ndarray, temperature: float, seed: int) -> dict:
  tokens, controls = model.split_windows(windows)
  z = np.random.default_rng(seed).standard_normal(
      (len(windows), model.config.z_size)).astype(np.float32)
  decoded = model.decode_to_tensors(z, temperature=temperature, seed=seed, controls=controls)
  boundaries = model.converter.boundaries
  return {
      'followed': control_adherence.adherence(decoded, controls, boundaries),
      'chance': control_adherence.adherence(decoded, np.roll(controls, 1, axis=0), boundaries),
      'data': control_adherence.adherence(tokens, controls, boundaries),
  }


def markdown(report: dict) -> str:
  rows = ['| melodies, scored against | rhythm onset F1 | shape accuracy | register accuracy '
          '| chord-tone share | notes per window |', '|---|---|---|---|---|---|']
  names = {'followed': 'decoded, their own controls',
           'chance': 'decoded, another window\'s controls (chance)',
           'data': 'held-out melodies, their own controls'}
  for key, label in names.items():
    r = report['figures'][key]
    rows.append(f"| {label} | {r['rhythm']['f1']:.3f} | {r['shape_accuracy']:.3f} | "
                f"{r['register_accuracy']:.3f} | {r['chord_tone_share']:.3f} | "
                f"{r['notes_per_window']:.1f} |")
  return '\n'.join(rows)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--windows', type=int, default=256)
  parser.add_argument('--temperature', type=float, default=0.5)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--output', default='')
  parser.add_argument('--markdown', action='store_true')
  args = parser.parse_args(argv)
  model = TrainedModel.from_workdir(args.workdir)
  windows = held_out_windows(model, args.windows, args.seed)
  report = {'workdir': args.workdir, 'step': int(model.step), 'temperature': args.temperature,
            'seed': args.seed, 'windows': int(len(windows)),
            'figures': measure(model, windows, args.temperature, args.seed)}
  if args.output:
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1))
  print(markdown(report) if args.markdown else json.dumps(report, indent=1))


if __name__ == '__main__':
  main()
