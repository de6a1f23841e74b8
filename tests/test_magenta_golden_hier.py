"""Golden tests for the hierarchical-encoder models (hier-mel_16bar,
hier-trio_16bar): Magenta's own checkpoints and outputs in
../shared/fixtures/magenta (see its README). Skipped where ../shared is absent.
"""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import losses
from musicvae_jax.magenta import convert, tf_bundle
from musicvae_jax.models import MusicVAE, TokenSpec

FIXTURES = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta'
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(),
                                reason=f'Magenta fixtures not found at {FIXTURES}')

DEPTHS = {'hier-mel_16bar': (90,), 'hier-trio_16bar': (90, 90, 512)}
NAMES = sorted(DEPTHS)


def _prefix(name):
  folder = FIXTURES / name
  return folder / (folder / 'checkpoint_name.txt').read_text().strip()


def _tokens(one_hots, depths):
  """Magenta's concatenated one-hots [B, T, sum] -> int tokens [B, T, K]."""
  parts, start = [], 0
  for depth in depths:
    parts.append(one_hots[..., start:start + depth].argmax(-1))
    start += depth
  return np.stack(parts, -1).astype(np.int32)


@functools.lru_cache(maxsize=None)
def load(name):
  variables = tf_bundle.read_checkpoint(_prefix(name), skip_optimizer=True)
  variables.pop('global_step', None)
  params = convert.magenta_to_params(variables)
  config = convert.config_for(name)
  convert.apply_sizes(config, convert.sizes_from_params(params))
  model = MusicVAE.from_config(config, TokenSpec(DEPTHS[name]))
  golden = dict(np.load(FIXTURES / name / 'golden.npz'))
  return model, params, golden


@pytest.mark.parametrize('name', NAMES)
def test_parameter_tree_matches_model_and_is_readable(name):
  model, params, golden = load(name)
  tokens = _tokens(golden['encoder_inputs'], DEPTHS[name])
  ours = jax.eval_shape(lambda: model.init(
      {'params': jax.random.key(0), 'z': jax.random.key(1)},
      tokens, golden['lengths']))['params']
  convert.compare_trees(ours, params)
  assert set(params['encoder']) == {'level_0', 'level_1', 'mu', 'sigma'}
  assert convert.encoder_levels(params) == 2
  assert set(params['encoder']['level_1']['layer_0']) == {'fw', 'bw'}


@pytest.mark.parametrize('name', NAMES)
def test_encoder_decoder_and_greedy_decode_match_magenta(name):
  model, params, golden = load(name)
  depths = DEPTHS[name]
  tokens = _tokens(golden['encoder_inputs'], depths)
  np.testing.assert_array_equal(tokens, _tokens(golden['decoder_targets'], depths))
  variables = {'params': params}
  mu, sigma = jax.jit(functools.partial(model.apply, method=MusicVAE.encode))(
      variables, tokens, golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)
  # Teacher forcing over the whole 256 steps: bar k > 0 first reads the last
  # target of bar k - 1 (Magenta pads the flat targets, then splits bars).
  logits = jax.jit(functools.partial(model.apply, method=MusicVAE.decode_logits))(
      variables, golden['mu'], tokens)
  assert float(jnp.abs(logits - golden['teacher_forced_logits']).max()) < 1e-4
  r_loss = losses.reconstruction_loss(logits, tokens, jnp.ones(tokens.shape[:2]), depths)
  np.testing.assert_allclose(r_loss, golden['teacher_forced_r_loss'], rtol=1e-4)
  greedy, _ = model.apply(variables, jnp.asarray(golden['mu']), 1e-5,
                          rngs={'sample': jax.random.key(0)}, method=MusicVAE.sample)
  np.testing.assert_array_equal(greedy, _tokens(golden['greedy_outputs'], depths))


def test_converted_workdir_encodes_like_magenta(tmp_path):
  from musicvae_jax.trained_model import TrainedModel
  name = 'hier-mel_16bar'
  workdir = convert.convert_checkpoint(name, str(_prefix(name)), str(tmp_path / 'run'),
                                       hparams='z_size=16,enc_rnn_size=[32,32]')
  model = TrainedModel.from_workdir(workdir)
  assert tuple(model.config.encoder_levels) == (16, 16)
  golden = dict(np.load(FIXTURES / name / 'golden.npz'))
  _, mu, sigma = model.encode_tensors(golden['encoder_inputs'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)
  # A flat encoder's config cannot take this checkpoint.
  with pytest.raises(convert.CheckpointMismatchError, match='hierarchical encoder'):
    convert.convert_checkpoint(name, str(_prefix(name)), str(tmp_path / 'other'),
                               config_spec='hier.py:full')
