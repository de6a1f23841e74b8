"""The speed paths give the plain paths' results (issue #8 part 2).

Each test compares an optimised computation with a straightforward reference
written here: loss values and gradients must agree to float tolerance.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax.models import MusicVAE, TokenSpec
from musicvae_jax.models import decoders
from musicvae_jax.models.inputs import TokenEmbedder, one_hot_parts
from musicvae_jax.models.lstm import LSTMLayer, StackedLSTM, run_layer

SPEC = TokenSpec((90,))


def _tokens(shape, depth=90, seed=0):
  return jnp.asarray(np.random.RandomState(seed).randint(0, depth, shape))


def test_token_gather_matches_one_hot_matmul_values_and_grads():
  spec = TokenSpec((7, 5))
  layer = LSTMLayer(features=6, input_features=12 + 3)
  embedder = TokenEmbedder(spec)
  tokens = _tokens((4, 3, 2), depth=5).at[0, 0, 0].set(6).at[1, 2, :].set(-1)
  params = layer.init(jax.random.key(0), (jnp.zeros((3, 6)),) * 2,
                      jnp.zeros((3, 15)))['params']
  weights = jax.random.normal(jax.random.key(1), (4, 3, 24))

  def gathered(p):
    g = embedder.apply({}, layer.bind({'params': p}), tokens,
                       method=TokenEmbedder.gates)
    return jnp.sum(g * weights)

  def one_hot(p):  # -1 gives an all-zero row from jax.nn.one_hot
    x = one_hot_parts(tokens, spec.part_depths)        # [4, 3, 12]
    return jnp.sum((x @ p['input_kernel'][:12]) * weights)

  v1, g1 = jax.value_and_grad(gathered)(params)
  v2, g2 = jax.value_and_grad(one_hot)(params)
  np.testing.assert_allclose(v1, v2, rtol=1e-5)
  np.testing.assert_allclose(g1['input_kernel'], g2['input_kernel'],
                             rtol=1e-5, atol=1e-6)


def test_fused_step_matches_project_plus_recur():
  stack = StackedLSTM(sizes=(8, 6), input_features=5)
  carries = [(jax.random.normal(jax.random.key(k), (3, h)),) * 2
             for k, h in enumerate((8, 6))]
  gates0 = jax.random.normal(jax.random.key(9), (3, 32))
  params = stack.init(jax.random.key(0), carries, gates0,
                      method=StackedLSTM.step)['params']
  params = jax.tree.map(lambda p: p + 0.05, params)  # non-zero bias

  def plain(p, carries, gates0):  # the pre-fusion code: project then recur
    layers = stack.bind({'params': p}).layers
    x, new = None, []
    for k, layer in enumerate(layers):
      g = gates0 if k == 0 else layer.project(x)
      c, x = layer.recur(carries[k], g)
      new.append(c)
    return jnp.sum(x ** 2) + sum(jnp.sum(c) for c, _ in new)

  def fused(p, carries, gates0):
    new, x = stack.apply({'params': p}, carries, gates0, method=StackedLSTM.step)
    return jnp.sum(x ** 2) + sum(jnp.sum(c) for c, _ in new)

  v1, g1 = jax.value_and_grad(plain, argnums=(0, 1, 2))(params, carries, gates0)
  v2, g2 = jax.value_and_grad(fused, argnums=(0, 1, 2))(params, carries, gates0)
  np.testing.assert_allclose(v1, v2, rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
               g1, g2)


@pytest.mark.parametrize('depths', [(90,), (4, 9)])
def test_precomputed_gumbel_noise_gives_the_same_samples(depths):
  keys = jax.random.split(jax.random.key(3), 6)
  logits = jax.random.normal(jax.random.key(4), (6, 5, sum(depths))) * 3
  noise = decoders.gumbel_noise(keys, 5, depths)
  for t in range(6):
    for temp in (1.0, 0.5):
      want = decoders.sample_tokens(keys[t], logits[t], depths, temp)
      got = decoders.sample_with_noise(logits[t], [n[t] for n in noise], depths,
                                       temp)
      np.testing.assert_array_equal(got, want)


def _model(hier, **kw):
  return MusicVAE(spec=SPEC, seq_len=8, z_size=6, enc_rnn_sizes=(10, 8),
                  dec_rnn_sizes=(8, 7), use_hier=hier,
                  n_subsequences=2 if hier else 1, conductor_rnn_sizes=(9,), **kw)


def _loss_and_grads(model, params, tokens, p_sample):
  lengths = jnp.array([8, 5, 3])

  def loss(p):
    out = model.apply({'params': p}, tokens, lengths, p_sample,
                      rngs={'z': jax.random.key(1), 'sample': jax.random.key(2)})
    logp = jax.nn.log_softmax(out['logits'])
    nll = -jnp.take_along_axis(logp, tokens, axis=-1)
    return jnp.mean(nll) + 0.1 * jnp.mean(out['mu'] ** 2 + out['sigma'])

  return jax.jit(jax.value_and_grad(loss))(params)


@pytest.mark.parametrize('option', [{'unroll': 4}, {'remat': True},
                                    {'custom_vjp': False}],
                         ids=['unroll4', 'remat', 'autodiff'])
@pytest.mark.parametrize('hier,p_sample', [(False, 0.5), (True, None)])
def test_speed_options_change_nothing(hier, p_sample, option):
  """Scan unrolling, recomputing activations and the hand-written LSTM
  backward pass (the default, against autodiff) give the same numbers."""
  tokens = _tokens((3, 8, 1))
  base = _model(hier)
  params = base.init({'params': jax.random.key(0), 'z': jax.random.key(1),
                      'sample': jax.random.key(2)}, tokens,
                     jnp.full((3,), 8))['params']
  v1, g1 = _loss_and_grads(base, params, tokens, p_sample)
  v2, g2 = _loss_and_grads(_model(hier, **option), params, tokens, p_sample)
  np.testing.assert_allclose(v1, v2, rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
               g1, g2)


def test_bfloat16_compute_loss_close_to_float32():
  tokens = _tokens((3, 8, 1))
  f32 = _model(False)
  params = f32.init({'params': jax.random.key(0), 'z': jax.random.key(1),
                     'sample': jax.random.key(2)}, tokens,
                    jnp.full((3,), 8))['params']
  v32, g32 = _loss_and_grads(f32, params, tokens, 0.5)
  v16, g16 = _loss_and_grads(_model(False, dtype=jnp.bfloat16), params, tokens, 0.5)
  # Parameters (and so gradients) stay float32 under bf16 compute.
  assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(g16))
  np.testing.assert_allclose(v16, v32, rtol=2e-2)
  cos = lambda a, b: float(jnp.vdot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b) + 1e-12))
  flat32 = jnp.concatenate([g.ravel() for g in jax.tree.leaves(g32)])
  flat16 = jnp.concatenate([g.ravel() for g in jax.tree.leaves(g16)])
  assert cos(flat16, flat32) > 0.95


class _OneLayer(nn.Module):
  """project + run_layer, the whole-sequence path of every LSTM in the model."""
  custom_vjp: bool
  reverse: bool
  dtype: object = jnp.float32

  @nn.compact
  def __call__(self, x, carry, keep):
    layer = LSTMLayer(7, 5, 1.0, self.dtype, custom_vjp=self.custom_vjp)
    return run_layer(layer, carry, layer.project(x), keep, reverse=self.reverse)


@pytest.mark.parametrize('reverse,masked,dtype', [
    (False, False, jnp.float32), (True, True, jnp.float32),
    (False, True, jnp.float32), (True, False, jnp.bfloat16)])
def test_hand_written_lstm_backward_matches_autodiff(reverse, masked, dtype):
  """Every output (final c, h and all steps' h) and every input's gradient."""
  keys = jax.random.split(jax.random.key(5), 6)
  x = jax.random.normal(keys[0], (6, 4, 5))
  carry = (jax.random.normal(keys[1], (4, 7)), jax.random.normal(keys[2], (4, 7)))
  keep = (jnp.arange(6)[:, None] < jnp.array([6, 4, 1, 3])[None]) if masked else None
  w_c, w_h = jax.random.normal(keys[3], (2, 4, 7))
  w_out = jax.random.normal(keys[4], (6, 4, 7))

  def loss(module, params, x, carry):
    (c, h), outputs = module.apply(params, x, carry, keep)
    return jnp.sum(c * w_c) + jnp.sum(jnp.sin(h) * w_h) + jnp.sum(outputs * w_out)

  results = []
  for custom in (False, True):
    module = _OneLayer(custom, reverse, dtype)
    params = module.init(keys[5], x, carry, keep)
    results.append(jax.jit(jax.value_and_grad(
        functools.partial(loss, module), argnums=(0, 1, 2)))(params, x, carry))
  (v_auto, g_auto), (v_custom, g_custom) = results
  tol = 1e-5 if dtype == jnp.float32 else 2e-2
  np.testing.assert_allclose(v_custom, v_auto, rtol=tol)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=tol, atol=tol),
               g_custom, g_auto)
