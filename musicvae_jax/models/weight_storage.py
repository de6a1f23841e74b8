"""Inference-only storage of LSTM kernels in bfloat16 or int8 (issue 27).

`TrainedModel(weights='bfloat16' | 'int8')` replaces every LSTM kernel of its
parameter tree (`input_kernel` and `recurrent_kernel`, `[K, N]`, N = 4H) by a
`StoredKernel` (`store_params`); `weights='float32'` (the default) changes
nothing. Training never sees a `StoredKernel`: `LSTMLayer` reads its kernels
through `matmul` / `dense` / `rows` below, which take either a float array
(today's path, unchanged) or a `StoredKernel`.

Formats (`FORMATS`):

* `float32`: the parameters as trained.
* `bfloat16`: values rounded to bfloat16 (8 significant bits); half the bytes.
* `int8`: symmetric per-output-column quantisation, `w[k, n] ~ q[k, n] *
  scale[n]` with `scale[n] = max_k |w[k, n]| / 127` and `q = round(w /
  scale)`; a quarter of the bytes (plus one float per column).

Arithmetic is float32 throughout (weight-only quantisation: activations are
never rounded): `x @ w` is `(x @ float32(q)) * scale`, accumulated in float32.

How the matmul runs, and why (XLA:CPU, jax 0.10, measured in
`scripts/benchmark_inference.py` and docs/benchmarks.md): XLA:CPU has no
bfloat16 or int8 matrix-vector kernel for a batch-one step, so a plain
`x @ w.astype(float32)` inside the time loop is rewritten into a float32 copy
of the whole kernel made once *before* the loop (loop-invariant code motion),
and every step reads float32 again: no bytes saved. So, for a step's few rows
(`rows <= STEP_ROWS`):

* int8 on the CPU backend: `cpu_kernels`, a numba matrix-vector kernel that
  reads the int8 bytes and converts them in registers, called from inside
  the loop (`jax.pure_callback`, the kernel passed as static host data, not
  copied per call). About 4x faster per step than float32 at 2048 x 8192.
* otherwise (bfloat16; int8 without numba or off the CPU backend): the kernel
  is converted block by block (`block_rows` rows at a time, a few MB of
  float32 that stays in cache) inside a `lax.scan` of its own, so each step
  reads the stored bytes (XLA cannot hoist a conversion that depends on the
  loop index). On XLA:CPU the conversion costs about what it saves.

For many rows (a whole-sequence projection) the kernel is converted once and
multiplied in one matmul.

A `StoredKernel`'s first leaf is `values`, shaped like the float kernel: Flax
compares that leaf's shape with the parameter's declared shape when the
module reads it (`Scope.param`), so the module definitions stay unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax.models import cpu_kernels

FORMATS = ('float32', 'bfloat16', 'int8')
# Parameter names of the LSTM kernels `store_params` converts.
KERNEL_NAMES = ('input_kernel', 'recurrent_kernel')
# A matmul with at most this many rows (batch rows of one time step) converts
# the kernel block by block inside its own loop; more rows convert it once.
STEP_ROWS = 64
# Target size of one converted block in float32 (kept in cache).
BLOCK_BYTES = 4 << 20
# Smallest kernel (K * N weights) a step's matmul sends to the numba kernel:
# below it the float32 kernel sits in cache, XLA's own product is as fast,
# and the callback's overhead (~0.05-0.2 ms a call) is pure loss (measured:
# cat-mel_2bar_small's 256 x 1024 decoder decodes 2x slower through it).
CPU_KERNEL_MIN_WEIGHTS = 1 << 21


@flax.struct.dataclass
class StoredKernel:
  """An LSTM kernel `[K, N]` stored for inference.

  values: `[K, N]` int8 (format 'int8'), or uint16 holding bfloat16 bits
    (format 'bfloat16': `bfloat16_values` reads them as bfloat16).
  scale: `[N]` float32 per output column (int8), or None (bfloat16).
  host: static (not a pytree leaf): the same int8 values and scale as numpy
    arrays for the CPU kernel (`cpu_kernels.HostInt8`), or None. Made by
    `store` only; a tree map over a `StoredKernel`'s leaves keeps the old
    `host`, so make stored kernels with `store` / `store_params`, never by
    transforming one.
  """

  values: jax.Array
  scale: jax.Array | None = None
  host: cpu_kernels.HostInt8 | None = flax.struct.field(pytree_node=False, default=None)

  @property
  def shape(self) -> tuple[int, int]:
    return tuple(self.values.shape)

  @property
  def format(self) -> str:
    return 'int8' if self.scale is not None else 'bfloat16'

  def bfloat16_values(self) -> jax.Array:
    """A bfloat16 kernel's values as bfloat16 `[K, N]`."""
    return jax.lax.bitcast_convert_type(self.values, jnp.bfloat16)


def check_format(weights: str) -> str:
  """`weights` if it is one of `FORMATS`, else ValueError (one line)."""
  if weights not in FORMATS:
    raise ValueError(f'weights={weights!r}: use one of {", ".join(FORMATS)}')
  return weights


