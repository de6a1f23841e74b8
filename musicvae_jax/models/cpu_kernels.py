"""A CPU matrix-vector kernel for int8 LSTM kernels, compiled with numba and
called from inside XLA loops (`jax.pure_callback`).

Why (issue 27, measured in docs/benchmarks.md): at batch one an LSTM step is
`h [1, K] @ W [K, N]`, bound by reading W. XLA:CPU has no matrix-vector
product over int8 or bfloat16: it either converts the whole kernel to
float32 before the time loop (and reads float32 every step) or, converted
block by block (`weight_storage._blocked`), spends more on the conversion
than it saves on bytes. This kernel reads the int8 values once, converts
them in registers and accumulates in float32: `out[m, n] = scale[n] * sum_k
x[m, k] * float32(values[k, n])`, rows of the kernel eight at a time, one
thread per call. (A bfloat16 version written the same way was slower than
XLA's blocked conversion, so bfloat16 keeps that path.)

`matmul_sum(xs, hosts)` is the JAX entry point (one `pure_callback` per
call: no gradient, CPU only; `available()` says whether numba is there); the
kernels travel as `HostInt8` (numpy views), not as operands. The kernel
itself is a plain function of numpy arrays (`matmul_host`), tested against
numpy directly.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

try:  # numba is a dependency of the package, but keep this importable without it
  import numba
except ImportError:  # pragma: no cover - exercised only without numba
  numba = None


def available() -> bool:
  """Whether the compiled kernels exist (numba is installed)."""
  return numba is not None


def _accumulate(x_row, values, out_row):
  """`out_row [N] = x_row [K] @ float32(values [K, N])`, 8 rows of the int8
  values at a time (measured 10-15 % faster than 4 at 2048 x 8192)."""
  k_all, n_all = values.shape
  for n in range(n_all):
    out_row[n] = 0.
  k = 0
  while k + 8 <= k_all:
    h0, h1, h2, h3 = x_row[k], x_row[k + 1], x_row[k + 2], x_row[k + 3]
    h4, h5, h6, h7 = x_row[k + 4], x_row[k + 5], x_row[k + 6], x_row[k + 7]
    r0, r1, r2, r3 = values[k], values[k + 1], values[k + 2], values[k + 3]
    r4, r5, r6, r7 = values[k + 4], values[k + 5], values[k + 6], values[k + 7]
    for n in range(n_all):
      out_row[n] += (((h0 * np.float32(r0[n]) + h1 * np.float32(r1[n]))
                      + (h2 * np.float32(r2[n]) + h3 * np.float32(r3[n])))
                     + ((h4 * np.float32(r4[n]) + h5 * np.float32(r5[n]))
                        + (h6 * np.float32(r6[n]) + h7 * np.float32(r7[n]))))
    k += 8
  while k < k_all:
    h0, r0 = x_row[k], values[k]
    for n in range(n_all):
      out_row[n] += h0 * np.float32(r0[n])
    k += 1


def _matmul_rows(x, values, scale, out):
  """`out [M, N] = (x [M, K] @ float32(values)) * scale [N]`."""
  for m in range(x.shape[0]):
    _accumulate(x[m], values, out[m])
    for n in range(out.shape[1]):
      out[m, n] *= scale[n]


def _sigmoid(x):
  return np.float32(1.) / (np.float32(1.) + np.exp(-x))


def _lstm_rows(gates, keep, c, h, values, scale, forget_bias, reverse, out):
  """One LSTM layer over all steps, in place on `c`, `h` `[B, H]`.

  gates `[T, B, 4H]` (input gates with bias), keep bool `[T, B]` (False holds
  the state), int8 recurrent kernel `values [H, 4H]` with `scale [4H]`; TF's
  gate order (i, j, f, o) with `forget_bias` added to f; `out [T, B, H]`
  receives each step's h. `reverse` runs from the last step to the first.
  """
  steps, batch, width = gates.shape
  size = width // 4
  g = np.empty(width, np.float32)
  for step in range(steps):
    t = steps - 1 - step if reverse else step
    for b in range(batch):
      if keep[t, b]:
        _accumulate(h[b], values, g)
        for n in range(width):
          g[n] = g[n] * scale[n] + gates[t, b, n]
        for j in range(size):
          new_c = (c[b, j] * _sigmoid(g[2 * size + j] + forget_bias)
                   + _sigmoid(g[j]) * np.tanh(g[size + j]))
          c[b, j] = new_c
          h[b, j] = np.tanh(new_c) * _sigmoid(g[3 * size + j])
      for j in range(size):
        out[t, b, j] = h[b, j]


if numba is not None:
  _jit = numba.njit(fastmath=True, nogil=True, cache=True)
  # Compiled under the names the functions above call each other by.
  _accumulate = _jit(_accumulate)
  _sigmoid = _jit(_sigmoid)
  _int8_rows = _jit(_matmul_rows)
  _lstm_int8 = _jit(_lstm_rows)
else:  # pragma: no cover
  _int8_rows = _lstm_int8 = None


def matmul_host(x: np.ndarray, values: np.ndarray, scale: np.ndarray) -> np.ndarray:
  """The kernel on numpy arrays: float32 `(x [M, K] @ values [K, N]) *
  scale [N]` for int8 `values`."""
  if values.dtype != np.int8:
    raise TypeError(f'stored values of dtype {values.dtype}: int8 expected')
  x = np.ascontiguousarray(x, np.float32)
  out = np.empty((x.shape[0], values.shape[1]), np.float32)
  _int8_rows(x, np.ascontiguousarray(values), np.ascontiguousarray(scale, np.float32), out)
  return out


class HostInt8:
  """An int8 kernel's values `[K, N]` and scale `[N]` as numpy arrays the
  callback reads directly (views of the JAX arrays on CPU, no copy).

  Why not pass the kernel as a callback operand: XLA copies every operand of
  a host callback at every call (measured: 3.5-8 ms per step for a 16.7 MB
  kernel, more than the product itself). A `HostInt8` travels instead as
  static data of the `StoredKernel` (hashed by identity), so the callback
  receives only `x`.
  """

  def __init__(self, values: np.ndarray, scale: np.ndarray):
    self.values = np.ascontiguousarray(values)
    self.scale = np.ascontiguousarray(scale, np.float32)
    if self.values.dtype != np.int8 or self.values.ndim != 2:
      raise TypeError(f'int8 [K, N] values expected, got {self.values.dtype} '
                      f'{self.values.shape}')

  @property
  def shape(self) -> tuple[int, int]:
    return self.values.shape

  def rows(self, start: int, stop: int) -> 'HostInt8':
    return HostInt8(self.values[start:stop], self.scale)


def _products(hosts, *xs):
  """Host side of `matmul_sum`: sum of `(x @ values) * scale` over the pairs."""
  total = None
  for host, x in zip(hosts, xs):
    out = matmul_host(np.asarray(x), host.values, host.scale)
    total = out if total is None else total + out
  return total


def matmul_sum(xs, hosts) -> jax.Array:
  """`sum_i (xs[i] [M, K_i] @ hosts[i].values) * hosts[i].scale` -> float32
  `[M, N]` by the numba kernel, from inside a jitted computation: one
  `jax.pure_callback` whose only operands are the `xs`."""
  rows = xs[0].shape[0]
  shape = jax.ShapeDtypeStruct((rows, hosts[0].shape[1]), jnp.float32)
  return jax.pure_callback(functools.partial(_products, tuple(hosts)), shape,
                           *[x.astype(jnp.float32) for x in xs],
                           vmap_method='sequential')


_POOL: list = []


def _pool():
  """Threads for independent recurrences (numba releases the GIL)."""
  if not _POOL:
    _POOL.append(concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, min(2, os.cpu_count() or 1)),
        thread_name_prefix='musicvae-lstm'))
  return _POOL[0]


def lstm_host(gates, keep, c0, h0, host: HostInt8, forget_bias: float, reverse: bool):
  """`_lstm_rows` on numpy arrays -> (c `[B, H]`, h `[B, H]`, outputs `[T, B, H]`)."""
  c = np.array(c0, np.float32)
  h = np.array(h0, np.float32)
  out = np.empty(np.shape(gates)[:2] + (h.shape[1],), np.float32)
  _lstm_int8(np.ascontiguousarray(gates, np.float32), np.asarray(keep, np.bool_), c, h,
             host.values, host.scale, np.float32(forget_bias), reverse, out)
  return c, h, out


def _runs(specs, *arrays):
  """Host side of `lstm_runs`: each run in its own thread."""
  jobs = []
  for i, (host, forget_bias, reverse) in enumerate(specs):
    gates, keep, c0, h0 = arrays[4 * i:4 * i + 4]
    jobs.append(_pool().submit(lstm_host, np.asarray(gates), np.asarray(keep),
                               np.asarray(c0), np.asarray(h0), host, forget_bias,
                               reverse))
  return tuple(x for job in jobs for x in job.result())


def lstm_runs(runs):
  """Independent LSTM layers over whole sequences on the numba kernel, in
  one `jax.pure_callback`, each run in its own thread (the two directions of
  an encoder layer run side by side on two cores).

  Args:
    runs: per layer `(gates [T, B, 4H], keep bool [T, B], (c0, h0) [B, H],
      host: HostInt8 of the recurrent kernel, forget_bias: float, reverse:
      bool)`.

  Returns:
    per layer `((c, h) final [B, H], outputs [T, B, H])`.
  """
  specs, arrays, shapes = [], [], []
  for gates, keep, (c0, h0), host, forget_bias, reverse in runs:
    specs.append((host, float(forget_bias), bool(reverse)))
    arrays += [gates.astype(jnp.float32), keep, c0.astype(jnp.float32),
               h0.astype(jnp.float32)]
    state = jax.ShapeDtypeStruct(c0.shape, jnp.float32)
    shapes += [state, state, jax.ShapeDtypeStruct(gates.shape[:2] + c0.shape[1:],
                                                  jnp.float32)]
  flat = jax.pure_callback(functools.partial(_runs, tuple(specs)), tuple(shapes),
                           *arrays, vmap_method='sequential')
  return [((flat[3 * i], flat[3 * i + 1]), flat[3 * i + 2]) for i in range(len(runs))]
