"""Magenta's TF variable names <-> musicvae_jax parameters, both ways.

Magenta variable (TF)                                          ours
encoder/cell_k/bidirectional_rnn/{fw,bw}/multi_rnn_cell/
    cell_0/lstm_cell/{kernel,bias}                           encoder/layer_k/{fw,bw}
encoder/{mu,sigma}/{kernel,bias}                             encoder/{mu,sigma}
encoder/hierarchical_level_i/cell_k/bidirectional_rnn/...    encoder/level_i/layer_k/{fw,bw}
    (hier-*: Magenta's HierarchicalLstmEncoder)
decoder/multi_rnn_cell/cell_k/lstm_cell/*                    decoder/lstm/layer_k          (flat)
decoder/{z_to_initial_state,output_projection}/*             decoder/...                   (flat)
core_decoder_i/decoder/...                                   decoder/core_decoder_i/...
    (flat SplitMultiOutLstmDecoder: magenta.js' flat TrioConverter models)
decoder/hierarchical_level_0/cell_k/lstm_cell/*              conductor/lstm/layer_k        (hier)
decoder/hierarchical_level_0/initial_state/*                 conductor/z_to_initial_state  (hier)
core_decoder/decoder/multi_rnn_cell/cell_k/lstm_cell/*       core_decoder/lstm/layer_k     (hier)
core_decoder/decoder/{z_to_initial_state,output_projection}  core_decoder/...              (hier)
core_decoder/core_decoder_i/decoder/...                      core_decoder/core_decoder_i/...
    (hierdec-trio: one core decoder per instrument, SplitMultiOutLstmDecoder)
control_preprocessing/cell_0/bidirectional_rnn/{fw,bw}/...   decoder/control_preprocessing/{fw,bw}
    (flat decoders whose controls pass a bidirectional LSTM first: Magenta's
    BidirectionalLstmControlPreprocessingDecoder, magenta.js' multicontrol models)
decoder/nade/{w_enc [D, 1, H], w_dec_t [D, H, 1]}             decoder/nade/...              (NADE)
    (nade-drums_2bar_*: the output projection has H + D outputs, [b_enc | b_dec])

A TF LSTM `kernel [in + H, 4H]` is split into our `input_kernel` (rows
`:in`) and `recurrent_kernel` (rows `in:`); gate order (i, j, f, o) and the
run-time forget bias of 1.0 are the same on both sides, so no reordering is
needed; our models compute Magenta's function exactly for these configs.
`magenta_to_params` reads Magenta's (and magenta.js') names,
`params_to_magenta` writes them, `sizes_from_params` reads the layer sizes off
a converted tree. Only numpy here: `convert.py` (TF checkpoints -> workdir)
and `tfjs.py` (magenta.js folders) both build on this module.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

_ENC = re.compile(r'encoder/cell_(\d+)/bidirectional_rnn/(fw|bw)/multi_rnn_cell/'
                  r'cell_0/lstm_cell/(kernel|bias)$')
_HIER_ENC = re.compile(r'encoder/hierarchical_level_(\d+)/cell_(\d+)/bidirectional_rnn/'
                       r'(fw|bw)/multi_rnn_cell/cell_0/lstm_cell/(kernel|bias)$')
_FLAT_DEC = re.compile(r'decoder/multi_rnn_cell/cell_(\d+)/lstm_cell/(kernel|bias)$')
_CONTROL_PRE = re.compile(r'^control_preprocessing/cell_0/bidirectional_rnn/(fw|bw)/'
                          r'multi_rnn_cell/cell_0/lstm_cell/(kernel|bias)$')
_CONDUCTOR = re.compile(r'decoder/hierarchical_level_0/cell_(\d+)/lstm_cell/(kernel|bias)$')
_CORE = re.compile(r'core_decoder/decoder/multi_rnn_cell/cell_(\d+)/lstm_cell/'
                   r'(kernel|bias)$')
_SPLIT_CORE = re.compile(r'core_decoder/core_decoder_(\d+)/decoder/multi_rnn_cell/')
# A flat split decoder's core decoders sit at the top level (no 'core_decoder/').
_FLAT_SPLIT_CORE = re.compile(r'^core_decoder_(\d+)/decoder/multi_rnn_cell/')


class CheckpointMismatchError(ValueError):
  """The checkpoint does not fit the model (names a variable or a size)."""


# -- Magenta -> ours -------------------------------------------------------------

def _lstm(kernel: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
  units = bias.shape[0] // 4
  split = kernel.shape[0] - units
  return {'input_kernel': kernel[:split], 'recurrent_kernel': kernel[split:],
          'bias': bias}


def _dense(variables: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
  try:
    return {'kernel': variables[f'{prefix}/kernel'],
            'bias': variables[f'{prefix}/bias']}
  except KeyError as missing:
    raise CheckpointMismatchError(f'the checkpoint has no {missing.args[0]}') from None


def _stack(variables: dict[str, np.ndarray], pattern: re.Pattern) -> dict[str, Any]:
  cells: dict[int, dict[str, np.ndarray]] = {}
  for name, value in variables.items():
    m = pattern.search(name)
    if m:
      cells.setdefault(int(m.group(1)), {})[m.group(2)] = value
  return {f'layer_{k}': _lstm(cells[k]['kernel'], cells[k]['bias'])
          for k in sorted(cells)}


def is_hierarchical(variables: dict[str, np.ndarray]) -> bool:
  return any(_CONDUCTOR.search(n) for n in variables)


def _parts(variables: dict[str, np.ndarray], pattern: re.Pattern) -> int:
  found = {int(m.group(1)) for m in map(pattern.search, variables) if m}
  return max(found) + 1 if found else 0


def split_parts(variables: dict[str, np.ndarray]) -> int:
  """Number of per-instrument core decoders under a conductor (0: not a
  split decoder)."""
  return _parts(variables, _SPLIT_CORE)


def flat_split_parts(variables: dict[str, np.ndarray]) -> int:
  """Number of per-instrument core decoders without a conductor (0: none)."""
  return _parts(variables, _FLAT_SPLIT_CORE)


def _core_decoder(variables: dict[str, np.ndarray], scope: str) -> dict[str, Any]:
  pattern = re.compile('^' + re.escape(scope) + r'/decoder/multi_rnn_cell/cell_(\d+)/'
                       r'lstm_cell/(kernel|bias)$')
  return {
      'lstm': _stack(variables, pattern),
      'z_to_initial_state': _dense(variables, f'{scope}/decoder/z_to_initial_state'),
      'output_projection': _dense(variables, f'{scope}/decoder/output_projection'),
  }


def _hierarchical_encoder(variables: dict[str, np.ndarray]) -> dict[str, Any]:
  """`level_i/layer_k/{fw,bw}` from Magenta's HierarchicalLstmEncoder (or {})."""
  cells: dict[tuple[int, int, str], dict[str, np.ndarray]] = {}
  for name, value in variables.items():
    m = _HIER_ENC.search(name)
    if m:
      key = (int(m.group(1)), int(m.group(2)), m.group(3))
      cells.setdefault(key, {})[m.group(4)] = value
  encoder: dict[str, Any] = {}
  for (level, layer, direction), tensors in sorted(cells.items()):
    encoder.setdefault(f'level_{level}', {}).setdefault(f'layer_{layer}', {})[
        direction] = _lstm(tensors['kernel'], tensors['bias'])
  return encoder