def store(kernel: jax.Array, weights: str) -> jax.Array | StoredKernel:
  """A float kernel `[K, N]` in format `weights` (float32: unchanged)."""
  check_format(weights)
  if weights == 'float32':
    return kernel
  kernel = jnp.asarray(kernel, jnp.float32)
  if weights == 'bfloat16':
    # Kept as the bits (uint16): as bfloat16, XLA turns the conversion below
    # back into a bfloat16 -> float32 convert and hoists it out of the loop.
    return StoredKernel(jax.lax.bitcast_convert_type(kernel.astype(jnp.bfloat16),
                                                     jnp.uint16))
  peak = jnp.max(jnp.abs(kernel), axis=0)                      # [N]
  scale = jnp.where(peak > 0, peak / 127., 1.).astype(jnp.float32)
  q = jnp.clip(jnp.round(kernel / scale), -127, 127).astype(jnp.int8)
  host = None
  if cpu_kernels.available() and not isinstance(q, jax.core.Tracer):
    host = cpu_kernels.HostInt8(np.asarray(q), np.asarray(scale))
  return StoredKernel(q, scale, host)


def store_params(params: Any, weights: str) -> Any:
  """`params` with every LSTM kernel (`KERNEL_NAMES`) stored as `weights`;
  everything else (biases, dense layers, embeddings) stays as it is.
  float32 returns `params` itself."""
  check_format(weights)
  if weights == 'float32':
    return params

  def convert(tree):
    if not isinstance(tree, Mapping):
      return tree
    return {k: (store(v, weights) if k in KERNEL_NAMES and not isinstance(v, Mapping)
                else convert(v)) for k, v in tree.items()}

  return convert(params)


def is_stored(kernel) -> bool:
  return isinstance(kernel, StoredKernel)


def _to_float(values: jax.Array) -> jax.Array:
  """Stored values -> float32, exactly: int8 by conversion, bfloat16 bits
  (uint16) by a 16-bit shift (XLA:CPU's own bfloat16 conversion was measured
  3-4x slower)."""
  if values.dtype == jnp.uint16:
    bits = values.astype(jnp.uint32) << 16
    return jax.lax.bitcast_convert_type(bits, jnp.float32)
  return values.astype(jnp.float32)


def dense(kernel) -> jax.Array:
  """The kernel as a float array `[K, N]` (a float kernel unchanged)."""
  if not is_stored(kernel):
    return kernel
  w = _to_float(kernel.values)
  return w if kernel.scale is None else w * kernel.scale


def rows(kernel, start: int, stop: int):
  """Rows `start:stop` of the kernel, in the kernel's own storage."""
  if not is_stored(kernel):
    return kernel[start:stop]
  host = None if kernel.host is None else kernel.host.rows(start, stop)
  return StoredKernel(kernel.values[start:stop], kernel.scale, host)


def cpu_host(kernel) -> cpu_kernels.HostInt8 | None:
  """The numba kernel's host values of an int8 kernel on the CPU backend,
  else None."""
  if is_stored(kernel) and kernel.host is not None and jax.default_backend() == 'cpu':
    return kernel.host
  return None


def cpu_recurrent_host(kernel) -> cpu_kernels.HostInt8 | None:
  """`cpu_host` of a recurrent kernel of at least `CPU_KERNEL_MIN_WEIGHTS`
  (whole-sequence LSTM runs on the numba loop: `lstm.run_stored_layers`;
  smaller ones stay in XLA, as fast and without the callback)."""
  host = cpu_host(kernel)
  if host is None or host.values.size < CPU_KERNEL_MIN_WEIGHTS:
    return None
  return host


def _cpu_kernel(kernel, rows_: int) -> bool:
  """Whether `matmul` runs on the numba kernel: an int8 kernel of at least
  `CPU_KERNEL_MIN_WEIGHTS` with host values, a step's few rows, on the CPU
  backend."""
  return (cpu_host(kernel) is not None and rows_ <= STEP_ROWS
          and kernel.shape[0] * kernel.shape[1] >= CPU_KERNEL_MIN_WEIGHTS)


