"""Prints docs/configs.md's table of config fields from `config_base.py`'s comments.

  python scripts/config_table.py
"""

import re
from pathlib import Path

from musicvae_jax.config_base import base_config

SOURCE = Path(__file__).resolve().parents[1] / 'musicvae_jax' / 'config_base.py'


def field_docs() -> dict[str, str]:
  """Maps each `c.FIELD = ...`, in source order, to the comment right above it."""
  docs, comment = {}, []
  for line in SOURCE.read_text().splitlines():
    stripped = line.strip()
    if stripped.startswith('# ----') or not stripped:
      comment = []
    elif stripped.startswith('#'):
      comment.append(stripped.lstrip('#').strip())
    elif (m := re.match(r'c\.(\w+)\s*=', stripped)):
      docs[m.group(1)] = ' '.join(comment)
      comment = []
  return docs


def main() -> None:
  config = base_config()
  print('| field | default | meaning |')
  print('|---|---|---|')
  for key, doc in field_docs().items():
    value = config[key]
    print(f'| `{key}` | `{value!r}` | {doc.replace("|", "/")} |')


if __name__ == '__main__':
  main()
