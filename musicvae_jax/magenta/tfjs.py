"""magenta.js checkpoints: read them, and write ours in their format.

A magenta.js MusicVAE checkpoint is a folder (or URL) holding

  config.json            {"type": "MusicVAE", "dataConverter": {"type":
                         "MelodyConverter", "args": {"numSteps": 32, ...}},
                         optional "chordEncoder", "extraControls"}
  weights_manifest.json  TF.js weights manifest: [{"paths": [shard files],
                         "weights": [{"name", "shape", "dtype": "float32",
                         optional "quantization": {"dtype": "uint8" |
                         "uint16" | "float16", "min", "scale"}}]}]
  group1-shard1ofN ...   the weights, little-endian, concatenated in manifest
                         order across each group's shards

The variable names are Magenta's TF names (magenta-js
music/src/music_vae/model.ts reads `encoder/mu/kernel`,
`decoder/multi_rnn_cell/cell_0/lstm_cell/kernel`, ...), so reading one gives
the same `{name: array}` as `tf_bundle.read_checkpoint` and goes through
`params.magenta_to_params`. Writing is the inverse (`params.params_to_magenta`).

config.json <-> our config: each output family describes its own models
(`to_spec(config)` / `from_spec(spec)` in `families/<family>/magentajs.py`,
found through `SPEC_MODULES` by `config.output_family`). What magenta.js'
model.ts imposes on every family is checked here: a flat encoder of exactly
one bidirectional layer (a hierarchical one: one layer per level) and LSTMs
with forget bias 1.0. A config option magenta.js cannot represent makes
`spec_from_config` raise ValueError naming the config key, before anything
is written.

This module reads and writes folders only; exporting a trained run (which
loads it) is `magenta/export.py`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from musicvae_jax.magenta.params import params_to_magenta

MANIFEST = 'weights_manifest.json'
CONFIG = 'config.json'
SHARD_BYTES = 4 * 1024 * 1024  # magenta-js' checkpoint_converter default
_QUANT = {'uint8': np.uint8, 'uint16': np.uint16}

# config.output_family -> the module with its magenta.js `to_spec` /
# `from_spec` (and `CONVERTERS`, the dataConverter types it reads). One
# explicit table, imported on use; the family table will replace it.
SPEC_MODULES: dict[str, str] = {
    'categorical': 'musicvae_jax.families.categorical.magentajs',
    'groove': 'musicvae_jax.families.groove.magentajs',
    'nade': 'musicvae_jax.families.nade.magentajs',
}


class TfjsFormatError(ValueError):
  """A manifest or shard that does not read (names the file), or a
  config.json we cannot map."""


def is_tfjs_checkpoint(path: str | Path) -> bool:
  path = Path(path).expanduser()
  return path.is_dir() and (path / MANIFEST).is_file()


# -- reading -----------------------------------------------------------------

def _dequantize(raw: bytes, spec: dict, where: str) -> np.ndarray:
  shape = [int(d) for d in spec['shape']]
  count = int(np.prod(shape)) if shape else 1
  quant = spec.get('quantization')
  if quant:
    qtype = quant['dtype']
    if qtype == 'float16':
      values = np.frombuffer(raw, '<f2', count).astype(np.float32)
    elif qtype in _QUANT:
      q = np.frombuffer(raw, np.dtype(_QUANT[qtype]).newbyteorder('<'), count)
      values = (q.astype(np.float32) * np.float32(quant['scale'])
                + np.float32(quant['min']))
    else:
      raise TfjsFormatError(f'{where}: unsupported quantization dtype {qtype!r}')
  elif spec.get('dtype', 'float32') == 'float32':
    values = np.frombuffer(raw, '<f4', count)
  elif spec['dtype'] == 'int32':
    values = np.frombuffer(raw, '<i4', count)
  else:
    raise TfjsFormatError(f'{where}: unsupported dtype {spec["dtype"]!r}')
  return values.reshape(shape).copy()


def _byte_size(spec: dict) -> int:
  shape = [int(d) for d in spec['shape']]
  count = int(np.prod(shape)) if shape else 1
  quant = spec.get('quantization')
  if quant:
    return count * {'uint8': 1, 'uint16': 2, 'float16': 2}.get(quant['dtype'], 4)
  return count * 4


def read_weights(folder: str | Path) -> dict[str, np.ndarray]:
  """`{name: float32 array}` of a TF.js weights manifest and its shards."""
  folder = Path(folder).expanduser()
  try:
    manifest = json.loads((folder / MANIFEST).read_text())
  except (OSError, json.JSONDecodeError) as error:
    raise TfjsFormatError(f'{folder / MANIFEST}: {error}') from None
  variables: dict[str, np.ndarray] = {}
  for group in manifest:
    data = bytearray()
    for name in group['paths']:
      shard = folder / name
      if not shard.is_file():
        raise TfjsFormatError(f'{shard}: weight shard named in {MANIFEST} is missing')
      data += shard.read_bytes()
    offset = 0
    for spec in group['weights']:
      size = _byte_size(spec)
      if offset + size > len(data):
        raise TfjsFormatError(
            f'{folder / MANIFEST}: {spec["name"]} needs bytes {offset}..'
            f'{offset + size} but the shards of its group hold {len(data)}')
      variables[spec['name']] = _dequantize(bytes(data[offset:offset + size]),
                                            spec, str(folder / MANIFEST))
      offset += size
  return variables


def read_checkpoint(folder: str | Path) -> tuple[dict[str, np.ndarray], dict]:
  """(variables, config.json as a dict) of a magenta.js checkpoint folder."""
  folder = Path(folder).expanduser()
  spec: dict[str, Any] = {}
  if (folder / CONFIG).is_file():
    spec = json.loads((folder / CONFIG).read_text())
    if spec.get('type', 'MusicVAE') != 'MusicVAE':
      raise TfjsFormatError(f'{folder / CONFIG}: type {spec.get("type")!r}, '
                            'expected "MusicVAE"')
  return read_weights(folder), spec


# -- config.json ---------------------------------------------------------------

def spec_module(family: str):
  """The `magentajs` module of output family `family`."""
  name = SPEC_MODULES[family]
  package = Path(__file__).resolve().parents[1]
  if name in sys.modules or not (package / 'families.py').is_file():
    return importlib.import_module(name)
  # Until the families/ folder is a package, the module families.py hides it
  # from the import system: load the file itself, under its module name.
  path = package.joinpath(*name.split('.')[1:]).with_suffix('.py')
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  return module


def spec_from_config(config) -> dict:
  """magenta.js `config.json` for one of our configs; ValueError naming the
  config key when magenta.js cannot represent the model."""
  family = config.get('output_family', 'categorical') or 'categorical'
  if family not in SPEC_MODULES:
    raise ValueError(f'config.output_family={family!r}: magenta.js has no such '
                     f'model (it reads {", ".join(sorted(SPEC_MODULES))})')
  sizes = tuple(config.enc_rnn_sizes)
  if len(sizes) != 1:
    raise ValueError(f'config.enc_rnn_sizes={sizes}: magenta.js reads an encoder of '
                     'exactly one bidirectional layer (per level)')
  if float(config.get('forget_bias', 1.0)) != 1.0:
    raise ValueError(f'config.forget_bias={config.forget_bias}: magenta.js runs its '
                     'LSTMs with forget bias 1.0')
  return spec_module(family).to_spec(config)


def config_from_spec(spec: dict, name: str = 'magenta.js'):
  """Our config (before the checkpoint's layer sizes) for a magenta.js
  `config.json`; raises TfjsFormatError naming what it cannot map."""
  kind = (spec.get('dataConverter') or {}).get('type', '')
  for key in ('useBooleanDecoder', 'conditionOnKey'):
    if spec.get(key):
      raise TfjsFormatError(f'config.json {key}={spec[key]!r}: no model here reads it')
  known = []
  for family in SPEC_MODULES:
    module = spec_module(family)
    known.extend(module.CONVERTERS)
    if kind not in module.CONVERTERS:
      continue
    try:
      config = module.from_spec(spec)
    except ValueError as error:
      raise TfjsFormatError(f'config.json: {error}') from None
    if config is not None:
      config.magenta_name = name
      return config
  raise TfjsFormatError(f'config.json dataConverter type {kind!r} is not supported; '
                        f'known: {", ".join(sorted(known))}')


# -- writing -------------------------------------------------------------------

def _quantize(values: np.ndarray, dtype: str) -> tuple[np.ndarray, dict]:
  """tfjs' affine quantization: q = round((v - min) / scale), q in [0, 2^n - 1]."""
  qtype = _QUANT[dtype]
  top = np.iinfo(qtype).max
  low, high = float(values.min()), float(values.max())
  scale = (high - low) / top if high > low else 1.0
  q = np.round((values - low) / scale).clip(0, top).astype(qtype)
  return q, {'dtype': dtype, 'min': low, 'scale': scale}


def write_weights(variables: dict[str, np.ndarray], folder: str | Path,
                  quantization: str | None = None,
                  shard_bytes: int = SHARD_BYTES) -> dict:
  """Writes one manifest group of `variables` (sorted by name) in shards of at
  most `shard_bytes`; `quantization` None, 'uint8' or 'uint16'. Returns the
  manifest."""
  folder = Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  specs, blobs = [], []
  for name in sorted(variables):
    values = np.asarray(variables[name], np.float32)
    spec: dict[str, Any] = {'name': name, 'shape': list(values.shape), 'dtype': 'float32'}
    if quantization:
      q, spec['quantization'] = _quantize(values, quantization)
      blobs.append(q.astype(q.dtype.newbyteorder('<')).tobytes())
    else:
      blobs.append(values.astype('<f4').tobytes())
    specs.append(spec)
  data = b''.join(blobs)
  count = max(1, math.ceil(len(data) / shard_bytes))
  paths = [f'group1-shard{i + 1}of{count}' for i in range(count)]
  for i, path in enumerate(paths):
    (folder / path).write_bytes(data[i * shard_bytes:(i + 1) * shard_bytes])
  manifest = [{'paths': paths, 'weights': specs}]
  (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
  return manifest


def write_checkpoint(config, params: dict, output_dir: str | Path,
                     quantization: str | None = None) -> Path:
  """Writes a magenta.js checkpoint folder (config.json + weights) of a model
  given as our config and its numpy parameter tree; returns the folder.
  Raises ValueError (naming the config key) before writing anything when
  magenta.js cannot represent the model."""
  spec = spec_from_config(config)
  variables = params_to_magenta(params)
  output_dir = Path(output_dir).expanduser()
  write_weights(variables, output_dir, quantization)
  (output_dir / CONFIG).write_text(json.dumps(spec, indent=1))
  return output_dir
