"""Batch-size buckets: few compiled shapes for any number of rows.

A jitted function compiles once per input shape. `TrainedModel` therefore
cuts a batch of `n` rows into chunks of at most `max_batch` rows and pads
each chunk up to the next size of a ladder (by default the powers of two up
to `max_batch`), then slices the outputs back to the real rows:

    plan(5, 256, ladder(256))   -> [(0, 5, 8)]                 # 5 rows padded to 8
    plan(300, 256, ladder(256)) -> [(0, 256, 256), (256, 300, 64)]
    plan(5, 256, ())            -> [(0, 5, 5)]                 # no bucketing

so a model compiles at most `len(ladder)` shapes per entry point. Padding
rows are zeros and every row is computed on its own (no op mixes rows), so
the real rows come out as they would unpadded (the sampling noise too:
see `TrainedModel.decode_to_tensors`). Pure functions (numpy only).
"""

from __future__ import annotations

import numpy as np


def ladder(max_batch: int) -> tuple[int, ...]:
  """Powers of two below `max_batch`, then `max_batch`: (1, 2, 4, ..., max_batch)."""
  max_batch = int(max_batch)
  if max_batch < 1:
    raise ValueError(f'max_batch={max_batch}: it must be at least 1')
  sizes, size = [], 1
  while size < max_batch:
    sizes.append(size)
    size *= 2
  return tuple(sizes) + (max_batch,)


def check_sizes(sizes, max_batch: int) -> tuple[int, ...]:
  """`sizes` as a sorted tuple, checked: positive and none above `max_batch`;
  `()` (no bucketing) stays `()`. Raises ValueError with one line."""
  sizes = tuple(sorted({int(s) for s in sizes}))
  if sizes and (sizes[0] < 1 or sizes[-1] > max_batch):
    raise ValueError(f'batch buckets {sizes}: each must be 1..max_batch={max_batch}')
  return sizes


def bucket(rows: int, sizes: tuple[int, ...]) -> int:
  """The smallest size in `sizes` holding `rows` (`rows` itself when no size
  does, or `sizes` is empty: no bucketing)."""
  for size in sizes:
    if size >= rows:
      return size
  return rows


def plan(n: int, max_batch: int, sizes: tuple[int, ...]) -> list[tuple[int, int, int]]:
  """Chunks of `n` rows: `(start, stop, padded size)` each, at most
  `max_batch` real rows per chunk, padded to `bucket(stop - start, sizes)`."""
  out = []
  for start in range(0, int(n), max_batch):
    stop = min(int(n), start + max_batch)
    out.append((start, stop, bucket(stop - start, sizes)))
  return out


def shapes_up_to(rows: int, sizes: tuple[int, ...], max_batch: int) -> tuple[int, ...]:
  """Every padded size a batch of 1..`rows` rows can use (what to compile
  ahead so that no such batch compiles)."""
  used = {size for n in range(1, int(rows) + 1) for _, _, size in plan(n, max_batch, sizes)}
  return tuple(sorted(used))


def pad_rows(x: np.ndarray, size: int) -> np.ndarray:
  """`x [n, ...]` with zero rows appended to `[size, ...]` (`size >= n`)."""
  x = np.asarray(x)
  extra = size - len(x)
  if extra < 0:
    raise ValueError(f'{len(x)} rows do not fit a batch of {size}')
  if not extra:
    return x
  return np.concatenate([x, np.zeros((extra,) + x.shape[1:], x.dtype)])
