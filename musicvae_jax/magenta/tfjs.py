"""magenta.js checkpoints: read them, and write ours in their format.

A magenta.js MusicVAE checkpoint is a folder (or URL) holding

  config.json            {"type": "MusicVAE", "dataConverter": {"type":
                         "MelodyConverter", "args": {"numSteps": 32, ...}}}
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
`convert.magenta_to_params`. Writing is the inverse (`params_to_magenta`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = 'weights_manifest.json'
CONFIG = 'config.json'
SHARD_BYTES = 4 * 1024 * 1024  # magenta-js' checkpoint_converter default
_QUANT = {'uint8': np.uint8, 'uint16': np.uint16}


class TfjsFormatError(ValueError):
  """A manifest or shard that does not read (names the file)."""


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


# DrumsConverter feeds the encoder the drum roll (9 class bits + "no hit"),
# DrumsOneHotConverter one-hots of the 512 class combinations.
_CONVERTERS = {'MelodyConverter': 'melody', 'DrumsConverter': 'drums',
               'DrumsOneHotConverter': 'drums', 'TrioConverter': 'trio'}


def config_from_spec(spec: dict, name: str = 'magenta.js'):
  """Our config (before the checkpoint's layer sizes) for a magenta.js
  `config.json`; raises naming the converter it cannot map."""
  from musicvae_jax import config_base
  converter = (spec.get('dataConverter') or {})
  kind = converter.get('type', '')
  if kind not in _CONVERTERS:
    raise TfjsFormatError(
        f'config.json dataConverter type {kind!r} is not supported; known: '
        f'{", ".join(sorted(_CONVERTERS))}')
  if spec.get('chordEncoder') or spec.get('extraControls') or spec.get('conditionOnKey'):
    raise TfjsFormatError('config.json asks for control inputs (chords, key or '
                          'extra controls), which the magenta.js reader does not map')
  args = converter.get('args') or {}
  encoding = _CONVERTERS[kind]
  segments = int(args.get('numSegments') or 0)
  base = {'melody': 'mel_2bar.py:small', 'drums': 'drums_2bar.py:small',
          'trio': 'trio_16bar.py:hierdec' if segments else 'trio_16bar.py:flat'}[encoding]
  config = config_base.load_config_file(base)
  steps_per_bar = 4 * config.steps_per_quarter
  num_steps = int(args.get('numSteps') or config_base.sequence_length(config))
  if num_steps % steps_per_bar:
    raise TfjsFormatError(f'config.json numSteps={num_steps} is not a whole '
                          f'number of {steps_per_bar}-step bars')
  config.slice_bars = num_steps // steps_per_bar
  config.use_hier = segments > 0
  if segments:
    config.n_subsequences = segments
  if encoding == 'melody':
    if (args.get('minPitch', 21), args.get('maxPitch', 108)) != (21, 108):
      raise TfjsFormatError('config.json melody pitch range '
                            f'{args.get("minPitch")}..{args.get("maxPitch")}: only 21..108 is supported')
    config.melody_programs = 'mel_2bar' if config.slice_bars <= 2 else 'all'
  if encoding == 'drums':
    config.drum_roll_input = kind == 'DrumsConverter'
  config.magenta_name = name
  return config


# -- writing -------------------------------------------------------------------

def _tf_lstm(layer: dict) -> tuple[np.ndarray, np.ndarray]:
  kernel = np.concatenate([np.asarray(layer['input_kernel']),
                           np.asarray(layer['recurrent_kernel'])], axis=0)
  return kernel, np.asarray(layer['bias'])


def _put_stack(out: dict, stack: dict, fmt: str) -> None:
  for k in range(len(stack)):
    kernel, bias = _tf_lstm(stack[f'layer_{k}'])
    out[fmt.format(k) + 'kernel'] = kernel
    out[fmt.format(k) + 'bias'] = bias


def _put_dense(out: dict, dense: dict, prefix: str) -> None:
  out[f'{prefix}/kernel'] = np.asarray(dense['kernel'])
  out[f'{prefix}/bias'] = np.asarray(dense['bias'])


def _put_core(out: dict, core: dict, scope: str) -> None:
  _put_stack(out, core['lstm'], f'{scope}/multi_rnn_cell/cell_{{}}/lstm_cell/')
  _put_dense(out, core['z_to_initial_state'], f'{scope}/z_to_initial_state')
  _put_dense(out, core['output_projection'], f'{scope}/output_projection')


def params_to_magenta(params: dict) -> dict[str, np.ndarray]:
  """Magenta's TF variable names for our parameter tree (the inverse of
  `convert.magenta_to_params`)."""
  from musicvae_jax.magenta import convert
  out: dict[str, np.ndarray] = {}
  enc = params['encoder']
  layers = sorted(k for k in enc if k.startswith('layer_'))
  if not layers or 'mu' not in enc:
    raise convert.CheckpointMismatchError(
        'the model has no bidirectional LSTM encoder (encoder/layer_k/{fw,bw}); '
        'magenta.js reads only that encoder')
  for k in range(len(layers)):
    for direction in ('fw', 'bw'):
      kernel, bias = _tf_lstm(enc[f'layer_{k}'][direction])
      prefix = (f'encoder/cell_{k}/bidirectional_rnn/{direction}/multi_rnn_cell/'
                'cell_0/lstm_cell/')
      out[prefix + 'kernel'], out[prefix + 'bias'] = kernel, bias
  _put_dense(out, enc['mu'], 'encoder/mu')
  _put_dense(out, enc['sigma'], 'encoder/sigma')
  if 'conductor' in params:
    _put_stack(out, params['conductor']['lstm'],
               'decoder/hierarchical_level_0/cell_{}/lstm_cell/')
    _put_dense(out, params['conductor']['z_to_initial_state'],
               'decoder/hierarchical_level_0/initial_state')
    cores = params['core_decoder']
    if 'core_decoder_0' in cores:
      for k in range(len(cores)):
        _put_core(out, cores[f'core_decoder_{k}'], f'core_decoder/core_decoder_{k}/decoder')
    else:
      _put_core(out, cores, 'core_decoder/decoder')
  else:
    _put_core(out, params['decoder'], 'decoder')
  # Everything we read must have been written (no silent drops).
  roundtrip = convert.magenta_to_params(out)
  convert.compare_trees(roundtrip, params)
  return out


def spec_from_config(config) -> dict:
  """magenta.js `config.json` for one of our configs."""
  from musicvae_jax import config_base
  if config.get('encoding', 'melody') not in ('melody', 'drums', 'trio'):
    raise ValueError(f'encoding {config.encoding!r} has no magenta.js data converter')
  if config.get('use_controls', False) or config.get('chord_controls', False):
    raise ValueError('control inputs (chords) are not exported to magenta.js')
  if config.get('encoder_embed_size', 0) or config.get('decoder_embed_size', 0):
    raise ValueError('token embeddings (encoder/decoder_embed_size > 0) do not '
                     'exist in magenta.js, which feeds one-hots')
  if float(config.get('forget_bias', 1.0)) != 1.0:
    raise ValueError('magenta.js runs its LSTMs with forget_bias 1.0; '
                     f'this model uses {config.forget_bias}')
  args: dict[str, Any] = {'numSteps': config_base.sequence_length(config)}
  if config.use_hier:
    args['numSegments'] = int(config.n_subsequences)
  melody = {'minPitch': 21, 'maxPitch': 108}
  if config.encoding == 'melody':
    kind = 'MelodyConverter'
    args.update(melody)
  elif config.encoding == 'drums':
    kind = 'DrumsConverter' if config.get('drum_roll_input', True) else 'DrumsOneHotConverter'
  else:
    kind = 'TrioConverter'
    args.update({'melArgs': dict(melody), 'bassArgs': dict(melody), 'drumsArgs': {}})
  return {'type': 'MusicVAE', 'dataConverter': {'type': kind, 'args': args}}


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


def export_workdir(workdir: str | Path, output_dir: str | Path,
                   quantization: str | None = None, best: bool = False) -> Path:
  """Writes a trained run as a magenta.js checkpoint folder; returns it."""
  from musicvae_jax.trained_model import TrainedModel
  import jax
  model = TrainedModel.from_workdir(workdir, best=best)
  spec = spec_from_config(model.config)
  variables = params_to_magenta(jax.tree.map(np.asarray, model.params))
  output_dir = Path(output_dir).expanduser()
  write_weights(variables, output_dir, quantization)
  (output_dir / CONFIG).write_text(json.dumps(spec, indent=1))
  return output_dir
