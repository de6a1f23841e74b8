"""NADE math worked by hand (musicvae_jax.families.nade.nade)."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax.families.nade import nade


def _sigmoid(x):
  return 1.0 / (1.0 + math.exp(-x))


def _two_bit():
  """D = 2, H = 1, chosen so the conditionals are easy to write down.

  a_0 = b_enc = 0 -> h = 1/2; logit_0 = b_dec_0 + h * 2 = -1 + 1 = 0 -> p_0 = 1/2.
  a_1 = x_0 * ln 3 -> h = 1/2 (x_0 = 0) or 3/4 (x_0 = 1);
  logit_1 = b_dec_1 + h * 4 = -2 + {2, 3} = {0, 1} -> p_1 = 1/2 or sigmoid(1).
  """
  w_enc = jnp.array([[[math.log(3.0)]], [[5.0]]])       # [D, 1, H]
  w_dec_t = jnp.array([[[2.0]], [[4.0]]])               # [D, H, 1]
  b_enc = jnp.zeros((1, 1))
  b_dec = jnp.array([[-1.0, -2.0]])
  return b_enc, b_dec, w_enc, w_dec_t


def test_two_bit_log_prob_by_hand():
  b_enc, b_dec, w_enc, w_dec_t = _two_bit()
  s = _sigmoid(1.0)
  p1 = {0: 0.5, 1: s}  # p(x_1 = 1 | x_0)
  eps = 1e-6
  for x0, x1 in itertools.product((0, 1), repeat=2):
    x = jnp.array([[x0, x1]], jnp.float32)
    log_p, cond, logits = nade.log_prob(x, jnp.asarray(b_enc), b_dec, w_enc, w_dec_t)
    want = (math.log(eps + 0.5)
            + math.log(eps + (p1[x0] if x1 else 1.0 - p1[x0])))
    np.testing.assert_allclose(float(log_p[0]), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cond[0]), [0.5, p1[x0]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(logits[0]), [0.0, float(x0)], atol=1e-6)


def test_probabilities_sum_to_one_over_all_frames():
  rng = np.random.default_rng(0)
  dims, hidden = 3, 4
  w_enc = jnp.asarray(rng.normal(size=(dims, 1, hidden)), jnp.float32)
  w_dec_t = jnp.asarray(rng.normal(size=(dims, hidden, 1)), jnp.float32)
  b_enc = jnp.asarray(rng.normal(size=(1, hidden)), jnp.float32)
  b_dec = jnp.asarray(rng.normal(size=(1, dims)), jnp.float32)
  frames = jnp.asarray(list(itertools.product((0, 1), repeat=dims)), jnp.float32)
  n = len(frames)
  log_p, _, _ = nade.log_prob(frames, jnp.tile(b_enc, (n, 1)),
                              jnp.tile(b_dec, (n, 1)), w_enc, w_dec_t)
  # The 1e-6 inside each log adds at most dims * 1e-6 relative mass.
  np.testing.assert_allclose(float(jnp.sum(jnp.exp(log_p))), 1.0, atol=1e-5)


def test_threshold_sample_is_the_greedy_chain():
  b_enc, b_dec, w_enc, w_dec_t = _two_bit()
  # p_0 = 1/2 >= 0.5 -> 1; then p_1 = sigmoid(1) -> 1.
  bits, log_p = nade.sample(None, b_enc, b_dec, w_enc, w_dec_t, temperature=None)
  np.testing.assert_array_equal(np.asarray(bits), [[1.0, 1.0]])
  want = math.log(1e-6 + 0.5) + math.log(1e-6 + _sigmoid(1.0))
  np.testing.assert_allclose(float(log_p[0]), want, rtol=1e-6)


def test_sample_feeds_back_the_drawn_bit():
  b_enc, b_dec, w_enc, w_dec_t = _two_bit()
  # u_0 = 0.6 >= p_0 = 1/2 -> x_0 = 0, so p_1 = 1/2 and u_1 = 0.55 -> x_1 = 0;
  # with x_0 = 1 (u_0 = 0.4), p_1 = sigmoid(1) = 0.73 > 0.55 -> x_1 = 1.
  u = jnp.array([[0.6, 0.55], [0.4, 0.55]])
  bits, _ = nade.sample(None, jnp.tile(b_enc, (2, 1)), jnp.tile(b_dec, (2, 1)),
                        w_enc, w_dec_t, temperature=1.0, uniforms=u)
  np.testing.assert_array_equal(np.asarray(bits), [[0, 0], [1, 1]])
  # Temperature divides the logits: at T = 2, p_1 | x_0 = 1 is sigmoid(1/2) = 0.62.
  bits, _ = nade.sample(None, b_enc, b_dec, w_enc, w_dec_t, temperature=2.0,
                        uniforms=jnp.array([[0.4, 0.65]]))
  np.testing.assert_array_equal(np.asarray(bits), [[1, 0]])


def test_sample_frequencies_match_the_likelihood():
  b_enc, b_dec, w_enc, w_dec_t = _two_bit()
  n = 20000
  bits, _ = nade.sample(jax.random.key(0), jnp.tile(b_enc, (n, 1)),
                        jnp.tile(b_dec, (n, 1)), w_enc, w_dec_t, temperature=1.0)
  codes = np.asarray(bits[:, 0] * 2 + bits[:, 1]).astype(int)
  freq = np.bincount(codes, minlength=4) / n
  s = _sigmoid(1.0)
  np.testing.assert_allclose(freq, [0.25, 0.25, 0.5 * (1 - s), 0.5 * s], atol=0.015)


def test_split_biases_and_params_shapes():
  proj = jnp.arange(2 * 7, dtype=jnp.float32).reshape(2, 7)
  b_enc, b_dec = nade.split_biases(proj, 4)
  assert b_enc.shape == (2, 4) and b_dec.shape == (2, 3)
  np.testing.assert_array_equal(np.asarray(b_dec[0]), [4, 5, 6])
  params = nade.NadeParams(num_dims=9, num_hidden=5).init(jax.random.key(0))
  assert params['params']['w_enc'].shape == (9, 1, 5)
  assert params['params']['w_dec_t'].shape == (9, 5, 1)
  assert float(jnp.max(jnp.abs(params['params']['w_enc']))) <= 2.0 / 3.0 + 1e-6
