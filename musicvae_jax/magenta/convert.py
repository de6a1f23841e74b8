"""Map Magenta MusicVAE checkpoints onto musicvae_jax parameters.

Magenta variable (TF)                                          ours
encoder/cell_k/bidirectional_rnn/{fw,bw}/multi_rnn_cell/
    cell_0/lstm_cell/{kernel,bias}                           encoder/layer_k/{fw,bw}
encoder/{mu,sigma}/{kernel,bias}                             encoder/{mu,sigma}
encoder/hierarchical_level_i/cell_k/bidirectional_rnn/...    encoder/level_i/layer_k/{fw,bw}
    (hier-*: Magenta's HierarchicalLstmEncoder)
decoder/multi_rnn_cell/cell_k/lstm_cell/*                    decoder/lstm/layer_k          (flat)
decoder/{z_to_initial_state,output_projection}/*             decoder/...                   (flat)
decoder/hierarchical_level_0/cell_k/lstm_cell/*              conductor/lstm/layer_k        (hier)
decoder/hierarchical_level_0/initial_state/*                 conductor/z_to_initial_state  (hier)
core_decoder/decoder/multi_rnn_cell/cell_k/lstm_cell/*       core_decoder/lstm/layer_k     (hier)
core_decoder/decoder/{z_to_initial_state,output_projection}  core_decoder/...              (hier)
core_decoder/core_decoder_i/decoder/...                      core_decoder/core_decoder_i/...
    (hierdec-trio: one core decoder per instrument, SplitMultiOutLstmDecoder)
decoder/nade/{w_enc [D, 1, H], w_dec_t [D, H, 1]}             decoder/nade/...              (NADE)
    (nade-drums_2bar_*: the output projection has H + D outputs, [b_enc | b_dec])

A TF LSTM `kernel [in + H, 4H]` is split into our `input_kernel` (rows
`:in`) and `recurrent_kernel` (rows `in:`); gate order (i, j, f, o) and the
run-time forget bias of 1.0 are the same on both sides, so no reordering is
needed. Our models compute Magenta's function exactly for these configs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

_ENC = re.compile(r'encoder/cell_(\d+)/bidirectional_rnn/(fw|bw)/multi_rnn_cell/'
                  r'cell_0/lstm_cell/(kernel|bias)$')
_HIER_ENC = re.compile(r'encoder/hierarchical_level_(\d+)/cell_(\d+)/bidirectional_rnn/'
                       r'(fw|bw)/multi_rnn_cell/cell_0/lstm_cell/(kernel|bias)$')
_FLAT_DEC = re.compile(r'decoder/multi_rnn_cell/cell_(\d+)/lstm_cell/(kernel|bias)$')
_CONDUCTOR = re.compile(r'decoder/hierarchical_level_0/cell_(\d+)/lstm_cell/(kernel|bias)$')
_CORE = re.compile(r'core_decoder/decoder/multi_rnn_cell/cell_(\d+)/lstm_cell/'
                   r'(kernel|bias)$')
_SPLIT_CORE = re.compile(r'core_decoder/core_decoder_(\d+)/decoder/multi_rnn_cell/')


class CheckpointMismatchError(ValueError):
  """The checkpoint does not fit the model (names a variable or a size)."""


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


def split_parts(variables: dict[str, np.ndarray]) -> int:
  """Number of per-instrument core decoders (0: not a split decoder)."""
  found = {int(m.group(1)) for m in map(_SPLIT_CORE.search, variables) if m}
  return max(found) + 1 if found else 0


def _core_decoder(variables: dict[str, np.ndarray], scope: str) -> dict[str, Any]:
  pattern = re.compile(re.escape(scope) + r'/decoder/multi_rnn_cell/cell_(\d+)/'
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
  else:
    params['decoder'] = {
        'lstm': _stack(variables, _FLAT_DEC),
        'z_to_initial_state': _dense(variables, 'decoder/z_to_initial_state'),
        'output_projection': _dense(variables, 'decoder/output_projection'),
    }
    if 'decoder/nade/w_enc' in variables:   # MultiLabelRnnNadeDecoder
      params['decoder']['nade'] = {'w_enc': variables['decoder/nade/w_enc'],
                                   'w_dec_t': variables['decoder/nade/w_dec_t']}
  return params


def sizes_from_params(params: dict[str, Any]) -> dict[str, Any]:
  """Layer sizes read off the converted tree (Magenta hparam names)."""
  def units(stack):
    return [int(stack[f'layer_{k}']['bias'].shape[0] // 4) for k in range(len(stack))]

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
    cores = params['core_decoder']
    sizes['dec_rnn_size'] = units(cores['core_decoder_0']['lstm'])
    sizes['conductor_rnn_size'] = units(params['conductor']['lstm'])
    sizes['output_depths'] = [int(cores[f'core_decoder_{k}']['output_projection']['bias'].shape[0])
                              for k in range(len(cores))]
    sizes['output_depth'] = sum(sizes['output_depths'])
  elif 'conductor' in params:
    sizes['dec_rnn_size'] = units(params['core_decoder']['lstm'])
    sizes['conductor_rnn_size'] = units(params['conductor']['lstm'])
    sizes['output_depth'] = int(params['core_decoder']['output_projection']['bias'].shape[0])
  else:
    sizes['dec_rnn_size'] = units(params['decoder']['lstm'])
    sizes['output_depth'] = int(params['decoder']['output_projection']['bias'].shape[0])
    if 'nade' in params['decoder']:
      # NADE: the projection holds [b_enc (H) | b_dec (D)]; D drum classes.
      dims, _, hidden = params['decoder']['nade']['w_enc'].shape
      sizes['nade_num_hidden'] = int(hidden)
      sizes['output_depth'] = int(dims)
  return sizes


def parse_hparams(text: str) -> dict[str, Any]:
  """Magenta's `--hparams` string: 'z_size=32,enc_rnn_size=[128],...'."""
  out: dict[str, Any] = {}
  for key, value in re.findall(r'(\w+)=(\[[^\]]*\]|[^,]+)', text or ''):
    value = value.strip()
    if value.startswith('['):
      out[key] = [int(v) for v in value[1:-1].split(',') if v.strip()]
    else:
      try:
        out[key] = int(value)
      except ValueError:
        try:
          out[key] = float(value)
        except ValueError:
          out[key] = value
  return out