def block_rows(k: int, n: int, block_bytes: int = BLOCK_BYTES) -> int:
  """Rows per converted block: the largest divisor of `k` whose float32 block
  `[rows, n]` fits in `block_bytes` (at least 1; `k` when all of it fits)."""
  target = max(1, block_bytes // (4 * n))
  if target >= k:
    return k
  for size in range(target, 0, -1):
    if k % size == 0:
      return size
  return 1


def matmul(x: jax.Array, kernel, dtype=jnp.float32,
           block_bytes: int | None = None) -> jax.Array:
  """`x [..., K] @ kernel [K, N]` -> float32 `[..., N]`.

  A float kernel: `jnp.dot` in `dtype` with float32 accumulation (today's
  path). A `StoredKernel`: float32 arithmetic on the stored values (`dtype`
  is not used); for a step's few rows on CPU, an int8 kernel runs on the
  numba kernel (`cpu_kernels`), otherwise block by block of `block_bytes`
  (default `BLOCK_BYTES`; see the module docstring); many rows convert the
  kernel once.
  """
  if not is_stored(kernel):
    return jnp.dot(x.astype(dtype), kernel.astype(dtype),
                   preferred_element_type=jnp.float32)
  x = x.astype(jnp.float32)
  k, n = kernel.shape
  lead = x.shape[:-1]
  count = _rows_of(x)
  if _cpu_kernel(kernel, count):
    out = cpu_kernels.matmul_sum((x.reshape(count, k),), (kernel.host,))
    return out.reshape(lead + (n,))
  if count > STEP_ROWS and cpu_host(kernel) is not None:
    return int8_rows_matmul(x, kernel)
  size = block_rows(k, n, BLOCK_BYTES if block_bytes is None else block_bytes)
  if count > STEP_ROWS or size == k:
    out = jnp.dot(x, _to_float(kernel.values), preferred_element_type=jnp.float32)
  else:
    out = _blocked(x.reshape(count, k), kernel.values, size).reshape(lead + (n,))
  return out if kernel.scale is None else out * kernel.scale


def int8_rows_matmul(x: jax.Array, kernel: StoredKernel) -> jax.Array:
  """`x [..., K] @ kernel` for many rows of an int8 kernel, in int8: each row
  of `x` quantised with its own scale (max |x| / 127), an int8 x int8 -> int32
  product (XLA:CPU hands it to YNNPACK), rescaled to float32.

  Why: converting a whole-sequence projection's kernel to float32 first (the
  encoder's upper layers, [4096, 8192] in hierdec-mel_16bar) costs more than
  the product saves: measured 67 ms for this against 120 ms (convert, then
  float32) and 89 ms (a float32 kernel) for [256, 4096] @ [4096, 8192] on 2
  cores, at the same error (1.03 % of the product's largest value, against
  1.07 % for the converted kernel: the kernel's rounding dominates).
  """
  peak = jnp.max(jnp.abs(x), axis=-1, keepdims=True)
  x_scale = jnp.where(peak > 0, peak / 127., 1.).astype(jnp.float32)
  xq = jnp.clip(jnp.round(x / x_scale), -127, 127).astype(jnp.int8)
  out = jnp.dot(xq, kernel.values, preferred_element_type=jnp.int32)
  return out.astype(jnp.float32) * x_scale * kernel.scale


def _rows_of(x: jax.Array) -> int:
  count = 1
  for d in x.shape[:-1]:
    count *= d
  return count


def _blocked(x: jax.Array, values: jax.Array, size: int) -> jax.Array:
  """`x [M, K] @ float32(values [K, N])`, converting `size` rows at a time in
  a loop (the conversion depends on the loop index, so XLA cannot hoist a
  float32 copy of the whole kernel out of an enclosing time loop)."""
  m, k = x.shape
  blocks = values.reshape(k // size, size, values.shape[1])   # a bitcast
  xs = jnp.swapaxes(x.reshape(m, k // size, size), 0, 1)       # [B, M, size]

  def body(acc, inputs):
    w, xb = inputs
    return acc + jnp.dot(xb, _to_float(w), preferred_element_type=jnp.float32), None

  out, _ = jax.lax.scan(body, jnp.zeros((m, values.shape[1]), jnp.float32),
                        (blocks, xs))
  return out


def concat_matmul(xs, kernels, dtype=jnp.float32) -> jax.Array:
  """`concat(xs, -1) @ concat(kernels, 0)` for inputs `[..., K_i]` and kernels
  `[K_i, N]`: one matmul over the concatenated float kernels (XLA builds the
  loop-invariant concatenation once), or a sum of `matmul`s when any kernel
  is stored (their scales differ)."""
  if not any(is_stored(k) for k in kernels):
    kernel = jnp.concatenate(kernels, 0)
    x = jnp.concatenate([x.astype(dtype) for x in xs], -1)
    return jnp.dot(x, kernel.astype(dtype), preferred_element_type=jnp.float32)
  count = _rows_of(xs[0])
  if (all(cpu_host(k) is not None for k in kernels) and count <= STEP_ROWS
      and sum(k.shape[0] * k.shape[1] for k in kernels) >= CPU_KERNEL_MIN_WEIGHTS):
    # One callback for all the kernels.
    lead = xs[0].shape[:-1]
    out = cpu_kernels.matmul_sum([x.reshape(count, x.shape[-1]) for x in xs],
                                 [k.host for k in kernels])
    return out.reshape(lead + (out.shape[-1],))
  out = 0.
  for x, k in zip(xs, kernels):
    out = out + matmul(x, k, dtype)
  return out


def nbytes(params: Any) -> int:
  """Bytes of every array in `params` (stored kernels at their stored size)."""
  return sum(int(leaf.size) * leaf.dtype.itemsize for leaf in jax.tree.leaves(params))
