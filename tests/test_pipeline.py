"""Batch stream: determinism, endless epochs, transposition, per-process
shares, prefetch, exact resume, padded eval batches."""

from __future__ import annotations

import numpy as np
import pytest

from musicvae_jax.data import cache, converters, encodings, pipeline


def data(n_files=7, per_file=5, steps=32, seed=0):
  rng = np.random.default_rng(seed)
  n = n_files * per_file
  windows = rng.integers(encodings.FIRST_PITCH_TOKEN + 10, encodings.MELODY_CLASSES - 10,
                         (n, steps, 1)).astype(np.int16)
  windows[:, 1::2] = encodings.NO_EVENT
  windows[:, 0, 0] = np.arange(n)  # every window distinct and identifiable
  file_ids = np.repeat(np.arange(n_files), per_file).astype(np.int32)
  return cache.WindowSet(windows, file_ids, [f'f{i}' for i in range(n_files)], {})


def stream(ws=None, **kwargs):
  args = dict(batch_size=8, seed=3, max_transpose=0, max_windows=3, prefetch=0)
  args.update(kwargs)
  return pipeline.TrainBatches(ws or data(), converters.MelodyConverter(), **args)


def take(it, n):
  return [next(it) for _ in range(n)]


def test_seeded_determinism():
  a, b = take(stream(), 6), take(stream(), 6)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x['tokens'], y['tokens'])
  c = take(stream(seed=4), 6)
  assert any(not np.array_equal(x['tokens'], y['tokens']) for x, y in zip(a, c))


def test_endless_epochs_cross_boundaries():
  ws = data()
  it = stream(ws)
  per_epoch = 7 * 3
  batches = take(it, 10)  # 80 windows > 3 epochs of 21
  assert all(b['tokens'].shape == (8, 32, 1) for b in batches)
  ids = np.concatenate([b['tokens'][:, 0, 0] for b in batches])
  for e in range(3):
    epoch = ids[e * per_epoch:(e + 1) * per_epoch]
    assert len(set(epoch.tolist())) == per_epoch  # no window twice in an epoch
    files = ws.file_ids[epoch]
    assert np.bincount(files, minlength=7).tolist() == [3] * 7  # max_windows per file
  assert it.get_state()['epoch'] == 3


def test_transposition_in_range_and_valid():
  ws = data()
  plain = take(stream(ws, max_windows=0), 5)
  moved = take(stream(ws, max_windows=0, max_transpose=5), 5)
  changed = 0
  for p, m in zip(plain, moved):
    assert m['tokens'].min() >= 0 and m['tokens'].max() < encodings.MELODY_CLASSES
    pitch = p['tokens'] >= encodings.FIRST_PITCH_TOKEN
    np.testing.assert_array_equal(p['tokens'][~pitch], m['tokens'][~pitch])
    diff = (m['tokens'] - p['tokens'])[:, 1:][pitch[:, 1:]]
    assert np.abs(diff).max() <= 5
    changed += int((diff != 0).any())
  assert changed


def test_process_shares_concatenate_to_global_batch():
  whole = take(stream(max_transpose=3), 5)
  parts = [take(stream(max_transpose=3, process_index=i, process_count=2), 5) for i in range(2)]
  for b, p0, p1 in zip(whole, *parts):
    for key in b:
      np.testing.assert_array_equal(b[key], np.concatenate([p0[key], p1[key]]))
  with pytest.raises(ValueError, match='batch_size'):
    stream(batch_size=9, process_count=2)


def test_prefetch_gives_the_same_batches():
  a = take(stream(prefetch=0, max_transpose=2), 7)
  it = stream(prefetch=3, max_transpose=2)
  b = take(it, 7)
  it.close()
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x['tokens'], y['tokens'])


@pytest.mark.parametrize('prefetch', [0, 2])
def test_resume_gives_exactly_the_uninterrupted_batches(prefetch):
  full = take(stream(prefetch=prefetch, max_transpose=4), 12)
  first = stream(prefetch=prefetch, max_transpose=4)
  take(first, 5)
  state = first.get_state()
  first.close()
  resumed = stream(prefetch=prefetch, max_transpose=4)
  resumed.set_state(dict(state))
  rest = take(resumed, 7)
  resumed.close()
  for x, y in zip(full[5:], rest):
    for key in x:
      np.testing.assert_array_equal(x[key], y[key])


def test_eval_batches_are_padded_with_weight_zero():
  ws = data(n_files=3, per_file=5)
  batches = list(pipeline.eval_batches(ws, batch_size=4, max_windows=3))
  assert [b['tokens'].shape for b in batches] == [(4, 32, 1)] * 3
  weights = np.concatenate([b['weights'] for b in batches])
  assert weights.tolist() == [1.0] * 9 + [0.0] * 3
  ids = np.concatenate([b['tokens'][:, 0, 0] for b in batches])[:9]
  assert ids.tolist() == [0, 1, 2, 5, 6, 7, 10, 11, 12]  # first 3 per file, in order
  assert (batches[-1]['tokens'][1:] == 0).all()
  assert all(b['lengths'].tolist() == [32] * 4 for b in batches)