def check_against_hparams(sizes: dict[str, Any], hparams: dict[str, Any]) -> None:
  """Raises if a size given on the command line disagrees with the checkpoint."""
  for key in ('enc_rnn_size', 'dec_rnn_size', 'z_size', 'nade_num_hidden'):
    if key in hparams and key in sizes and hparams[key] != sizes[key]:
      raise CheckpointMismatchError(
          f'hparams {key}={hparams[key]} but the checkpoint holds {sizes[key]}')


def apply_sizes(config, sizes: dict[str, Any]) -> None:
  """Writes the checkpoint's sizes into our config (in place)."""
  config.enc_rnn_sizes = tuple(sizes['enc_rnn_size'])
  config.dec_rnn_sizes = tuple(sizes['dec_rnn_size'])
  config.z_size = sizes['z_size']
  if 'conductor_rnn_size' in sizes:
    config.use_hier = True
    config.conductor_rnn_sizes = tuple(sizes['conductor_rnn_size'])
  config.split_decoder = 'output_depths' in sizes
  if 'nade_num_hidden' in sizes:
    config.nade_num_hidden = sizes['nade_num_hidden']


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


def magenta_configs() -> dict[str, str]:
  """Magenta config name -> our config spec (`FILE.py:VARIANT`), from every
  family's `magenta_configs` (family.py)."""
  from musicvae_jax import family as family_lib
  out: dict[str, str] = {}
  for name in family_lib.FAMILIES:
    out.update(family_lib.get(name).magenta_configs)
  return out


def config_for(magenta_name: str, config_spec: str | None = None):
  """Our config matching a Magenta config name (before the checkpoint's sizes)."""
  from musicvae_jax import config_base
  if config_spec is None:
    if not magenta_name:
      raise ValueError('--magenta_config is needed for a TF checkpoint (a '
                       'magenta.js folder names its model in config.json)')
    known = magenta_configs()
    if magenta_name not in known:
      raise ValueError(f'--magenta_config={magenta_name!r} is not supported; '
                       f'known: {", ".join(sorted(known))}')
    config_spec = known[magenta_name]
  config = config_base.load_config_file(config_spec)
  config.magenta_name = magenta_name
  return config


