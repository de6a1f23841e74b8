"""Windows -> batches: seeded shuffling, transposition, per-host shares,
prefetching, and an iterator state that a checkpoint can hold.

The training stream is an endless sequence of epochs. Epoch `e` takes, from
every file, at most `max_windows` of its windows (a fresh random choice each
epoch, as Magenta's on-the-fly conversion does) and shuffles them, all from
`seed` and `e` alone. Batches are consecutive slices of that stream, crossing
epoch boundaries, so nothing is ever dropped. The state `(epoch, offset,
batch)` says where the stream stands; restoring it gives exactly the batches
the uninterrupted run would have seen.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np

from musicvae_jax.data.cache import WindowSet


def epoch_order(file_ids: np.ndarray, max_windows: int, seed: int,
                epoch: int) -> np.ndarray:
  """Indices of the windows used in `epoch`, shuffled: int64 [M]."""
  rng = np.random.default_rng([seed, epoch])
  if max_windows:
    # A random key per window; keep each file's `max_windows` smallest keys.
    keys = rng.random(len(file_ids))
    order = np.lexsort((keys, file_ids))
    ranks = np.empty(len(order), np.int64)
    starts = np.searchsorted(file_ids[order], file_ids[order], side='left')
    ranks[order] = np.arange(len(order)) - starts
    chosen = np.flatnonzero(ranks < max_windows)
  else:
    chosen = np.arange(len(file_ids))
  return rng.permutation(chosen)


def _batch(tokens: np.ndarray, weights: np.ndarray | None = None,
           converter=None, row_seeds=None,
           num_controls: int | None = None) -> dict[str, np.ndarray]:
  """A batch of windows. A converter that `makes_batches` (GrooVAE) builds its
  own keys from its windows (and per-row seeds for its random input
  transformations). Token windows `[B, T, K + C]` become `tokens`, and their
  last `num_controls` columns (default: the converter's `control_depths`,
  e.g. chord classes) become `controls`."""
  if converter is not None and converter.makes_batches:
    return converter.make_batch(tokens, weights, row_seeds)
  if num_controls is None:
    num_controls = 0 if converter is None else len(converter.control_depths)
  tokens = tokens.astype(np.int32)
  batch = {
      'tokens': tokens[..., :tokens.shape[-1] - num_controls],
      'lengths': np.full((len(tokens),), tokens.shape[1], np.int32),
      'weights': np.ones((len(tokens),), np.float32) if weights is None else weights,
  }
  if num_controls:
    batch['controls'] = tokens[..., -num_controls:]     # int32 [B, T, C]
  return batch


class TrainBatches:
  """Endless, resumable training batches for one process.

  Each process gets rows `[i * B / P, (i + 1) * B / P)` of every global batch,
  so the global batches are the same whatever the number of processes.
  """

  def __init__(self, data: WindowSet, converter, batch_size: int, seed: int,
               max_transpose: int = 0, max_windows: int = 5,
               process_index: int = 0, process_count: int = 1, prefetch: int = 2):
    if batch_size % process_count:
      raise ValueError(f'config.batch_size={batch_size} does not divide over '
                       f'{process_count} processes')
    if len(data) == 0:
      raise ValueError('no training windows')
    self.data, self.converter = data, converter
    self.batch_size, self.seed = batch_size, seed
    self.max_transpose, self.max_windows = max_transpose, max_windows
    self.local = batch_size // process_count
    self.row0 = process_index * self.local
    self.prefetch = max(0, prefetch)
    self._state = {'epoch': 0, 'offset': 0, 'batch': 0}
    self._orders: dict[int, np.ndarray] = {}
    self._queue = None
    self._thread = None
    self._stop = threading.Event()

  # -- the stream ------------------------------------------------------------
  def _order(self, epoch: int) -> np.ndarray:
    if epoch not in self._orders:
      self._orders = {epoch: epoch_order(self.data.file_ids, self.max_windows,
                                         self.seed, epoch)}
    return self._orders[epoch]

  def _make(self, state: dict) -> tuple[dict, dict]:
    """The batch at `state` and the state after it."""
    epoch, offset = state['epoch'], state['offset']
    picked = []
    need = self.batch_size
    while need:
      order = self._order(epoch)
      take = order[offset:offset + need]
      picked.append(take)
      need -= len(take)
      offset += len(take)
      if offset >= len(order):
        epoch, offset = epoch + 1, 0
    index = np.concatenate(picked)[self.row0:self.row0 + self.local]
    tokens = self.data.windows[index]
    if self.max_transpose:
      rng = np.random.default_rng([self.seed, 1_000_003, state['batch']])
      shifts = rng.integers(-self.max_transpose, self.max_transpose + 1,
                            size=self.batch_size)[self.row0:self.row0 + self.local]
      # Unlike Magenta, which drops an example whose transposition leaves the
      # pitch range, we keep it untransposed so batches stay full.
      tokens, _ = self.converter.transpose(tokens, shifts)
    after = {'epoch': epoch, 'offset': offset, 'batch': state['batch'] + 1}
    # Seeds of random input transformations (note dropout): from the global
    # row and batch number, so resumed runs and any process count agree.
    rows = [(self.seed, state['batch'], r)
            for r in range(self.row0, self.row0 + self.local)]
    return _batch(tokens, converter=self.converter, row_seeds=rows), after

  def _producer(self, state: dict, out: queue.Queue, stop: threading.Event) -> None:
    try:
      while not stop.is_set():
        batch, state = self._make(state)
        while not stop.is_set():
          try:
            out.put((batch, state), timeout=0.1)
            break
          except queue.Full:
            continue
    except Exception as error:  # surface producer errors in the consumer
      out.put(error)

  def _start(self) -> None:
    self._stop = threading.Event()
    self._queue = queue.Queue(maxsize=self.prefetch)
    self._thread = threading.Thread(
        target=self._producer, args=(dict(self._state), self._queue, self._stop),
        daemon=True)
    self._thread.start()

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    if not self.prefetch:
      batch, self._state = self._make(self._state)
      return batch
    if self._thread is None:
      self._start()
    item = self._queue.get()
    if isinstance(item, Exception):
      raise item
    batch, self._state = item
    return batch

  # -- resumability ------------------------------------------------------------
  def get_state(self) -> dict[str, int]:
    """Position after the last batch handed out (JSON-serialisable)."""
    return dict(self._state)

  def set_state(self, state: dict) -> None:
    self.close()
    self._state = {'epoch': int(state['epoch']), 'offset': int(state['offset']),
                   'batch': int(state['batch'])}

  def close(self) -> None:
    if self._thread is not None:
      self._stop.set()
      self._thread.join(timeout=5)
      self._thread = None


def eval_batches(data: WindowSet, batch_size: int, max_windows: int = 5,
                 converter=None, num_controls: int | None = None
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Fixed eval batches: each file's first `max_windows` windows, in order.

  The last batch is padded to `batch_size` with weight-0 rows, so shapes never
  change (no recompilation).
  """
  order = np.arange(len(data))
  if max_windows:
    first = np.searchsorted(data.file_ids, data.file_ids, side='left')
    # file_ids are grouped in file order after deduplication
    order = order[(order - first) < max_windows]
  for start in range(0, len(order), batch_size):
    index = order[start:start + batch_size]
    tokens = data.windows[index]
    weights = np.ones(len(index), np.float32)
    pad = batch_size - len(index)
    if pad:
      tokens = np.concatenate([tokens, np.zeros((pad,) + tokens.shape[1:], tokens.dtype)])
      weights = np.concatenate([weights, np.zeros(pad, np.float32)])
    yield _batch(tokens, weights, converter,
                 [(1_000_000_007, int(i)) for i in range(start, start + batch_size)],
                 num_controls)


def split_by_file(data: WindowSet, eval_fraction: float, seed: int
                  ) -> tuple[WindowSet, WindowSet]:
  """Holds out a deterministic `eval_fraction` of the FILES for evaluation."""
  used = np.unique(data.file_ids)
  rng = np.random.default_rng([seed, 42])
  count = max(1, int(round(len(used) * eval_fraction))) if len(used) > 1 else 0
  held = rng.choice(used, size=count, replace=False) if count else np.array([], int)
  mask = np.zeros(len(data.files), bool)
  mask[held] = True
  return data.subset(~mask), data.subset(mask)
