"""GrooVAE model: Magenta golden conversion, losses by hand, dropout, sampling."""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import config_base, family, steps
from musicvae_jax.magenta import convert, tf_bundle
from musicvae_jax.models import TokenSpec
from musicvae_jax.families.groove import model as gm
from musicvae_jax.families.groove import objective as go

FIXTURE = (Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta'
           / 'groovae_2bar_humanize')


def test_losses_by_hand():
  raw = np.zeros((1, 27), np.float32)
  raw[0, 0] = math.log(3.0)          # p(hit kick) = 0.75
  raw[0, 9] = 0.0                    # velocity 0.5
  raw[0, 18] = math.atanh(0.5)       # offset 0.5
  target = np.zeros((1, 27), np.float32)
  target[0, 0], target[0, 9], target[0, 18] = 1.0, 0.75, -0.5
  got = {k: float(v[0]) for k, v in go.step_losses(jnp.asarray(raw),
                                                    jnp.asarray(target)).items()}
  eps = 1e-7
  # Kick: -log(0.75 + eps); the 8 others: p = 0.5, y = 0: -log(0.5 + eps) each.
  assert got['hits_loss'] == pytest.approx(-math.log(0.75 + eps) - 8 * math.log(0.5 + eps),
                                           rel=1e-6)
  # Velocities: (0.75 - 0.5)^2 + 8 * 0.5^2; offsets: (-0.5 - 0.5)^2.
  assert got['velocities_loss'] == pytest.approx(0.0625 + 8 * 0.25, rel=1e-6)
  assert got['offsets_loss'] == pytest.approx(1.0, rel=1e-6)
  # log_loss works on the probability: a saturated wrong hit costs -log(1e-7)
  # (a logits-based cross-entropy would give 100).
  sat = np.full((1, 27), -100.0, np.float32)
  hits = float(go.step_losses(jnp.asarray(sat), jnp.asarray(target))['hits_loss'][0])
  assert hits == pytest.approx(-math.log(eps) - 8 * math.log(1.0 + eps), rel=1e-4)


def test_objective_loss_masks_and_metrics_by_hand():
  fam = go.GrooveObjective(seq_len=2)
  raw = np.full((1, 2, 27), -5.0, np.float32)
  raw[0, 0, 0] = 5.0                 # predicts a kick on step 0 only
  raw[0, :, 9:] = 0.0                # velocity 0.5, offset 0
  targets = np.zeros((1, 2, 27), np.float32)
  targets[0, 0, 0] = targets[0, 0, 1] = 1     # kick and snare on step 0
  targets[0, 0, 9:11] = [1.0, 0.25]
  targets[0, 0, 18] = 0.5
  batch = {'targets': jnp.asarray(targets), 'lengths': jnp.array([1]),
           'weights': jnp.ones(1)}
  counts = go.hit_counts(jnp.asarray(raw), batch['targets'], fam.mask(batch))
  assert {k: float(counts[k]) for k in ('tp', 'fp', 'fn', 'tn')} == {
      'tp': 1.0, 'fp': 0.0, 'fn': 1.0, 'tn': 7.0}
  r = go.rates({k: np.asarray(v) for k, v in counts.items()})
  assert r['hit_f1'] == pytest.approx(2 / 3) and r['hit_accuracy'] == pytest.approx(8 / 9)
  # |0.5 - 1.0| * 127 and |0.5 - 0.25| * 127 over the two true hits.
  assert r['velocity_error'] == pytest.approx((63.5 + 31.75) / 2, rel=1e-5)
  assert r['offset_error'] == pytest.approx(0.25 / 2, rel=1e-5)
  # Step 1 is past the length: the loss only counts step 0.
  step0 = go.step_losses(jnp.asarray(raw[:, :1]), jnp.asarray(targets[:, :1]))
  total = sum(float(v[0, 0]) for v in step0.values())
  loss = fam.reconstruction_loss({'outputs': jnp.asarray(raw)}, batch, fam.mask(batch))
  assert float(loss[0]) == pytest.approx(total, rel=1e-6)


def test_sampling_temperature_only_touches_hits():
  raw = jnp.asarray(np.linspace(-3, 3, 27, dtype=np.float32))[None]
  greedy = gm.sample_step(jax.random.key(0), raw, 1e-5)
  np.testing.assert_array_equal(greedy[0, :9], (raw[0, :9] > 0).astype(np.float32))
  np.testing.assert_allclose(greedy[0, 9:18], jax.nn.sigmoid(raw[0, 9:18]), rtol=1e-6)
  np.testing.assert_allclose(greedy[0, 18:], jnp.tanh(raw[0, 18:]), rtol=1e-6)
  many = jax.vmap(lambda k: gm.sample_step(k, raw, 1.0))(
      jax.random.split(jax.random.key(1), 4000))
  np.testing.assert_allclose(many[:, 0, :9].mean(0), jax.nn.sigmoid(raw[0, :9]), atol=0.03)


