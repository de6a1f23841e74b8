r"""Attribute vectors, measured: how much each vector moves each attribute.

The MusicVAE paper's figure (section 5.3): one vector per attribute from a
data set (mean mu of the top quarter minus the bottom quarter), applied to
encoded windows at a strength (z = mu + s * vector), decoded, and the
relative change of every attribute's mean against decoding mu itself.
All attributes come from the same windows and one encode of each
(musicvae_jax/attribute_effects.py).

  # the shipped folk model on the built-in folk corpus eval set:
  python scripts/attribute_figures.py --model=folk_mel_2bar \
      --output=docs/attribute_figures/folk_mel_2bar.json --quality_md=docs/quality.md
  # a run of your own, on a folder:
  python scripts/attribute_figures.py --workdir=runs/x --eval_dir=midi/ --output=out/a.json

`--quality_md` rewrites the section between the markers below in that file
(appending it the first time); the JSON keeps the matrices, the settings, the
machine and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicvae_jax import attribute_effects, attributes, evaluate, startup  # noqa: E402
from musicvae_jax.trained_model import TrainedModel  # noqa: E402

BEGIN = '<!-- attribute_figures:begin (scripts/attribute_figures.py writes this section) -->'
END = '<!-- attribute_figures:end -->'


def load(args) -> TrainedModel:
  if bool(args.model) == bool(args.workdir):
    raise SystemExit('pass one of --model=NAME (a pretrained model) or --workdir=DIR')
  return (TrainedModel.from_pretrained(args.model) if args.model
          else TrainedModel.from_workdir(args.workdir))


def section(result: dict) -> str:
  """The Markdown for docs/quality.md."""
  effects = result['effects']
  lines = [
      BEGIN,
      f"Measured {result['measured']} by `{result['command']}` "
      f"({result['wall_seconds']:.0f} s on {result['machine']}, load average "
      f"{' '.join(f'{x:.1f}' for x in result['load_before'])} before, "
      f"{' '.join(f'{x:.1f}' for x in result['load_after'])} after).",
      '',
      f"Model `{result['source']}`; vectors from {effects.windows} windows of "
      f"{result['data']} (one encode each, every attribute from the same windows, "
      f"top minus bottom quarter of mu); applied to {effects.applied} of them "
      f"(z = mu + s x vector), decoded at temperature {result['temperature']} with seed "
      f"{result['seed']}, the same for the base decodes of mu. Cell: relative change of "
      'the mean of the column\'s attribute over the decodes; the diagonal (bold) is '
      'each vector on its own attribute. n/a: the base mean is 0.',
      '',
      'Base decodes: ' + ', '.join(f'{n} {v:.3g}' for n, v in effects.base_means.items())
      + '; the data: ' + ', '.join(
          f'{n} {np.nanmean(v):.3g}' for n, v in effects.data_values.items()) + '.',
  ]
  for s in effects.strengths:
    lines += ['', f'Strength {s:+g}:', '', attribute_effects.markdown_table(effects, s)]
  lines.append(END)
  return '\n'.join(lines)


def write_section(path: Path, text: str, heading: str) -> None:
  """Replaces the marked section of `path`, or appends it under `heading`."""
  doc = path.read_text(encoding='utf-8')
  if BEGIN in doc and END in doc:
    start, stop = doc.index(BEGIN), doc.index(END) + len(END)
    doc = doc[:start] + text + doc[stop:]
  else:
    doc = doc.rstrip('\n') + f'\n\n{heading}\n\n{text}\n'
  path.write_text(doc, encoding='utf-8')


def main(argv: list[str]) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', default='', help='a pretrained model name')
  parser.add_argument('--workdir', default='', help='or a training run')
  parser.add_argument('--eval_dir', default=None,
                      help="MIDI folder for the vectors (default: the run's eval set)")
  parser.add_argument('--windows', type=int, default=512,
                      help='at most this many data windows (a seeded random choice)')
  parser.add_argument('--applied', type=int, default=64,
                      help='windows decoded with each vector and strength')
  parser.add_argument('--strengths', default='1,-1')
  parser.add_argument('--names', default=','.join(attributes.ATTRIBUTES),
                      help='attributes, comma-separated (default: all)')
  parser.add_argument('--temperature', type=float, default=0.5)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--output', required=True, help='JSON file')
  parser.add_argument('--quality_md', default='', help='rewrite its attribute section')
  args = parser.parse_args(argv)

  load_before, start = os.getloadavg(), time.time()
  model = load(args)
  data, where = evaluate.eval_windows(model.config, args.eval_dir, model.converter)
  windows = data.windows
  if len(windows) > args.windows:
    keep = np.random.default_rng(args.seed).choice(len(windows), args.windows, replace=False)
    windows = windows[np.sort(keep)]
  effects = attribute_effects.measure(
      model, windows, names=args.names.split(','),
      strengths=[float(s) for s in args.strengths.split(',')], applied=args.applied,
      temperature=args.temperature, seed=args.seed)
  result = {
      'command': 'python scripts/attribute_figures.py ' + ' '.join(argv),
      'source': args.model or args.workdir, 'data': where,
      'temperature': args.temperature, 'seed': args.seed,
      'machine': startup.machine_summary(), 'load_before': load_before,
      'load_after': os.getloadavg(), 'wall_seconds': time.time() - start,
      'measured': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
      'effects': effects,
  }
  Path(args.output).parent.mkdir(parents=True, exist_ok=True)
  Path(args.output).write_text(json.dumps({
      **{k: v for k, v in result.items() if k != 'effects'},
      'names': effects.names, 'windows': effects.windows, 'applied': effects.applied,
      'base_means': effects.base_means,
      'change': {str(s): [[None if np.isnan(x) else round(float(x), 4) for x in row]
                          for row in m] for s, m in effects.change.items()},
  }, indent=1) + '\n')
  text = section(result)
  print(text)
  if args.quality_md:
    write_section(Path(args.quality_md), text,
                  '## 4. Attribute vectors: how much each moves each attribute')
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main(sys.argv[1:])
