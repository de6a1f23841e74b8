"""A CPU matrix-vector kernel for int8 LSTM kernels, compiled with numba and
called from inside XLA loops (`jax.pure_callback`).

Why (issue 27, measured in docs/benchmarks.md): at batch one an LSTM step is
`h [1, K] @ W [K, N]`, bound by reading W. XLA:CPU has no matrix-vector
product over int8 or bfloat16: it either converts the whole kernel to
float32 before the time loop (and reads float32 every step) or, converted
block by block (`weight_storage._blocked`), spends more on the conversion
than it saves on bytes. This kernel reads the int8 values once, converts
them in registers and accumulates in float32: `out[m, n] = scale[n] * sum_k
x[m, k] * float32(values[k, n])`, rows of the kernel eight at a time, the
output columns split across the cores (numba `prange`; each column summed by
one thread in a fixed order, so results do not depend on the thread count). (A bfloat16 version written the same way was slower than
XLA's blocked conversion, so bfloat16 keeps that path.)

`matmul_sum(xs, hosts)` is the JAX entry point (one `pure_callback` per
call: no gradient, CPU only; `available()` says whether numba is there); the
kernels travel as `HostInt8` (numpy views), not as operands. The kernel
itself is a plain function of numpy arrays (`matmul_host`), tested against
numpy directly.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

try:  # numba is a dependency of the package, but keep this importable without it
  import numba
  numba_prange = numba.prange
except ImportError:  # pragma: no cover - exercised only without numba
  numba = None
  numba_prange = range


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


def _accumulate_parts(x_row, values, out_row, parts):
  """`_accumulate` with the columns split into `parts` ranges, one thread
  each (numba's `prange`): every column is still summed by one thread in
  the same order, so the result does not depend on `parts`."""
  n_all = values.shape[1]
  width = (n_all + parts - 1) // parts
  for p in numba_prange(parts):
    lo = p * width
    hi = min(n_all, lo + width)
    if lo < hi:
      _accumulate(x_row, values[:, lo:hi], out_row[lo:hi])


def _matmul_rows(x, values, scale, out, parts):
  """`out [M, N] = (x [M, K] @ float32(values)) * scale [N]`."""
  for m in range(x.shape[0]):
    _accumulate_parts(x[m], values, out[m], parts)
    for n in range(out.shape[1]):
      out[m, n] *= scale[n]


def _sigmoid(x):
  return np.float32(1.) / (np.float32(1.) + np.exp(-x))


def _cell_parts(g, gates_t, scale, c_row, h_row, forget_bias, parts):
  """The element-wise step for units split into `parts` ranges (one thread
  each): gate pre-activations `g * scale + gates_t` `[4H]` -> new `c_row`,
  `h_row` `[H]` in place, TF's gate order (i, j, f, o)."""
  size = c_row.shape[0]
  width = (size + parts - 1) // parts
  for p in numba_prange(parts):
    for j in range(p * width, min(size, (p + 1) * width)):
      i_ = g[j] * scale[j] + gates_t[j]
      j_ = g[size + j] * scale[size + j] + gates_t[size + j]
      f_ = g[2 * size + j] * scale[2 * size + j] + gates_t[2 * size + j]
      o_ = g[3 * size + j] * scale[3 * size + j] + gates_t[3 * size + j]
      new_c = c_row[j] * _sigmoid(f_ + forget_bias) + _sigmoid(i_) * np.tanh(j_)
      c_row[j] = new_c
      h_row[j] = np.tanh(new_c) * _sigmoid(o_)


def _lstm_rows(gates, keep, c, h, values, scale, forget_bias, reverse, out, parts):
  """One LSTM layer over all steps, in place on `c`, `h` `[B, H]`.

  gates `[T, B, 4H]` (input gates with bias), keep bool `[T, B]` (False holds
  the state), int8 recurrent kernel `values [H, 4H]` with `scale [4H]`; TF's
  gate order (i, j, f, o) with `forget_bias` added to f; `out [T, B, H]`
  receives each step's h. `reverse` runs from the last step to the first.
  Each step's product and element-wise part are split across `parts` threads.
  """
  steps, batch, width = gates.shape
  g = np.empty(width, np.float32)
  for step in range(steps):
    t = steps - 1 - step if reverse else step
    for b in range(batch):
      if keep[t, b]:
        _accumulate_parts(h[b], values, g, parts)
        _cell_parts(g, gates[t, b], scale, c[b], h[b], forget_bias, parts)
      out[t, b] = h[b]


if numba is not None:
  _jit = numba.njit(fastmath=True, nogil=True, cache=True)
  # Compiled under the names the functions above call each other by.
  _accumulate = _jit(_accumulate)
  _accumulate_parts = numba.njit(fastmath=True, nogil=True, cache=True,
                                 parallel=True)(_accumulate_parts)
  _sigmoid = _jit(_sigmoid)
  _cell_parts = numba.njit(fastmath=True, nogil=True, cache=True,
                           parallel=True)(_cell_parts)
  _int8_rows = _jit(_matmul_rows)
  _lstm_int8 = _jit(_lstm_rows)
else:  # pragma: no cover
  _int8_rows = _lstm_int8 = None


def threads(columns: int) -> int:
  """Threads a product over `columns` output columns is split across:
  numba's thread count (the cores), at most 8, at least 2048 columns each
  (a parallel region costs microseconds: small products stay on one)."""
  return max(1, min(numba.get_num_threads(), 8, columns // 2048))


def matmul_host(x: np.ndarray, values: np.ndarray, scale: np.ndarray) -> np.ndarray:
  """The kernel on numpy arrays: float32 `(x [M, K] @ values [K, N]) *
  scale [N]` for int8 `values`."""
  if values.dtype != np.int8:
    raise TypeError(f'stored values of dtype {values.dtype}: int8 expected')
  x = np.ascontiguousarray(x, np.float32)
  out = np.empty((x.shape[0], values.shape[1]), np.float32)
  _int8_rows(x, np.ascontiguousarray(values), np.ascontiguousarray(scale, np.float32), out,
             threads(values.shape[1]))
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


def lstm_host(gates, keep, c0, h0, host: HostInt8, forget_bias: float, reverse: bool):
  """`_lstm_rows` on numpy arrays -> (c `[B, H]`, h `[B, H]`, outputs `[T, B, H]`)."""
  c = np.array(c0, np.float32)
  h = np.array(h0, np.float32)
  out = np.empty(np.shape(gates)[:2] + (h.shape[1],), np.float32)
  _lstm_int8(np.ascontiguousarray(gates, np.float32), np.asarray(keep, np.bool_), c, h,
             host.values, host.scale, np.float32(forget_bias), reverse, out,
             threads(host.values.shape[1]))
  return c, h, out


def _runs(specs, *arrays):
  """Host side of `lstm_runs`: the runs one after the other (each kernel in
  cache while its own run lasts; its product split across the cores)."""
  out = []
  for i, (host, forget_bias, reverse) in enumerate(specs):
    gates, keep, c0, h0 = arrays[4 * i:4 * i + 4]
    out.extend(lstm_host(np.asarray(gates), np.asarray(keep), np.asarray(c0),
                         np.asarray(h0), host, forget_bias, reverse))
  return tuple(out)


def lstm_runs(runs):
  """Independent LSTM layers over whole sequences on the numba kernel, in
  one `jax.pure_callback` (the two directions of an encoder layer: one call).

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


def stack_step_host(gates0, carries, layers, biases):
  """One step of stacked LSTM layers on numpy arrays (rows one at a time).

  Args:
    gates0: `[B, 4H_0]` layer 0's input gates (bias included).
    carries: per layer `(c, h)` `[B, H_k]` (not modified).
    layers: per layer `(input HostInt8 or None, recurrent HostInt8,
      forget_bias)`; layer 0's input is None (its gates are given).
    biases: per layer `[4H_k]` (layer 0's is unused: it is in `gates0`).

  Returns:
    `(c_0, h_0, c_1, h_1, ...)`, the new states.
  """
  out = []
  x = None
  for k, ((w_in, w_rec, forget_bias), bias) in enumerate(zip(layers, biases)):
    c = np.array(carries[k][0], np.float32)
    h = np.array(carries[k][1], np.float32)
    if k == 0:
      gates = np.ascontiguousarray(gates0, np.float32)
    else:
      gates = matmul_host(x, w_in.values, w_in.scale) + np.asarray(bias, np.float32)
    g = np.empty(gates.shape[1], np.float32)
    parts = threads(g.shape[0])
    for b in range(h.shape[0]):
      _accumulate_parts(h[b], w_rec.values, g, parts)
      _cell_parts(g, gates[b], w_rec.scale, c[b], h[b], np.float32(forget_bias), parts)
    out += [c, h]
    x = h
  return tuple(out)


def _stack_step(layers, sizes, packed, biases):
  """Host side of `stack_step`: unpack `[gates0 | c_0 | h_0 | c_1 | ...]`
  and the concatenated biases, step, pack the new states."""
  packed = np.asarray(packed)
  biases = np.asarray(biases)
  at = 4 * sizes[0]
  gates0, carries, bias_list, b_at = packed[:, :at], [], [], 0
  for size in sizes:
    carries.append((packed[:, at:at + size], packed[:, at + size:at + 2 * size]))
    at += 2 * size
    bias_list.append(biases[b_at:b_at + 4 * size])
    b_at += 4 * size
  return np.concatenate(stack_step_host(gates0, carries, layers, bias_list), axis=-1)


def stack_step(gates0, carries, layers, biases):
  """`stack_step_host` from inside a jitted computation: one
  `jax.pure_callback` per time step for the whole stack, its operands packed
  into two arrays and its result into one (each operand costs ~20 us a
  call); the kernels travel as `HostInt8`, static. Returns the new carries
  `[(c, h)]`."""
  sizes = tuple(int(c.shape[-1]) for c, _ in carries)
  packed = jnp.concatenate([gates0.astype(jnp.float32)]
                           + [x.astype(jnp.float32) for carry in carries for x in carry], -1)
  shape = jax.ShapeDtypeStruct(gates0.shape[:1] + (2 * sum(sizes),), jnp.float32)
  flat = jax.pure_callback(
      functools.partial(_stack_step, tuple(layers), sizes), shape, packed,
      jnp.concatenate([b.astype(jnp.float32) for b in biases]), vmap_method='sequential')
  out, at = [], 0
  for size in sizes:
    out.append((flat[:, at:at + size], flat[:, at + size:at + 2 * size]))
    at += 2 * size
  return out


def generate_host(tables, cond_g, init, ctrl_g, noise, temperature, w_out, b_out,
                  biases, layers, part_depths, bar_steps):
  """`CoreDecoder.generate`'s loop on numpy arrays, the stack stepped by
  `stack_step_host` (one Python loop over the steps, no callback per step).

  Args:
    tables: per part `[depth + 1, 4H_0]`: layer 0's gates of each token (the
      last row, all zero, stands for "no token").
    cond_g: `[n_bars, B, 4H_0]` conditioning gates with bias, per bar.
    init: per layer `(c, h)` `[n_bars, B, H_k]`: the state each bar starts from.
    ctrl_g: `[T, B, 4H_0]` control gates per step, or None.
    noise: per part `[T, B, depth]` Gumbel noise (`decoders.gumbel_noise`).
    temperature: softmax temperature (scalar).
    w_out, b_out: output projection `[H_top, V]`, `[V]`.
    biases, layers: as `stack_step_host`.
    part_depths: classes per part; bar_steps: steps per bar.

  Returns:
    (tokens int32 `[T, B, K]`, logits float32 `[T, B, V]`), T = n_bars * bar_steps.
  """
  n_bars, batch = cond_g.shape[:2]
  steps = n_bars * bar_steps
  tokens = np.empty((steps, batch, len(part_depths)), np.int32)
  logits = np.empty((steps, batch, sum(part_depths)), np.float32)
  last = np.full((batch, len(part_depths)), -1, np.int64)
  temperature = np.float32(temperature)
  carries = None
  for t in range(steps):
    bar = t // bar_steps
    if t % bar_steps == 0:
      carries = [(c[bar], h[bar]) for c, h in init]
    token_gates = np.float32(0.)
    for k, (table, depth) in enumerate(zip(tables, part_depths)):
      token_gates = token_gates + table[np.where(last[:, k] < 0, depth, last[:, k])]
    gates0 = token_gates + cond_g[bar]
    if ctrl_g is not None:
      gates0 = gates0 + ctrl_g[t]
    flat = stack_step_host(gates0, carries, layers, biases)
    carries = [(flat[2 * k], flat[2 * k + 1]) for k in range(len(layers))]
    step_logits = carries[-1][1] @ w_out + b_out
    logits[t] = step_logits
    start = 0
    for k, depth in enumerate(part_depths):
      tokens[t, :, k] = np.argmax(noise[k][t] + step_logits[:, start:start + depth]
                                  / temperature, axis=-1)
      start += depth
    last = tokens[t].astype(np.int64)
  return tokens, logits


def _generate(layers, part_depths, bar_steps, has_ctrl, *arrays):
  arrays = [np.asarray(a) for a in arrays]
  parts, count = len(part_depths), len(layers)
  tables, arrays = arrays[:parts], arrays[parts:]
  cond_g, arrays = arrays[0], arrays[1:]
  init = [(arrays[2 * k], arrays[2 * k + 1]) for k in range(count)]
  arrays = arrays[2 * count:]
  ctrl_g, arrays = (arrays[0], arrays[1:]) if has_ctrl else (None, arrays)
  noise, arrays = arrays[:parts], arrays[parts:]
  temperature, w_out, b_out = arrays[:3]
  biases = arrays[3:]
  return generate_host(tables, cond_g, init, ctrl_g, noise, temperature, w_out, b_out,
                       biases, layers, part_depths, bar_steps)


def generate(tables, cond_g, init, ctrl_g, noise, temperature, w_out, b_out, biases,
             layers, part_depths, bar_steps):
  """`generate_host` from inside a jitted computation: the whole free-running
  decode in one `jax.pure_callback` (between steps XLA's threads sit idle,
  so the products get both cores; one callback per step left them one).
  Arguments as `generate_host` (arrays as JAX arrays; `layers`,
  `part_depths`, `bar_steps` static). Returns (tokens, logits)."""
  steps, batch = cond_g.shape[0] * bar_steps, cond_g.shape[1]
  shapes = (jax.ShapeDtypeStruct((steps, batch, len(part_depths)), jnp.int32),
            jax.ShapeDtypeStruct((steps, batch, sum(part_depths)), jnp.float32))
  f32 = lambda x: jnp.asarray(x, jnp.float32)
  operands = ([f32(t) for t in tables] + [f32(cond_g)]
              + [f32(x) for carry in init for x in carry]
              + ([] if ctrl_g is None else [f32(ctrl_g)])
              + [f32(n) for n in noise] + [f32(temperature), f32(w_out), f32(b_out)]
              + [f32(b) for b in biases])
  return jax.pure_callback(
      functools.partial(_generate, tuple(layers), tuple(part_depths), int(bar_steps),
                        ctrl_g is not None),
      shapes, *operands, vmap_method='sequential')
