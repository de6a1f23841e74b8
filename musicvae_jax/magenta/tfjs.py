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

config.json <-> our config: each family describes its own models
(`to_spec(config)` / `from_spec(spec)` in `families/<name>/magentajs.py`,
the family's `magentajs`, found through the family table). What magenta.js'
model.ts imposes on every family is `js_limits.py`. A family declares
`export_magentajs` unsupported for a config magenta.js cannot represent, and
`spec_from_config` then raises one line naming the config key, before
anything is written.

This module reads and writes folders only; exporting a trained run (which
loads it) is `magenta/export.py`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from musicvae_jax import family as family_lib
from musicvae_jax.magenta.params import params_to_magenta

MANIFEST = 'weights_manifest.json'
CONFIG = 'config.json'
SHARD_BYTES = 4 * 1024 * 1024  # magenta-js' checkpoint_converter default
_QUANT = {'uint8': np.uint8, 'uint16': np.uint16}

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

def spec_from_config(config) -> dict:
  """magenta.js `config.json` for one of our configs (the family's
  `magentajs.to_spec`); `UnsupportedCapabilityError` (a ValueError) naming the
  config key when the family declares that magenta.js cannot hold it."""
  return family_lib.require(config, 'export_magentajs').magentajs.to_spec(config)


def config_from_spec(spec: dict, name: str = 'magenta.js'):
  """Our config (before the checkpoint's layer sizes) for a magenta.js
  `config.json`; raises TfjsFormatError naming what it cannot map."""
  kind = (spec.get('dataConverter') or {}).get('type', '')
  if spec.get('conditionOnKey'):
    raise TfjsFormatError(f'config.json conditionOnKey={spec["conditionOnKey"]!r}: no '
                          'model here reads it')
  known = []
  for family in family_lib.FAMILIES:
    module = family_lib.get(family).magentajs
    known.extend(module.CONVERTERS)
    if kind not in module.CONVERTERS:
      continue
    try:
      config = module.from_spec(spec)
    except ValueError as error:
      raise TfjsFormatError(f'config.json: {error}') from None
    if config is not None:
      _check_boolean_decoder(spec, config, kind)
      config.magenta_name = name
      return config
  raise TfjsFormatError(f'config.json dataConverter type {kind!r} is not supported; '
                        f'known: {", ".join(sorted(known))}')


def _check_boolean_decoder(spec: dict, config, kind: str) -> None:
  """TfjsFormatError unless config.json's `useBooleanDecoder` says what the
  model's outputs are: bits (one logit per step, e.g. MelodyRhythmConverter)
  or not (the converter's `bits` declaration)."""
  boolean = bool(spec.get('useBooleanDecoder'))
  bits = bool(family_lib.get(config).make_converter(config).bits)
  if boolean and not bits:
    raise TfjsFormatError(f'config.json useBooleanDecoder=true: no model here reads a '
                          f'BooleanDecoder over a {kind}')
  if bits and not boolean:
    raise TfjsFormatError(f'config.json: a {kind} model needs useBooleanDecoder=true '
                          '(its decoder writes one logit per step)')


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
