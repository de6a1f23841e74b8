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


# One bar of 16th steps (pitch token = MIDI pitch - 19):
#   step  0 C4(60)  3 E4(64)  6 F#4(66)  7 off  10 G4(67)  11 A4(69)  12 off  13 C5(72)
PAPER_BAR = [41, 0, 0, 45, 0, 0, 47, 1, 0, 0, 48, 50, 1, 53, 0, 0]
# Three 16ths in a row from the downbeat: C D E, then held.
RUN_BAR = [41, 43, 45] + [0] * 13


def test_paper_attributes_hand_counted():
  w = window(PAPER_BAR)
  assert attributes.note_density(w)[0] == pytest.approx(6 / 16)
  # F#4 is the one pitch outside C major
  assert attributes.c_diatonic(w)[0] == pytest.approx(5 / 6)
  # |64-60| + |66-64| + |67-66| + |69-67| + |72-69| = 4 + 2 + 1 + 2 + 3 over 5 intervals
  assert attributes.average_interval(w)[0] == pytest.approx(12 / 5)
  # odd steps with an onset: 3 (step 2 empty: yes), 11 (step 10 has G4: no),
  # 13 (step 12 is a NOTE_OFF, no onset: yes)
  assert attributes.syncopation_16th(w)[0] == pytest.approx(2 / 6)
  # off-beat 8ths (2, 6, 10, 14) with an onset: 6 (steps 4, 5 empty) and 10 (8, 9 empty)
  assert attributes.syncopation_8th(w)[0] == pytest.approx(2 / 6)


def test_syncopation_needs_the_grid_point_before_empty():
  w = window(RUN_BAR)
  assert attributes.syncopation_16th(w)[0] == 0   # step 1 follows the onset at 0
  assert attributes.syncopation_8th(w)[0] == 0    # step 2 follows the onset at 1
  assert attributes.average_interval(w)[0] == pytest.approx(2.0)
  assert attributes.c_diatonic(w)[0] == 1


def test_paper_attributes_without_notes_are_nan():
  empty, one = window([0] * 16), window([41] + [0] * 15)
  for name in ('c_diatonic', 'average_interval', 'syncopation_16th', 'syncopation_8th'):
    assert np.isnan(attributes.compute(name, empty)[0]), name
  assert np.isnan(attributes.average_interval(one)[0])   # one note: no interval
  assert attributes.c_diatonic(one)[0] == 1


def test_compute_all_is_every_attribute_of_the_same_windows():
  w = np.concatenate([window(PAPER_BAR), window(RUN_BAR)])
  values = attributes.compute_all(w)
  assert list(values) == list(attributes.ATTRIBUTES)
  for name, v in values.items():
    np.testing.assert_array_equal(v, attributes.compute(name, w))
  assert set(attributes.PAPER_ATTRIBUTES) <= set(values)
  assert list(attributes.compute_all(w, ['c_diatonic'])) == ['c_diatonic']
  with pytest.raises(ValueError, match='unknown attribute'):
    attributes.compute_all(w, ['loudness'])


def test_apply_and_relative_change():
  z = np.zeros((2, 3), np.float32)
  np.testing.assert_allclose(attributes.apply(z, [1, 2, 3], -0.5),
                             [[-0.5, -1, -1.5]] * 2)
  with pytest.raises(ValueError, match='size'):
    attributes.apply(z, [1, 2], 1.0)
  # base mean 2, moved mean 3 (NaN rows ignored): +50 %
  assert attributes.relative_change([1, 3, np.nan], [3, 3, 3]) == pytest.approx(0.5)
  assert np.isnan(attributes.relative_change([0, 0], [1, 1]))
  assert np.isnan(attributes.relative_change([np.nan], [1]))


def test_attribute_vectors_share_the_encodings():
  mu = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
  vecs = attributes.attribute_vectors(mu, {'up': np.arange(4.0), 'down': -np.arange(4.0)})
  np.testing.assert_allclose(vecs['up'], [3.0, 1.0])
  np.testing.assert_allclose(vecs['down'], [-3.0, -1.0])


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
