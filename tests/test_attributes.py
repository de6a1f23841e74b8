"""Attribute functions and vectors, against hand-counted values."""

import numpy as np
import pytest

from musicvae_jax import attributes
from musicvae_jax.trained_model import slerp


def window(tokens):
  return np.asarray(tokens, np.int16)[None, :, None]


def test_note_density_and_pitch():
  # pitch tokens: 2 + (pitch - 21); 60 -> 41, 64 -> 45
  w = window([41, 0, 1, 0, 45, 0, 0, 0])
  assert attributes.note_density(w)[0] == pytest.approx(2 / 8)
  assert attributes.mean_pitch(w)[0] == pytest.approx(62.0)
  assert attributes.pitch_range(w)[0] == pytest.approx(4.0)
  # sounding: steps 0-1 (note 60), 4-7 (note 64) -> 6 of 8 steps; rests 2-3
  assert attributes.rest_fraction(w)[0] == pytest.approx(2 / 8)


def test_empty_window():
  w = window([0] * 8)
  assert attributes.note_density(w)[0] == 0
  assert np.isnan(attributes.mean_pitch(w)[0])
  assert attributes.pitch_range(w)[0] == 0
  assert attributes.rest_fraction(w)[0] == 1


def test_attribute_vector_is_top_minus_bottom_mean():
  mu = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
  values = np.array([0.0, 1.0, 2.0, 3.0])
  vec = attributes.attribute_vector(mu, values, fraction=0.25)
  np.testing.assert_allclose(vec, [3.0, 1.0])
  with pytest.raises(ValueError, match='too few'):
    attributes.attribute_vector(mu[:2], values[:2], fraction=0.25)


def test_unknown_attribute_is_named():
  with pytest.raises(ValueError, match='unknown attribute'):
    attributes.compute('loudness', window([0] * 4))


def test_slerp_endpoints_and_norm():
  a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
  np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
  np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-6)
  mid = slerp(a, b, 0.5)
  np.testing.assert_allclose(mid, [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
  # parallel vectors fall back to a straight line
  np.testing.assert_allclose(slerp(a, 2 * a, 0.5), 1.5 * a, atol=1e-6)
