"""Small pretrained models that ship with the package, trained by this project.

    import musicvae_jax
    musicvae_jax.list_pretrained()          # [Entry(name, description, folder), ...]
    model = musicvae_jax.TrainedModel.from_pretrained('NAME')   # offline
    python -m musicvae_jax.generate --model=NAME --mode=sample --output_dir=out

Each model is one folder `<registry>/<name>/` holding config.json,
params.msgpack (float16) and card.json (`files.py`); the human card with
samples is docs/pretrained/<name>.md. `scripts/make_pretrained.py` writes
both from a training run.

The registry: folders searched in order, the first holding a name wins:

  1. the `registry` argument of `list_pretrained` / `locate` /
     `TrainedModel.from_pretrained` (a folder or a list of folders), which
     replaces 2 and 3 when given;
  2. `$MUSICVAE_PRETRAINED_DIR` (one folder, or several joined by
     `os.pathsep`), searched before
  3. the package's own folder, `musicvae_jax/pretrained/`.

Nothing here imports JAX: listing is a directory scan and a JSON read per
model; `TrainedModel.from_pretrained` loads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple, Sequence

import ml_collections

from musicvae_jax.errors import UserError
from musicvae_jax.pretrained import files

ENV_VAR = 'MUSICVAE_PRETRAINED_DIR'
PACKAGE_DIR = Path(__file__).resolve().parent
# A model's name is its folder name: lower case, digits, '_' and '-'.
NAME_PATTERN = re.compile(r'[a-z0-9][a-z0-9_-]*')


class PretrainedError(UserError, ValueError):
  """An unknown pretrained model name, or one that cannot be used (one line)."""


class Entry(NamedTuple):
  """One pretrained model of the registry."""

  name: str
  description: str
  folder: Path


def search_path(registry: str | Path | Sequence[str | Path] | None = None
                ) -> list[Path]:
  """The folders searched for models, in order (see the module docstring)."""
  if registry is not None:
    roots = [registry] if isinstance(registry, (str, Path)) else list(registry)
    return [Path(r).expanduser() for r in roots]
  env = os.environ.get(ENV_VAR, '')
  return [Path(p).expanduser() for p in env.split(os.pathsep) if p] + [PACKAGE_DIR]


def is_model_folder(path: str | Path) -> bool:
  """True for a folder holding a pretrained model's card and params."""
  path = Path(path)
  return (path / files.CARD).is_file() and (path / files.PARAMS).is_file()


def list_pretrained(registry: str | Path | Sequence[str | Path] | None = None
                    ) -> list[Entry]:
  """Every pretrained model found, sorted by name (a name found in two
  folders: the first in the search path)."""
  found: dict[str, Entry] = {}
  for root in search_path(registry):
    if not root.is_dir():
      continue
    for folder in sorted(root.iterdir()):
      if folder.name in found or not NAME_PATTERN.fullmatch(folder.name):
        continue
      if is_model_folder(folder):
        card = files.read_card(folder)
        found[folder.name] = Entry(folder.name, str(card.get('description', '')), folder)
  return [found[name] for name in sorted(found)]


def locate(name: str, registry: str | Path | Sequence[str | Path] | None = None
           ) -> Path:
  """The folder of pretrained model `name`; a one-line error listing the
  names there are for an unknown one."""
  for entry in list_pretrained(registry):
    if entry.name == name:
      return entry.folder
  names = ', '.join(e.name for e in list_pretrained(registry))
  where = os.pathsep.join(str(p) for p in search_path(registry))
  choose = f'choose one of {names}' if names else 'none is installed'
  hint = f'; set {ENV_VAR} to add folders' if registry is None else ''
  raise PretrainedError(f'no pretrained model {name!r}: {choose} (searched {where}{hint})')


def ships_eval_data(config: ml_collections.ConfigDict) -> bool:
  """True when a model's own held-out data is at hand wherever it is
  installed: it was trained on the built-in folk corpus (no train_dir, no
  TFRecords, no eval_dir), whose eval tunes are rebuilt from music21."""
  return not (config.train_dir or config.eval_dir or config.train_examples_path
              or config.eval_examples_path)


def missing_data_reason(name: str, card: dict) -> str:
  """'pretrained model NAME was trained on DATA, which does not ship with
  it' (the start of a one-line refusal; the caller says what to pass)."""
  data = card.get('data', {}) or {}
  what = data.get('description') or data.get('train') or 'its own data'
  return f'pretrained model {name} was trained on {what}, which does not ship with it'
