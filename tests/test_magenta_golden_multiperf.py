"""Golden tests for the multitrack models (hier-multiperf_vel_1bar_med and
its _chords variant): Magenta-trained checkpoints converted without
TensorFlow reproduce Magenta's mu / sigma, teacher-forced logits (where
t < each slot's length; see the fixture README), losses and greedy decodes.

Skipped where ../shared is absent.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import family, input_pipeline, losses
from musicvae_jax.data import multiperf
from musicvae_jax.magenta import convert, tf_bundle
from musicvae_jax.models import MusicVAE

FIXTURES = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta'
NAMES = ['hier-multiperf_vel_1bar_med', 'hier-multiperf_vel_1bar_med_chords']
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(),
                                reason=f'Magenta fixtures not found at {FIXTURES}')


def _tokens(one_hot: np.ndarray) -> np.ndarray:
  """One-hot rows -> class tokens [..., 1], -1 for all-zero (padding) rows."""
  return np.where(one_hot.any(-1), one_hot.argmax(-1), -1)[..., None].astype(np.int32)


def _prefix(name):
  folder = FIXTURES / name
  return folder / (folder / 'checkpoint_name.txt').read_text().strip()


def load(name):
  variables = tf_bundle.read_checkpoint(_prefix(name), skip_optimizer=True)
  variables.pop('global_step', None)
  params = convert.magenta_to_params(variables)
  config = convert.config_for(name)
  convert.apply_sizes(config, convert.sizes_from_params(params))
  spec = input_pipeline.token_spec(family.get(config).make_converter(config))
  model = MusicVAE.from_config(config, spec)
  golden = dict(np.load(FIXTURES / name / 'golden.npz'))
  tokens = _tokens(golden['encoder_inputs'])
  controls = _tokens(golden['controls']) if golden['controls'].shape[-1] else None
  return model, params, golden, tokens, controls


@pytest.mark.parametrize('name', NAMES)
def test_multiperf_matches_magenta(name):
  model, params, golden, tokens, controls = load(name)
  np.testing.assert_array_equal(multiperf.slot_lengths(tokens, 8), golden['lengths'])
  ours = jax.eval_shape(lambda: model.init(
      {'params': jax.random.key(0), 'z': jax.random.key(1)}, tokens,
      np.full(8, 512, np.int32), None, controls))['params']
  convert.compare_trees(ours, params)
  lengths = np.full(8, 512, np.int32)

  mu, sigma = model.apply({'params': params}, tokens, lengths, controls,
                          method=MusicVAE.encode)
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)

  logits = model.apply({'params': params}, golden['mu'], tokens, None, controls,
                       method=MusicVAE.decode_logits)
  real = (tokens[..., 0] >= 0)
  assert (real.reshape(8, 8, 64).sum(-1) == golden['lengths']).all()
  error = np.abs(np.asarray(logits) - golden['teacher_forced_logits_padded'])[real]
  assert float(error.max()) < 1e-3
  r_loss = losses.reconstruction_loss(logits, tokens, jnp.asarray(real, jnp.float32), (490,))
  np.testing.assert_allclose(r_loss, golden['teacher_forced_r_loss'], rtol=1e-4)

  sampled, logits = model.apply({'params': params}, golden['mu'], 1e-5, None, controls,
                                rngs={'sample': jax.random.key(0)}, method=MusicVAE.sample)
  ours, theirs = np.asarray(sampled)[..., 0], _tokens(golden['greedy_outputs'])[..., 0]
  if name == 'hier-multiperf_vel_1bar_med':
    np.testing.assert_array_equal(ours, theirs)
    return
  # The _chords checkpoint (26 steps) has near-ties between time shifts: at
  # temperature 1e-5 a logit gap under ~1e-5 is decided by the sampling noise,
  # which differs from TensorFlow's. Each example must match exactly up to its
  # first difference, and that first difference must be such a tie.
  logits = np.asarray(logits)
  for b in range(len(ours)):
    differ = np.flatnonzero(ours[b] != theirs[b])
    if len(differ):
      t = differ[0]
      gap = abs(logits[b, t, ours[b, t]] - logits[b, t, theirs[b, t]])
      assert gap < 1e-4, (b, t, gap)
  assert (ours == theirs).all(axis=1).sum() >= 4


def test_convert_checkpoint_workdir_loads_in_trained_model(tmp_path):
  from musicvae_jax.trained_model import TrainedModel
  name = 'hier-multiperf_vel_1bar_med'
  workdir = convert.convert_checkpoint(
      name, str(_prefix(name)), str(tmp_path / 'run'),
      hparams='enc_rnn_size=[32],dec_rnn_size=[32,32],z_size=16,batch_size=16')
  model = TrainedModel.from_workdir(workdir)
  golden = dict(np.load(FIXTURES / name / 'golden.npz'))
  _, mu, _ = model.encode_tensors(_tokens(golden['encoder_inputs']))
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
