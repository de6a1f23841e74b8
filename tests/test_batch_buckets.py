"""Batch-size buckets: the plan worked by hand, and padded batches giving the
real rows exactly what an unpadded batch gives (tokens, mu, sampling noise)
for each kind of decoder (flat and hierarchical categorical, chord
controls, NADE, GrooVAE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicvae_jax import batch_buckets

from conftest import fresh_params

REPO = Path(__file__).resolve().parents[1]


def test_ladder_plan_and_padding_by_hand():
  assert batch_buckets.ladder(256) == (1, 2, 4, 8, 16, 32, 64, 128, 256)
  assert batch_buckets.ladder(6) == (1, 2, 4, 6)       # capped at max_batch
  assert batch_buckets.ladder(1) == (1,)
  sizes = batch_buckets.ladder(256)
  assert batch_buckets.plan(5, 256, sizes) == [(0, 5, 8)]
  assert batch_buckets.plan(300, 256, sizes) == [(0, 256, 256), (256, 300, 64)]
  assert batch_buckets.plan(0, 256, sizes) == []
  assert batch_buckets.plan(5, 256, ()) == [(0, 5, 5)]  # no bucketing
  assert batch_buckets.plan(10, 4, (1, 2, 4)) == [(0, 4, 4), (4, 8, 4), (8, 10, 2)]
  # samples of 1..16 and walks of up to 33 windows
  assert batch_buckets.shapes_up_to(16, sizes, 256) == (1, 2, 4, 8, 16)
  assert batch_buckets.shapes_up_to(33, sizes, 256) == (1, 2, 4, 8, 16, 32, 64)
  assert batch_buckets.shapes_up_to(10, (1, 2, 4), 4) == (1, 2, 4)
  assert batch_buckets.check_sizes([4, 1, 2, 2], 4) == (1, 2, 4)
  with pytest.raises(ValueError, match='each must be 1..max_batch=4'):
    batch_buckets.check_sizes([8], 4)
  with pytest.raises(ValueError, match='at least 1'):
    batch_buckets.ladder(0)
  x = np.arange(6, dtype=np.int32).reshape(3, 2)
  padded = batch_buckets.pad_rows(x, 4)
  assert padded.dtype == np.int32 and padded.shape == (4, 2)
  np.testing.assert_array_equal(padded, [[0, 1], [2, 3], [4, 5], [0, 0]])
  assert batch_buckets.pad_rows(x, 3) is x
  with pytest.raises(ValueError, match='3 rows do not fit a batch of 2'):
    batch_buckets.pad_rows(x, 2)


def test_a_taller_random_draw_starts_with_the_shorter_one():
  """What padding relies on: with threefry partitionable (jax's default),
  rows 0..n-1 of a `[m, ...]` draw are the `[n, ...]` draw (same key)."""
  import jax
  assert jax.config.jax_threefry_partitionable
  key = jax.random.key(7)
  for draw in (lambda s: jax.random.gumbel(key, s), lambda s: jax.random.normal(key, s),
               lambda s: jax.random.uniform(key, s),
               lambda s: jax.random.bernoulli(key, 0.3, s)):
    np.testing.assert_array_equal(np.asarray(draw((8, 3, 5)))[:5], np.asarray(draw((5, 3, 5))))


def _models(spec: str):
  """(bucketed, unbucketed) TrainedModels over the same fresh parameters."""
  from musicvae_jax import config_base, family
  config = config_base.load_config_file(str(REPO / spec))
  params = fresh_params(config)
  cls = family.get(config).trained_model_class()
  return cls(config, params, max_batch=16), cls(config, params, max_batch=16, buckets=())


@pytest.mark.parametrize('spec', ['configs/mel_2bar.py:tiny', 'configs/hier.py:tiny',
                                  'configs/mel_2bar_chords.py:tiny',
                                  'configs/nade_drums_2bar.py:tiny',
                                  'configs/groovae_2bar_humanize.py:tiny'])
def test_padded_batches_give_the_unpadded_results(spec):
  """5 rows padded to 8 (and 19 = 16 + 3 padded to 4) against the same rows
  computed at exactly 5 (16 + 3): same sampled tokens at temperature 1 for
  the same seed, same mu, sigma and z."""
  bucketed, exact = _models(spec)
  assert bucketed.buckets == (1, 2, 4, 8, 16) and exact.buckets == ()
  rng = np.random.default_rng(0)
  for n in (5, 19):
    z = rng.standard_normal((n, bucketed.config.z_size)).astype(np.float32)
    a = bucketed.decode_to_tensors(z, temperature=1.0, seed=3)
    b = exact.decode_to_tensors(z, temperature=1.0, seed=3)
    assert a.shape[0] == n
    np.testing.assert_array_equal(a, b)
    windows = (a > 0.5).astype(np.float32) if bucketed.config.get('output_family') == 'groove' else a
    if bucketed.config.get('output_family') == 'groove':
      enc_a, enc_b = bucketed.encode_windows(windows), exact.encode_windows(windows)
    else:
      enc_a, enc_b = bucketed.encode_tensors(windows), exact.encode_tensors(windows)
    for x, y in zip(enc_a, enc_b):   # z, mu, sigma
      np.testing.assert_array_equal(x, y)
