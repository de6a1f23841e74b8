"""Evaluation metrics, with values worked by hand."""

import math

import jax
import numpy as np
import pytest

from musicvae_jax import metrics


def test_accuracy_counts_by_hand():
  # 2 windows x 4 steps; the second window's last 2 steps are padding.
  pred = np.array([[0, 5, 1, 0], [3, 3, 7, 7]])
  target = np.array([[0, 5, 0, 0], [3, 4, 9, 9]])
  mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], np.float32)
  correct, count = metrics.accuracy_counts(pred, target, mask)
  # window 0: 3 of 4 right; window 1: 1 of 2 real steps right.
  assert (float(correct), float(count)) == (4.0, 6.0)
  assert metrics.ratio(correct, count) == pytest.approx(4 / 6)


def test_bar_accuracy_counts_by_hand():
  pred = np.array([[[2], [0], [1], [1]]])
  target = np.array([[[2], [0], [0], [1]]])
  mask = np.ones((1, 4), np.float32)
  correct, count = metrics.bar_accuracy_counts(pred, target, mask, num_bars=2)
  np.testing.assert_array_equal(correct, [2, 1])
  np.testing.assert_array_equal(count, [2, 2])


def test_melody_onset_f1_by_hand():
  # target starts pitches at steps 0 and 2 (tokens 40, 50); prediction starts
  # 40 at step 0 (right), 51 at step 2 (wrong pitch) and 60 at step 3 (extra).
  target = np.array([[40, 0, 50, 1]])
  pred = np.array([[40, 0, 51, 60]])
  mask = np.ones((1, 4), np.float32)
  tp, n_pred, n_true = metrics.melody_onset_counts(pred, target, mask)
  assert (float(tp), float(n_pred), float(n_true)) == (1, 3, 2)
  scores = metrics.f1(tp, n_pred, n_true)
  # precision 1/3, recall 1/2, F1 = 2 * (1/6) / (5/6) = 0.4
  assert scores == pytest.approx({'precision': 1 / 3, 'recall': 0.5, 'f1': 0.4})
  # masked steps count nothing
  tp, n_pred, n_true = metrics.melody_onset_counts(
      pred, target, np.array([[1, 1, 0, 0]], np.float32))
  assert (float(tp), float(n_pred), float(n_true)) == (1, 1, 1)


def test_f1_empty_is_zero():
  assert metrics.f1(0, 0, 0) == {'precision': 0.0, 'recall': 0.0, 'f1': 0.0}


def test_drum_onsets_per_class_by_hand():
  # token 0b101 = classes 0 and 2; 0b001 = class 0; 0b010 = class 1.
  target = np.array([[0b101, 0, 0b010]])
  pred = np.array([[0b001, 0b010, 0b010]])
  mask = np.ones((1, 3), np.float32)
  tp, n_pred, n_true = metrics.drum_onset_counts(pred, target, mask, 3)
  np.testing.assert_array_equal(tp, [1, 1, 0])
  np.testing.assert_array_equal(n_pred, [1, 2, 0])
  np.testing.assert_array_equal(n_true, [1, 1, 1])
  np.testing.assert_array_equal(metrics.drum_bits(np.array(6), 4), [0, 1, 1, 0])


def test_silent_windows_by_hand():
  # 3 windows, melody + drums parts: window 0 has a drum hit, window 1 only
  # NO_EVENT / NOTE_OFF and no hits (silent), window 2 a melody onset but is
  # a padding row (weight 0).
  pred = np.zeros((3, 2, 2), np.int32)
  pred[0, 1, 1] = 4
  pred[1, 0, 0] = 1
  pred[2, 0, 0] = 30
  mask = np.ones((3, 2), np.float32)
  silent = metrics.silent_windows(pred, mask, np.array([1., 1., 0.]),
                                  ('melody', 'drums'))
  assert float(silent) == 1.0


def test_active_units_by_hand():
  # dim 0 varies (variance 1), dim 1 barely (variance 0.0025), dim 2 not at all.
  mu = np.array([[1.0, 0.05, 3.0], [-1.0, -0.05, 3.0]])
  assert metrics.active_units(mu) == 1
  assert metrics.active_units(mu, threshold=0.001) == 2
  assert metrics.active_units(mu[:1]) == 0


def test_log_mean_exp_by_hand():
  x = np.log(np.array([[1.0, 2.0], [3.0, 6.0]]))
  np.testing.assert_allclose(metrics.log_mean_exp(x, axis=0), np.log([2.0, 4.0]),
                             rtol=1e-6)
  big = np.array([1000.0, 1000.0])
  assert float(metrics.log_mean_exp(big)) == pytest.approx(1000.0)


def _linear_gaussian_log_px(x, s):
  """p(z) = N(0, 1), p(x|z) = N(z, s^2)  =>  p(x) = N(0, 1 + s^2)."""
  var = 1.0 + s * s
  return -0.5 * (math.log(2 * math.pi * var) + x * x / var)


def _log_px_given_z(x, z, s):
  return -0.5 * (np.log(2 * np.pi * s * s) + (x - z[..., 0]) ** 2 / (s * s))


def test_importance_log_likelihood_exact_posterior():
  # With q = the true posterior N(x / (1 + s^2), s^2 / (1 + s^2)) every
  # importance weight equals p(x), so even K = 3 gives log p(x) exactly.
  s, x = 0.5, np.array([0.3, -1.2])
  mu = (x / (1 + s * s))[:, None]
  sigma = np.full_like(mu, math.sqrt(s * s / (1 + s * s)))
  eps = np.asarray(jax.random.normal(jax.random.key(0), (3, 2, 1)))
  z = mu[None] + sigma[None] * eps
  got = metrics.importance_log_likelihood(_log_px_given_z(x, z, s), z, mu, sigma)
  want = [_linear_gaussian_log_px(v, s) for v in x]
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_importance_log_likelihood_converges_with_a_poor_posterior():
  # q = N(0, 1) (the prior) is a poor proposal: K = 1 is far below log p(x)
  # on average (the ELBO gap), large K comes within 0.02 nats.
  s, x = 1.0, np.array([1.0])
  mu, sigma = np.zeros((1, 1)), np.ones((1, 1))
  want = _linear_gaussian_log_px(1.0, s)
  z = np.asarray(jax.random.normal(jax.random.key(1), (20000, 1, 1)))
  log_px_z = _log_px_given_z(x, z, s)
  many = float(metrics.importance_log_likelihood(log_px_z, z, mu, sigma)[0])
  assert many == pytest.approx(want, abs=0.02)
  elbo = float(np.mean(log_px_z + metrics.standard_normal_log_density(z)
                       - metrics.gaussian_log_density(z, mu, sigma)))
  assert elbo < want - 0.2


def test_gaussian_log_density_by_hand():
  # N(1; 0, 2^2) in 1-D: -0.5 * (log(2 pi) + 2 log 2 + 1/4)
  got = metrics.gaussian_log_density(np.array([[1.0]]), np.zeros((1, 1)),
                                     np.full((1, 1), 2.0))
  assert float(got[0]) == pytest.approx(
      -0.5 * (math.log(2 * math.pi) + 2 * math.log(2) + 0.25))
