"""The attribute-effects matrix, on a stand-in model whose latent is the onset count."""

import numpy as np
import pytest

from musicvae_jax import attribute_effects


class CountModel:
  """z[0] = number of onsets; decoding writes that many C4s on even steps of 16."""

  def split_windows(self, windows):
    return windows, None

  def encode_tensors(self, windows):
    mu = (windows[..., 0] >= 2).sum(-1, keepdims=True).astype(np.float32)
    return mu, mu, np.ones_like(mu)

  def decode_to_tensors(self, z, *, temperature, seed, controls):
    assert controls is None
    out = np.zeros((len(z), 16, 1), np.int32)
    for i, count in enumerate(np.clip(np.round(z[:, 0]), 0, 8).astype(int)):
      out[i, 0:2 * count:2, 0] = 41
    return out


def windows_with(counts):
  return CountModel().decode_to_tensors(np.array(counts, np.float32)[:, None],
                                        temperature=0, seed=0, controls=None)


def test_density_vector_moves_density_by_the_hand_counted_amount():
  effects = attribute_effects.measure(CountModel(), windows_with([1, 2, 3, 4]),
                                      names=['note_density'], strengths=(1.0, -1.0))
  # vector = top quarter (4) - bottom quarter (1) = 3 onsets; base mean 2.5 onsets
  # +1: counts 4..7, mean 5.5 -> +3 / 2.5 = +120 %
  assert effects.change[1.0][0, 0] == pytest.approx(1.2)
  # -1: counts -2..1 clipped to 0, 0, 0, 1: mean 0.25 -> -2.25 / 2.5 = -90 %
  assert effects.change[-1.0][0, 0] == pytest.approx(-0.9)
  assert effects.windows == effects.applied == 4
  assert effects.base_means['note_density'] == pytest.approx(2.5 / 16)
  table = attribute_effects.markdown_table(effects, 1.0)
  assert table.splitlines()[2] == '| +1 x note_density | **+120 %** |'


def test_every_paper_attribute_is_measured_by_default():
  effects = attribute_effects.measure(CountModel(), windows_with([1, 2, 3, 4, 5, 6, 7, 8]),
                                      strengths=(1.0,), applied=4)
  assert effects.names == ['c_diatonic', 'note_density', 'average_interval',
                           'syncopation_16th', 'syncopation_8th']
  assert effects.change[1.0].shape == (5, 5) and effects.applied == 4
  # all C4s: c_diatonic never moves; no syncopation, so its base mean is 0: n/a
  assert effects.change[1.0][1, 0] == 0
  assert np.isnan(effects.change[1.0][1, 3])
  assert 'n/a' in attribute_effects.markdown_table(effects, 1.0)


def test_too_few_windows_is_one_line():
  with pytest.raises(ValueError, match='at least 4'):
    attribute_effects.measure(CountModel(), windows_with([1, 2]))
