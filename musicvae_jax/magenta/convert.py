"""Map Magenta MusicVAE checkpoints onto musicvae_jax parameters and write a workdir.

The variable-name mapping (Magenta's TF names <-> our parameter tree, and the
layer sizes read off a tree) lives in `params.py`, shared with `tfjs.py`
(magenta.js folders); this module reads a checkpoint, checks it against the
config it names and writes the workdir.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from musicvae_jax.magenta.hparams import parse_hparams  # noqa: F401  (convert.parse_hparams)
from musicvae_jax.magenta.params import (  # noqa: F401  (re-exported: convert.X)
    CheckpointMismatchError, compare_trees, encoder_levels, is_hierarchical,
    magenta_to_params, sizes_from_params, split_parts)


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
  config.control_preprocessing_size = sizes.get('control_preprocessing_rnn_size', [0])[0]


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
    # Adam's slots are dropped; the global step is kept (the run continues from it).
    variables = tf_bundle.read_checkpoint(source, include=lambda name: (
        name == 'global_step' or not tf_bundle.is_optimizer_variable(name)))
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
  # Shapes and dtypes only (no parameter init: seconds saved per conversion).
  abstract = jax.eval_shape(functools.partial(
      steps.init_params, parts.model, parts.objective), jax.random.key(0), example)
  compare_trees(abstract, params)
  params = jax.tree.map(lambda ref, new: jnp.asarray(new, ref.dtype), abstract, params)
  state = steps.state_from_params(config, params, global_step)
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

