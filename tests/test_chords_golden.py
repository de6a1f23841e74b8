"""cat-mel_2bar_med_chords: Magenta's checkpoint and outputs
(../shared/fixtures/magenta/cat-mel_2bar_med_chords), converted without
TensorFlow (`magenta_to_params`, as `convert_checkpoint` does), then used
through `TrainedModel`.
Skipped where ../shared is absent."""

from pathlib import Path

import numpy as np
import pytest

from musicvae_jax import losses
from musicvae_jax.magenta import convert

NAME = 'cat-mel_2bar_med_chords'
FOLDER = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta' / NAME
pytestmark = pytest.mark.skipif(not FOLDER.is_dir(),
                                reason=f'Magenta fixtures not found at {FOLDER}')


def test_converted_chord_model_matches_magenta():
  import jax
  from musicvae_jax.magenta import tf_bundle
  from musicvae_jax.trained_model import TrainedModel
  prefix = FOLDER / (FOLDER / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  params = convert.magenta_to_params(variables)
  config = convert.config_for(NAME)          # configs/mel_2bar_chords.py:med
  convert.apply_sizes(config, convert.sizes_from_params(params))
  model = TrainedModel(config, jax.tree.map(np.asarray, params))
  convert.compare_trees(model._abstract_state().params, params)
  assert model.config.controls == 'triad_chords'
  assert model.spec.control_depths == (49,)

  golden = dict(np.load(FOLDER / 'golden.npz'))
  tokens = golden['decoder_targets'].argmax(-1)[..., None].astype(np.int32)
  controls = golden['controls'].argmax(-1)[..., None].astype(np.int32)
  assert (golden['encoder_inputs'].argmax(-1)[..., None] == tokens).all()

  _, mu, sigma = model.encode_tensors(tokens, golden['lengths'], controls=controls)
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)
  # Converter windows (melody and chord columns) encode the same.
  windows = np.concatenate([tokens, controls], -1)
  np.testing.assert_array_equal(model.encode_tensors(windows)[1], mu)

  # Teacher forcing (stock sampling rate 0): previous target, z, this step's chord.
  logits = model.teacher_forced_logits(golden['mu'], tokens, golden['controls'])
  np.testing.assert_allclose(logits, golden['teacher_forced_logits'], atol=1e-4)
  r_loss = losses.reconstruction_loss(logits, tokens, np.ones(tokens.shape[:2]), (90,))
  np.testing.assert_allclose(r_loss, golden['teacher_forced_r_loss'], rtol=1e-4)

  # Magenta decoded example by example with each example's own controls.
  greedy = model.decode_to_tensors(golden['mu'], temperature=1e-5, controls=controls)
  np.testing.assert_array_equal(greedy[..., 0], golden['greedy_outputs'].argmax(-1))
