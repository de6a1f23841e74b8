"""Params trees <-> the bytes of `params.msgpack` (half-precision storage).

`pack` stores every float leaf as float16, or as bfloat16 where the leaf
holds a value float16 cannot (|x| > 65504); `unpack` gives float32 numpy
arrays back, so the model computes exactly as it does with float32 weights
rounded once. Non-float leaves are kept as they are.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_dtypes
import numpy as np
from flax import serialization

FLOAT16_MAX = float(np.finfo(np.float16).max)


def _half(leaf) -> np.ndarray:
  """float leaf `[...]` -> float16 `[...]` (bfloat16 if float16 overflows)."""
  x = np.asarray(leaf)
  if not np.issubdtype(x.dtype, np.floating) and x.dtype != ml_dtypes.bfloat16:
    return x
  x32 = x.astype(np.float32)
  if x32.size and float(np.max(np.abs(x32))) > FLOAT16_MAX:
    return x32.astype(ml_dtypes.bfloat16)
  return x32.astype(np.float16)


def round_trip_dtypes(params: Any) -> Any:
  """The tree `pack` would store (float16 / bfloat16 numpy leaves)."""
  return jax.tree.map(_half, params)


def pack(params: Any) -> tuple[bytes, str]:
  """(msgpack bytes, storage dtype) of a params tree of float arrays.

  The storage dtype is 'float16', 'bfloat16' or 'float16+bfloat16' (which
  leaves needed bfloat16's range).
  """
  half = round_trip_dtypes(params)
  kinds = sorted({str(x.dtype) for x in jax.tree.leaves(half)
                  if str(x.dtype) in ('float16', 'bfloat16')})
  return serialization.msgpack_serialize(half), '+'.join(kinds) or 'none'


def unpack(data: bytes) -> dict:
  """The params tree of `pack`'s bytes, float leaves as float32 numpy."""
  tree = serialization.msgpack_restore(data)

  def widen(x):
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating) or x.dtype == ml_dtypes.bfloat16:
      return x.astype(np.float32)
    return x
  return jax.tree.map(widen, tree)


def restored(params: Any) -> dict:
  """`params` as a loaded pretrained model holds them (`unpack(pack(params))`)."""
  return unpack(pack(params)[0])