def encoder_levels(params: dict[str, Any]) -> int:
  """Levels of a converted hierarchical encoder (0: a flat encoder)."""
  return len([k for k in params['encoder'] if k.startswith('level_')])


def magenta_to_params(variables: dict[str, np.ndarray]) -> dict[str, Any]:
  """Our parameter tree from Magenta's (optimizer slots already dropped)."""
  enc_cells: dict[tuple[int, str], dict[str, np.ndarray]] = {}
  for name, value in variables.items():
    m = _ENC.search(name)
    if m:
      enc_cells.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = value
  encoder: dict[str, Any] = _hierarchical_encoder(variables)
  if not enc_cells and not encoder:
    raise CheckpointMismatchError(
        'no encoder/cell_k/bidirectional_rnn variables: not a MusicVAE '
        'BidirectionalLstmEncoder checkpoint')
  for (layer, direction), tensors in sorted(enc_cells.items()):
    encoder.setdefault(f'layer_{layer}', {})[direction] = _lstm(
        tensors['kernel'], tensors['bias'])
  encoder['mu'] = _dense(variables, 'encoder/mu')
  encoder['sigma'] = _dense(variables, 'encoder/sigma')
  params: dict[str, Any] = {'encoder': encoder}
  if is_hierarchical(variables):
    params['conductor'] = {
        'lstm': _stack(variables, _CONDUCTOR),
        'z_to_initial_state': _dense(variables, 'decoder/hierarchical_level_0/initial_state'),
    }
    parts = split_parts(variables)
    if parts:
      params['core_decoder'] = {
          f'core_decoder_{k}': _core_decoder(variables, f'core_decoder/core_decoder_{k}')
          for k in range(parts)}
    else:
      params['core_decoder'] = {
          'lstm': _stack(variables, _CORE),
          'z_to_initial_state': _dense(variables, 'core_decoder/decoder/z_to_initial_state'),
          'output_projection': _dense(variables, 'core_decoder/decoder/output_projection'),
      }
  elif flat_split_parts(variables):
    params['decoder'] = {
        f'core_decoder_{k}': _core_decoder(variables, f'core_decoder_{k}')
        for k in range(flat_split_parts(variables))}
  else:
    params['decoder'] = {
        'lstm': _stack(variables, _FLAT_DEC),
        'z_to_initial_state': _dense(variables, 'decoder/z_to_initial_state'),
        'output_projection': _dense(variables, 'decoder/output_projection'),
    }
    pre: dict[str, dict[str, np.ndarray]] = {}
    for name, value in variables.items():
      m = _CONTROL_PRE.match(name)
      if m:
        pre.setdefault(m.group(1), {})[m.group(2)] = value
    if pre:
      params['decoder']['control_preprocessing'] = {
          d: _lstm(t['kernel'], t['bias']) for d, t in sorted(pre.items())}
    if 'decoder/nade/w_enc' in variables:   # MultiLabelRnnNadeDecoder
      params['decoder']['nade'] = {'w_enc': variables['decoder/nade/w_enc'],
                                   'w_dec_t': variables['decoder/nade/w_dec_t']}
  return params


