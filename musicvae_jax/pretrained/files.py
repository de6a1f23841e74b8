"""The files of one pretrained model, `<registry>/<name>/` (no JAX, no orbax).

    config.json      the run's config, as `checkpoints.write_config` writes it
                     (`config_base.to_json`), with `cache_dir` blanked
    params.msgpack   `flax.serialization` msgpack of the params tree, float
                     leaves stored as float16 (bfloat16 where float16 cannot
                     hold a value: `params_codec.py`), read back as float32
    card.json        the machine-readable card: name, description, data,
                     config, training record, held-out figures, sample
                     statistics, float16 check and `params_sha256`, the
                     sha256 of params.msgpack (`scripts/make_pretrained.py`
                     writes it; CARD_KEYS lists the keys a card must have)

A few MB per model, read-only, loaded whole: no checkpoint manager.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import ml_collections

from musicvae_jax import config_base
from musicvae_jax.errors import UserError

CONFIG = 'config.json'
PARAMS = 'params.msgpack'
CARD = 'card.json'
FILES = (CONFIG, PARAMS, CARD)
# Version of the folder layout, `card['format']`.
FORMAT = 1
# What every card holds (read_card checks them; the loader reads name,
# params_sha256 and training.steps).
CARD_KEYS = ('format', 'name', 'description', 'data', 'config', 'training',
             'params', 'params_sha256', 'evaluation', 'float16_check',
             'sample_statistics')


class PretrainedFileError(UserError, ValueError):
  """A file of a pretrained model is missing, unreadable or inconsistent."""


def sha256(data: bytes) -> str:
  """Hex sha256 of `data` (the card's `params_sha256`)."""
  return hashlib.sha256(data).hexdigest()


def read_card(folder: str | Path) -> dict[str, Any]:
  """`folder/card.json` as a dict; one-line error naming the file."""
  path = Path(folder) / CARD
  try:
    card = json.loads(path.read_text(encoding='utf-8'))
  except FileNotFoundError:
    raise PretrainedFileError(f'{path}: no such file') from None
  except (ValueError, UnicodeDecodeError) as error:
    raise PretrainedFileError(f'{path}: not valid JSON ({error})') from None
  if not isinstance(card, dict):
    raise PretrainedFileError(f'{path}: not a pretrained model card (not a JSON object)')
  missing = [k for k in CARD_KEYS if k not in card]
  if missing:
    raise PretrainedFileError(f'{path}: not a whole pretrained model card '
                              f'(no {", ".join(missing)})')
  return card


def read_config(folder: str | Path) -> ml_collections.ConfigDict:
  """`folder/config.json` as a config (today's defaults under it)."""
  path = Path(folder) / CONFIG
  try:
    return config_base.from_json(path.read_text(encoding='utf-8'))
  except FileNotFoundError:
    raise PretrainedFileError(f'{path}: no such file') from None
  except (ValueError, UnicodeDecodeError, AttributeError, TypeError) as error:
    raise PretrainedFileError(f'{path}: not a valid config ({error})') from None


def read_params_bytes(folder: str | Path, card: dict[str, Any]) -> bytes:
  """The bytes of `folder/params.msgpack`, checked against the card's sha256."""
  path = Path(folder) / PARAMS
  try:
    data = path.read_bytes()
  except FileNotFoundError:
    raise PretrainedFileError(f'{path}: no such file') from None
  want, got = card.get('params_sha256', ''), sha256(data)
  if got != want:
    raise PretrainedFileError(
        f'{path}: sha256 {got[:16]}... does not match card.json '
        f'({str(want)[:16] or "none"}...): the file is damaged or was changed; '
        'reinstall the package or export the model again (scripts/make_pretrained.py)')
  return data


def write_folder(folder: str | Path, config: ml_collections.ConfigDict,
                 params_bytes: bytes, card: dict[str, Any]) -> Path:
  """Writes the three files into `folder` (created); `card` gets
  `params_sha256` and `format`. Returns the folder."""
  folder = Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  card = {**card, 'format': FORMAT, 'params_sha256': sha256(params_bytes)}
  missing = [k for k in CARD_KEYS if k not in card]
  if missing:
    raise PretrainedFileError(f'{folder / CARD}: the card lacks {", ".join(missing)}')
  (folder / PARAMS).write_bytes(params_bytes)
  (folder / CONFIG).write_text(config_base.to_json(config), encoding='utf-8')
  (folder / CARD).write_text(json.dumps(card, indent=2, sort_keys=True) + '\n',
                             encoding='utf-8')
  return folder
