"""Loss terms against hand-computed values."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import losses


def test_reconstruction_loss_sums_over_time_and_masks():
  # Two steps, 3 classes. Uniform logits -> ln 3 per step.
  logits = jnp.zeros((1, 2, 3))
  targets = jnp.array([[[0], [2]]])
  full = losses.reconstruction_loss(logits, targets, jnp.ones((1, 2)), (3,))
  half = losses.reconstruction_loss(logits, targets, jnp.array([[1.0, 0.0]]), (3,))
  assert float(full[0]) == pytest.approx(2 * math.log(3), rel=1e-6)
  assert float(half[0]) == pytest.approx(math.log(3), rel=1e-6)


def test_cross_entropy_by_hand():
  logits = jnp.array([[[2.0, 0.0, -1.0]]])
  targets = jnp.array([[[0]]])
  expected = -(2.0 - math.log(math.exp(2) + 1 + math.exp(-1)))
  got = losses.step_cross_entropy(logits, targets, (3,))
  assert float(got[0, 0]) == pytest.approx(expected, rel=1e-6)


def test_multi_part_cross_entropy_adds_parts():
  logits = jnp.zeros((1, 1, 5))  # parts of 2 and 3 classes
  targets = jnp.array([[[1, 2]]])
  got = losses.step_cross_entropy(logits, targets, (2, 3))
  assert float(got[0, 0]) == pytest.approx(math.log(2) + math.log(3), rel=1e-6)


def test_kl_divergence_by_hand():
  mu = jnp.array([[1.0, 0.0]])
  sigma = jnp.array([[1.0, 0.5]])
  # 0.5 * [(1 + 1 - 1 - 0) + (0 + 0.25 - 1 - 2 ln 0.5)]
  expected = 0.5 * (1.0 + (0.25 - 1 - 2 * math.log(0.5)))
  assert float(losses.kl_divergence(mu, sigma)[0]) == pytest.approx(expected, rel=1e-6)
  assert float(losses.kl_divergence(jnp.zeros((1, 4)), jnp.ones((1, 4)))[0]) == 0.0


def test_free_bits_on_total_kl():
  kl = jnp.array([10.0, 100.0, 200.0])
  # 48 free bits = 48 ln 2 = 33.27 nats
  got = losses.kl_cost(kl, 48)
  np.testing.assert_allclose(got, [0.0, 100 - 48 * math.log(2), 200 - 48 * math.log(2)], rtol=1e-6)


def test_accuracy_counts_and_event_accuracy():
  # predictions: argmax -> [0, 1, 1]; targets [0, 1, 2]
  logits = jnp.array([[[5.0, 0, 0], [0, 5.0, 0], [0, 5.0, 0]]])
  targets = jnp.array([[[0], [1], [2]]])
  acc = losses.accuracy_counts(logits, targets, jnp.ones((1, 3)), (3,))
  assert float(acc['correct'][0]) == 2 and float(acc['count'][0]) == 3
  # NO_EVENT (class 0) is left out of the event accuracy: 1 of 2.
  assert float(acc['event_correct'][0]) == 1 and float(acc['event_count'][0]) == 2


def test_per_class_counts():
  pred = jnp.array([[0, 1, 1, 2]])
  tgt = jnp.array([[0, 1, 2, 2]])
  hits, counts = losses.per_class_counts(pred, tgt, jnp.ones((1, 4)), 3)
  np.testing.assert_array_equal(hits, [1, 1, 1])
  np.testing.assert_array_equal(counts, [1, 1, 2])
