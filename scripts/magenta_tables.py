"""Writes the tables of docs/magenta.md ("Training with Magenta's flags") from
the code that applies them.

    python scripts/magenta_tables.py          # rewrites the tables in docs/magenta.md
    python scripts/magenta_tables.py --check  # exit 1 if either is stale

The hparams table comes from `musicvae_jax/magenta/hparams.HPARAMS`, the
flags table from `musicvae_jax/magenta/train_flags.FLAGS`; each sits between
its two marker comments. tests/test_magenta_train_flags.py checks both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicvae_jax.magenta import hparams, train_flags  # noqa: E402

DOC = ROOT / 'docs' / 'magenta.md'
TABLES = {
    'magenta-train-flags': train_flags.markdown_table,
    'magenta-hparams': hparams.markdown_table,
}


def markers(name: str) -> tuple[str, str]:
  return (f'<!-- {name}:start (python scripts/magenta_tables.py) -->',
          f'<!-- {name}:end -->')


def render(text: str) -> str:
  """`text` with each table between its markers written anew."""
  for name, table in TABLES.items():
    start, end = markers(name)
    head, found, rest = text.partition(start)
    if not found or end not in rest:
      raise SystemExit(f'{DOC}: markers for {name} not found')
    text = f'{head}{start}\n{table()}{end}{rest.partition(end)[2]}'
  return text


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--check', action='store_true',
                      help='exit 1 if docs/magenta.md is stale')
  args = parser.parse_args()
  text = DOC.read_text()
  new = render(text)
  if args.check:
    if new != text:
      print(f'{DOC} is stale: run python scripts/magenta_tables.py', file=sys.stderr)
      return 1
    return 0
  DOC.write_text(new)
  return 0


if __name__ == '__main__':
  sys.exit(main())