def sizes_from_params(params: dict[str, Any]) -> dict[str, Any]:
  """Layer sizes read off the converted tree (Magenta hparam names)."""
  def units(stack):
    return [int(stack[f'layer_{k}']['bias'].shape[0] // 4) for k in range(len(stack))]

  def split_sizes(cores):
    return {
        'dec_rnn_size': units(cores['core_decoder_0']['lstm']),
        'output_depths': [int(cores[f'core_decoder_{k}']['output_projection']['bias'].shape[0])
                          for k in range(len(cores))],
    }

  enc = params['encoder']
  if 'level_0' in enc:  # hierarchical: every level has the same sizes
    enc = dict(enc['level_0'], mu=enc['mu'])
  n_enc = len([k for k in enc if k.startswith('layer_')])
  sizes = {
      'enc_rnn_size': [int(enc[f'layer_{k}']['fw']['bias'].shape[0] // 4)
                       for k in range(n_enc)],
      'z_size': int(enc['mu']['kernel'].shape[1]),
  }
  if 'conductor' in params and 'core_decoder_0' in params['core_decoder']:
    sizes.update(split_sizes(params['core_decoder']))
    sizes['conductor_rnn_size'] = units(params['conductor']['lstm'])
    sizes['output_depth'] = sum(sizes['output_depths'])
  elif 'conductor' in params:
    sizes['dec_rnn_size'] = units(params['core_decoder']['lstm'])
    sizes['conductor_rnn_size'] = units(params['conductor']['lstm'])
    sizes['output_depth'] = int(params['core_decoder']['output_projection']['bias'].shape[0])
  elif 'core_decoder_0' in params['decoder']:
    sizes.update(split_sizes(params['decoder']))
    sizes['output_depth'] = sum(sizes['output_depths'])
  else:
    sizes['dec_rnn_size'] = units(params['decoder']['lstm'])
    sizes['output_depth'] = int(params['decoder']['output_projection']['bias'].shape[0])
    if 'control_preprocessing' in params['decoder']:
      pre = params['decoder']['control_preprocessing']['fw']
      sizes['control_preprocessing_rnn_size'] = [int(pre['bias'].shape[0] // 4)]
    if 'nade' in params['decoder']:
      # NADE: the projection holds [b_enc (H) | b_dec (D)]; D drum classes.
      dims, _, hidden = params['decoder']['nade']['w_enc'].shape
      sizes['nade_num_hidden'] = int(hidden)
      sizes['output_depth'] = int(dims)
  return sizes


def compare_trees(ours: dict[str, Any], theirs: dict[str, Any], path: str = '') -> None:
  """Raises naming the first parameter whose presence or shape differs."""
  for key in sorted(set(ours) | set(theirs)):
    where = f'{path}/{key}' if path else key
    if key not in theirs:
      raise CheckpointMismatchError(f'the checkpoint lacks {where}')
    if key not in ours:
      raise CheckpointMismatchError(f'the model has no {where}')
    if isinstance(ours[key], dict):
      compare_trees(ours[key], theirs[key], where)
    elif tuple(ours[key].shape) != tuple(np.shape(theirs[key])):
      raise CheckpointMismatchError(
          f'{where}: model shape {tuple(ours[key].shape)}, checkpoint '
          f'shape {tuple(np.shape(theirs[key]))}')


# -- ours -> Magenta -------------------------------------------------------------

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


def _put_bidirectional(out: dict, layers: dict, prefix: str) -> None:
  """`layer_k/{fw,bw}` -> `{prefix}cell_k/bidirectional_rnn/{fw,bw}/...`."""
  for k in range(len(layers)):
    for direction in ('fw', 'bw'):
      kernel, bias = _tf_lstm(layers[f'layer_{k}'][direction])
      name = (f'{prefix}cell_{k}/bidirectional_rnn/{direction}/multi_rnn_cell/'
              'cell_0/lstm_cell/')
      out[name + 'kernel'], out[name + 'bias'] = kernel, bias


def params_to_magenta(params: dict) -> dict[str, np.ndarray]:
  """Magenta's TF variable names for our parameter tree (the inverse of
  `magenta_to_params`; raises CheckpointMismatchError for a tree it cannot
  write completely)."""
  out: dict[str, np.ndarray] = {}
  enc = params['encoder']
  levels = sorted(k for k in enc if k.startswith('level_'))
  layers = {k: v for k, v in enc.items() if k.startswith('layer_')}
  if levels:
    for i in range(len(levels)):
      level = {k: v for k, v in enc[f'level_{i}'].items() if k.startswith('layer_')}
      _put_bidirectional(out, level, f'encoder/hierarchical_level_{i}/')
  elif layers:
    _put_bidirectional(out, layers, 'encoder/')
  if not (levels or layers) or 'mu' not in enc:
    raise CheckpointMismatchError(
        'the model has no bidirectional LSTM encoder (encoder/layer_k/{fw,bw} '
        'or encoder/level_i/layer_k/{fw,bw}) with mu and sigma')
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
  elif 'core_decoder_0' in params['decoder']:
    cores = params['decoder']
    for k in range(len(cores)):
      _put_core(out, cores[f'core_decoder_{k}'], f'core_decoder_{k}/decoder')
  else:
    _put_core(out, params['decoder'], 'decoder')
    if 'control_preprocessing' in params['decoder']:
      _put_bidirectional(out, {'layer_0': params['decoder']['control_preprocessing']},
                         'control_preprocessing/')
    if 'nade' in params['decoder']:
      out['decoder/nade/w_enc'] = np.asarray(params['decoder']['nade']['w_enc'])
      out['decoder/nade/w_dec_t'] = np.asarray(params['decoder']['nade']['w_dec_t'])
  # Everything we read must have been written (no silent drops).
  compare_trees(magenta_to_params(out), params)
  return out