def _tiny():
  config = config_base.load_config_file('configs/groovae_2bar_humanize.py:tiny')
  config.dropout_keep_prob = 0.5
  return config


def test_dropout_follows_the_prng_and_only_in_training():
  config = _tiny()
  model = family.get(config).build_model(config, TokenSpec((27,)))
  assert isinstance(model, gm.GrooVAE)
  rng = np.random.default_rng(0)
  targets = (rng.random((2, 8, 27)) < 0.2).astype(np.float32)
  args = (targets, targets, np.full(2, 8, np.int32))
  params = model.init({'params': jax.random.key(0), 'z': jax.random.key(1)}, *args)
  cache = {}

  def run(train, key):   # one compile per mode
    if train not in cache:
      cache[train] = jax.jit(lambda k: model.apply(
          params, *args, None, None, train,
          rngs={'z': jax.random.key(2), 'dropout': k})['outputs'])
    return cache[train](key)
  a, b = run(True, jax.random.key(3)), run(True, jax.random.key(3))
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, run(True, jax.random.key(4)))
  np.testing.assert_array_equal(run(False, jax.random.key(3)), run(False, jax.random.key(4)))
  config.dropout_keep_prob = 1.0
  plain = family.get(config).build_model(config, TokenSpec((27,)))
  out = plain.apply(params, *args, None, None, True, rngs={'z': jax.random.key(2)})
  np.testing.assert_allclose(out['outputs'], run(False, jax.random.key(3)), atol=1e-6)


def _load_fixture():
  if not FIXTURE.is_dir():
    pytest.skip(f'{FIXTURE} not present')
  prefix = FIXTURE / (FIXTURE / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  params = convert.magenta_to_params(variables)
  config = convert.config_for('groovae_2bar_humanize')
  convert.apply_sizes(config, convert.sizes_from_params(params))
  fam = family.get(config)
  model = fam.build_model(config, TokenSpec((27,)))
  objective = fam.objective(config, TokenSpec((27,)))
  return model, objective, params, dict(np.load(FIXTURE / 'golden.npz')), prefix


def test_magenta_golden_conversion():
  model, fam, params, golden, _ = _load_fixture()
  assert isinstance(fam, go.GrooveObjective)
  mu, sigma = model.apply({'params': params}, golden['encoder_inputs'],
                          golden['lengths'], method='encode')
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)
  raw = model.apply({'params': params}, golden['mu'], golden['decoder_targets'],
                    method='decode')
  np.testing.assert_allclose(raw, golden['teacher_forced_logits'], atol=1e-4)
  batch = {'targets': jnp.asarray(golden['decoder_targets']),
           'lengths': jnp.asarray(golden['lengths'])}
  parts = fam.loss_parts({'outputs': raw}, batch, fam.mask(batch))
  for key in ('hits_loss', 'velocities_loss', 'offsets_loss'):
    np.testing.assert_allclose(parts[key], golden[key], rtol=1e-4)
  np.testing.assert_allclose(fam.reconstruction_loss({'outputs': raw}, batch, fam.mask(batch)),
                             golden['teacher_forced_r_loss'], rtol=1e-4)
  # Greedy: hits at logit > 0, sigmoid velocities, tanh offsets, fed back.
  samples, _ = model.apply({'params': params}, jnp.asarray(golden['mu']), 1e-5,
                           rngs={'sample': jax.random.key(0)}, method='sample')
  samples = np.asarray(samples)
  np.testing.assert_array_equal(samples[..., :9], golden['greedy_outputs'][..., :9])
  np.testing.assert_allclose(samples[..., 9:], golden['greedy_outputs'][..., 9:], atol=1e-4)


def test_tiny_train_and_eval_steps_run():
  config = _tiny()
  spec = TokenSpec((27,))
  parts = family.get(config)
  model, fam = parts.build_model(config, spec), parts.objective(config, spec)
  assert isinstance(model, gm.GrooVAE) and isinstance(fam, go.GrooveObjective)
  batch = fam.example_batch(config, 4)
  batch['targets'][:, ::4, 0] = 1
  batch['targets'][:, ::4, 9] = 0.8
  batch['inputs'][:, ::4, 0] = 1
  state = steps.create_train_state(config, model, fam, batch)
  train, evaluate, _ = steps.jit_steps(config, model, fam)
  state, metrics = train(state, batch)
  for key in ('accuracy', 'hit_f1', 'velocity_error', 'offset_error', 'hits_loss'):
    assert np.isfinite(float(metrics[key]))
  sums = evaluate(state.params, batch, jax.random.key(0), state.step)
  out = fam.summarise_eval(jax.device_get(sums), ())
  assert out['r_loss'] == pytest.approx(
      out['hits_loss'] + out['velocities_loss'] + out['offsets_loss'], rel=1e-4)
  assert 0 <= out['hit_f1'] <= 1 and 'hit_f1_sampled' in out
