"""Golden tests: Magenta's own checkpoints and outputs (../shared/fixtures/magenta).

Skipped where ../shared is absent (CI has it).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import losses
from musicvae_jax.magenta import convert
from musicvae_jax.models import MusicVAE

from magenta_fixtures import FIXTURES, load
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(),
                                reason=f'Magenta fixtures not found at {FIXTURES}')


@pytest.mark.parametrize('name', ['cat-mel_2bar_small', 'hierdec-mel_16bar'])
def test_parameter_tree_matches_model(name):
  model, params, golden, tokens = load(name)
  ours = model.init({'params': jax.random.key(0), 'z': jax.random.key(1)},
                    tokens, golden['lengths'])['params']
  convert.compare_trees(jax.tree.map(np.asarray, ours), params)


@pytest.mark.parametrize('name', ['cat-mel_2bar_small', 'hierdec-mel_16bar'])
def test_encoder_matches_magenta(name):
  model, params, golden, tokens = load(name)
  mu, sigma = model.apply({'params': params}, tokens, golden['lengths'],
                          method=MusicVAE.encode)
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)


def test_hierarchical_teacher_forced_logits_and_loss_match_magenta():
  model, params, golden, tokens = load('hierdec-mel_16bar')
  logits = model.apply({'params': params}, golden['mu'], tokens,
                       method=MusicVAE.decode_logits)
  assert float(jnp.abs(logits - golden['teacher_forced_logits']).max()) < 1e-3
  r_loss = losses.reconstruction_loss(logits, tokens, jnp.ones(tokens.shape[:2]), (90,))
  np.testing.assert_allclose(r_loss, golden['teacher_forced_r_loss'], rtol=1e-3)


def _recover_fed_tokens(model, params, golden):
  """The tokens Magenta's decoder read at each step, recovered from its logits.

  Magenta evaluates configs that have a sampling schedule (cat-mel_2bar_small:
  inverse sigmoid) at sampling probability 1.0, so the fixture's decoder read
  its own *samples*, not the targets, despite the fixture README's wording.
  The logits at step t pin down the one-hot read at step t, so we search, for
  each step, the token (or the all-zero input) that reproduces them.
  """
  ref = golden['teacher_forced_logits']
  mu = jnp.asarray(golden['mu'])
  run = jax.jit(lambda prev: model.apply(
      {'params': params}, prev, mu,
      method=lambda mdl, p, c: mdl.decoder.teacher_forced(p, c)))
  steps, batch = ref.shape[1], ref.shape[0]
  prev = np.full((steps, batch, 1), -1, np.int32)
  candidates = np.arange(-1, 90)
  for t in range(1, steps):
    errors = np.empty((len(candidates), batch))
    for i, cand in enumerate(candidates):
      trial = prev.copy()
      trial[t] = cand
      errors[i] = np.abs(np.asarray(run(trial))[t] - ref[:, t]).max(-1)
    prev[t, :, 0] = candidates[errors.argmin(0)]
  return prev, run


def test_flat_decoder_logits_and_loss_match_magenta():
  model, params, golden, tokens = load('cat-mel_2bar_small')
  ref = golden['teacher_forced_logits']
  teacher = model.apply({'params': params}, golden['mu'], tokens,
                        method=MusicVAE.decode_logits)
  # Step 0 reads no token: it must match exactly whatever the inputs were.
  assert float(jnp.abs(teacher[:, 0] - ref[:, 0]).max()) < 1e-4
  prev, run = _recover_fed_tokens(model, params, golden)
  logits = np.swapaxes(np.asarray(run(prev)), 0, 1)
  assert float(np.abs(logits - ref).max()) < 1e-3
  fed = prev[1:, :, 0].T
  assert (fed != tokens[:, :-1, 0]).mean() > 0.3  # they were samples, not targets
  # Magenta's r_loss of that run is the cross-entropy of those logits
  # against the targets.
  r_loss = losses.reconstruction_loss(jnp.asarray(logits), tokens,
                                      jnp.ones(tokens.shape[:2]), (90,))
  np.testing.assert_allclose(r_loss, golden['teacher_forced_r_loss'], rtol=1e-3)


@pytest.mark.parametrize('name', ['cat-mel_2bar_small', 'hierdec-mel_16bar'])
def test_greedy_decode_matches_magenta(name):
  model, params, golden, _ = load(name)
  tokens, _ = model.apply({'params': params}, jnp.asarray(golden['mu']), 1e-5,
                          rngs={'sample': jax.random.key(0)}, method=MusicVAE.sample)
  np.testing.assert_array_equal(np.asarray(tokens)[..., 0], golden['greedy_tokens'])


@pytest.mark.parametrize('name', ['cat-mel_2bar_small', 'hierdec-mel_16bar'])
def test_converted_workdir_loads_and_matches(name, tmp_path):
  from musicvae_jax.trained_model import TrainedModel
  folder = FIXTURES / name
  prefix = folder / (folder / 'checkpoint_name.txt').read_text().strip()
  convert.convert_checkpoint(name, str(prefix), str(tmp_path / 'run'),
                             hparams='z_size=32')
  model = TrainedModel.from_workdir(tmp_path / 'run')
  # The run continues from Magenta's global step (model.ckpt-N).
  assert model.step == int(prefix.name.rpartition('-')[2]) > 0
  golden = dict(np.load(folder / 'golden.npz'))
  _, mu, sigma = model.encode_tensors(golden['inputs_onehot'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)
  assert len(model.sample(2, seed=0)) == 2
  with pytest.raises(convert.CheckpointMismatchError, match='z_size=16'):
    convert.convert_checkpoint(name, str(prefix), str(tmp_path / 'other'),
                               hparams='z_size=16')
