"""cat-mel_2bar_med_chords: Magenta's checkpoint and outputs
(../shared/fixtures/magenta/cat-mel_2bar_med_chords), converted without
TensorFlow. Skipped where ../shared is absent."""

from pathlib import Path

import jax
import numpy as np
import pytest

from musicvae_jax import losses
from musicvae_jax.magenta import convert, tf_bundle
from musicvae_jax.models import MusicVAE, TokenSpec

NAME = 'cat-mel_2bar_med_chords'
FOLDER = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta' / NAME
pytestmark = pytest.mark.skipif(not FOLDER.is_dir(),
                                reason=f'Magenta fixtures not found at {FOLDER}')


@pytest.fixture(scope='module')
def loaded():
  prefix = FOLDER / (FOLDER / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  params = convert.magenta_to_params(variables)
  config = convert.config_for(NAME)
  convert.apply_sizes(config, convert.sizes_from_params(params))
  model = MusicVAE.from_config(config, TokenSpec((90,), None, (49,)))
  golden = dict(np.load(FOLDER / 'golden.npz'))
  tokens = golden['decoder_targets'].argmax(-1)[..., None].astype(np.int32)
  controls = golden['controls'].argmax(-1)[..., None].astype(np.int32)
  assert (golden['controls'].sum(-1) == 1).all()
  return model, params, golden, tokens, controls


def test_tree_encoder_logits_and_greedy_match_magenta(loaded):
  model, params, golden, tokens, controls = loaded
  assert (golden['encoder_inputs'].argmax(-1)[..., None] == tokens).all()
  ours = model.init({'params': jax.random.key(0), 'z': jax.random.key(1)},
                    tokens, golden['lengths'], None, controls)['params']
  convert.compare_trees(jax.tree.map(np.asarray, ours), params)

  mu, sigma = model.apply({'params': params}, tokens, golden['lengths'], controls,
                          method=MusicVAE.encode)
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)

  # Teacher forcing (stock sampling rate 0): previous target, z, this step's chord.
  logits = model.apply({'params': params}, golden['mu'], tokens, None, controls,
                       method=MusicVAE.decode_logits)
  np.testing.assert_allclose(logits, golden['teacher_forced_logits'], atol=1e-4)
  r_loss = losses.reconstruction_loss(logits, tokens, np.ones(tokens.shape[:2]), (90,))
  np.testing.assert_allclose(r_loss, golden['teacher_forced_r_loss'], rtol=1e-4)

  # Magenta decoded example by example with each example's own controls.
  greedy, _ = model.apply({'params': params}, golden['mu'], 1e-5, None, controls,
                          rngs={'sample': jax.random.key(0)}, method=MusicVAE.sample)
  np.testing.assert_array_equal(greedy[..., 0], golden['greedy_outputs'].argmax(-1))
  # Without the chords the model does not give Magenta's numbers.
  mu_plain, _ = model.apply({'params': params}, tokens, golden['lengths'], None,
                            method=MusicVAE.encode)
  assert np.abs(np.asarray(mu_plain) - golden['mu']).max() > 1e-3


def test_convert_command_writes_a_chord_workdir(tmp_path, loaded):
  from musicvae_jax.trained_model import TrainedModel
  _, _, golden, tokens, controls = loaded
  prefix = FOLDER / (FOLDER / 'checkpoint_name.txt').read_text().strip()
  workdir = convert.convert_checkpoint(NAME, str(prefix), str(tmp_path / 'run'),
                                       hparams='z_size=16,enc_rnn_size=[64]')
  model = TrainedModel.from_workdir(workdir)
  assert model.config.controls == 'triad_chords'
  _, mu, sigma = model.encode_tensors(tokens, controls=controls)
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)
