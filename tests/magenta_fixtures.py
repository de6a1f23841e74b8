"""Magenta-written checkpoints of ../shared/fixtures/magenta, loaded as our
model (tests that read them skip where ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musicvae_jax.magenta import convert, tf_bundle
from musicvae_jax.models import MusicVAE, TokenSpec

FIXTURES = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta'


def load(name: str):
  """(model, params, golden, tokens) of fixture `name`: our MusicVAE sized
  from the checkpoint, its converted params, golden.npz as a dict and the
  encoder's input tokens `[8, T, 1]`."""
  folder = FIXTURES / name
  prefix = folder / (folder / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  params = convert.magenta_to_params(variables)
  config = convert.config_for(name)
  convert.apply_sizes(config, convert.sizes_from_params(params))
  model = MusicVAE.from_config(config, TokenSpec((90,)))
  golden = dict(np.load(folder / 'golden.npz'))
  tokens = golden['input_tokens'][..., None].astype(np.int32)
  return model, params, golden, tokens
