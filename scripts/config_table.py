"""Prints docs/configs.md's table of config fields from `config_base.py`'s comments.

  python scripts/config_table.py
"""

import re
from pathlib import Path

from musicvae_jax.config_base import base_config

SOURCE = Path(__file__).resolve().parents[1] / 'musicvae_jax' / 'config_base.py'


def field_docs() -> dict[str, str]:
  """Maps each `c.FIELD = ...` to the comment right above it (a later
  assignment without one keeps the first's)."""
  docs, comment = {}, []
  for line in SOURCE.read_text().splitlines():
    stripped = line.strip()
    if stripped.startswith('# ----') or not stripped:
      comment = []
    elif stripped.startswith('#'):
      comment.append(stripped.lstrip('#').strip())
    elif (m := re.match(r'c\.(\w+)\s*=', stripped)):
      if comment or m.group(1) not in docs:   # helpers below base_config set fields again
        docs[m.group(1)] = ' '.join(comment) or docs.get(m.group(1), '')
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