def convert_checkpoint(magenta_name: str, checkpoint: str, workdir: str,
                       hparams: str = '', config_spec: str | None = None):
  """Reads a Magenta checkpoint and writes a musicvae_jax workdir. Returns it."""
  import jax
  import jax.numpy as jnp

  from musicvae_jax import checkpoints, config_base, steps
  from musicvae_jax import family as family_lib
  from musicvae_jax.magenta import tf_bundle

  from musicvae_jax.magenta import tfjs
  source, js_spec = Path(checkpoint).expanduser(), None
  if tfjs.is_tfjs_checkpoint(source):  # magenta.js: config.json + TF.js weights
    variables, js_spec = tfjs.read_checkpoint(source)
  else:
    variables = tf_bundle.read_checkpoint(source, skip_optimizer=True)
  global_step = int(variables.pop('global_step', 0) or 0)
  params = magenta_to_params(variables)
  sizes = sizes_from_params(params)
  check_against_hparams(sizes, parse_hparams(hparams))
  if js_spec is not None and not magenta_name and config_spec is None:
    config = tfjs.config_from_spec(js_spec, f'magenta.js:{source.name}')
  else:
    config = config_for(magenta_name, config_spec)
  if config.use_hier != ('conductor_rnn_size' in sizes):
    kind = 'hierarchical' if 'conductor_rnn_size' in sizes else 'flat'
    raise CheckpointMismatchError(
        f'{checkpoint} holds a {kind} decoder but {magenta_name} expects '
        f'{"a hierarchical" if config.use_hier else "a flat"} one')
  if config.get('split_decoder', False) != ('output_depths' in sizes):
    raise CheckpointMismatchError(
        f'{checkpoint} holds {"one core decoder per instrument" if "output_depths" in sizes else "a single core decoder"} '
        f'but {magenta_name} expects {"one per instrument" if config.get("split_decoder", False) else "a single one"}')
  levels = encoder_levels(params)
  if bool(levels) != bool(config.get('encoder_levels', ())):
    raise CheckpointMismatchError(
        f'{checkpoint} holds a {"hierarchical" if levels else "flat"} encoder but '
        f'{magenta_name} expects {"a hierarchical" if config.get("encoder_levels", ()) else "a flat"} one')
  if levels and levels != len(config.encoder_levels):
    raise CheckpointMismatchError(
        f'{checkpoint} holds a {levels}-level encoder but config.encoder_levels='
        f'{tuple(config.encoder_levels)} has {len(config.encoder_levels)} levels')
  if ('nade_num_hidden' in sizes) != (config.get('output_family', '') == 'nade'):
    raise CheckpointMismatchError(
        f'{checkpoint} holds {"a NADE" if "nade_num_hidden" in sizes else "a softmax"} '
        f'decoder but {magenta_name} expects '
        f'{"a NADE" if config.get("output_family", "") == "nade" else "a softmax"} one')
  apply_sizes(config, sizes)
  extra = parse_hparams(hparams)
  for ours, theirs in (('batch_size', 'batch_size'), ('free_bits', 'free_bits'),
                       ('max_beta', 'max_beta'), ('beta_rate', 'beta_rate'),
                       ('dropout_keep_prob', 'dropout_keep_prob')):
    if ours not in config:
      continue
    if theirs in extra:
      config[ours] = type(config[ours])(extra[theirs])
  config_base.validate(config)
  parts = family_lib.build(config)   # config.output_family
  converter_spec = parts.spec
  if 'output_depths' in sizes and tuple(sizes['output_depths']) != tuple(converter_spec.part_depths):
    raise CheckpointMismatchError(
        f'the checkpoint\'s core decoders output {sizes["output_depths"]} classes, the '
        f'{config.encoding} encoding has {list(converter_spec.part_depths)}')
  # A NADE decoder outputs one bit per drum class (one binary part each).
  expected_depth = (converter_spec.num_parts if 'nade_num_hidden' in sizes
                    else converter_spec.output_depth)
  if expected_depth != sizes['output_depth']:
    raise CheckpointMismatchError(
        f'the checkpoint outputs {sizes["output_depth"]} classes, the '
        f'{config.encoding} encoding has {expected_depth}')
  example = parts.objective.example_batch(config, 1)
  state = steps.create_train_state(config, parts.model, parts.objective, example)
  compare_trees(jax.tree.map(np.asarray, state.params), params)
  params = jax.tree.map(lambda ref, new: jnp.asarray(new, ref.dtype),
                        state.params, params)
  state = state.replace(params=params,
                        opt_state=steps.make_optimizer(config).init(params),
                        step=jnp.asarray(global_step, jnp.int32))
  workdir = Path(workdir).expanduser().absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  ckpt = checkpoints.Checkpointer(workdir, config.keep_latest, config.keep_best,
                                  async_save=False)
  if ckpt.latest_step() is not None:
    raise FileExistsError(f'{workdir} already holds a run; choose a new --workdir')
  ckpt.save(global_step, state, config, {})
  ckpt.close()
  checkpoints.write_config(workdir, config)
  return workdir

