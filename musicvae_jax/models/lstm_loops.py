"""Fused LSTM time loops with hand-written backward passes (pure functions).

Two loops that issue fewer, larger matmuls per time step than running each
layer (and each direction) in its own loop (`lstm.run_layer`):

* `grouped_run`: G independent recurrences of one width in one loop, one
  batched `[G, B, H] @ [G, H, 4H]` matmul per step. The bidirectional encoder
  runs its forward and (time-reversed) backward directions as G = 2.
* `wavefront_run`: a stack of L layers of one width as a wavefront: at loop
  iteration i layer l computes step i - l, so the layers of one iteration are
  independent; T + L - 1 iterations instead of L * T. Layer 0's input gates
  are precomputed; layers l >= 1 read layer l - 1's previous-iteration h and
  run one batched `[x, h] @ [W_in; W_rec]` matmul (`[L-1, B, 2H]`).

Both take their input gates as `gates_fn(*gates_args)` rather than as an
array, so that the backward pass can map the gate cotangents back through
`gates_fn` (a projection, a row gather) and, with `save='states'`, recompute
the gates instead of storing them:

* `save='activations'`: per step the state before the step and the four gate
  activations are stored (6H floats per example and layer; the activations
  in the compute dtype, so bfloat16 halves them).
* `save='states'`: only the state before the step (c, h) is stored (2H); the
  backward pass recomputes the input gates (`gates_fn`) before its loop and
  each step's `h_prev @ W_rec` inside it, trading FLOPs for memory.

Gate order and math are TF's `LSTMBlockCell` (i, j, f, o; `forget_bias`
added to f), as in `lstm.LSTMLayer`. Everything is time-major.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

Dtype = Any
SAVE_MODES = ('activations', 'states')


@dataclasses.dataclass(frozen=True)
class LoopOptions:
  """Static options of a fused loop (hashable)."""

  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  save: str = 'activations'


# ------------------------------------------------------- element-wise cell --
def activations(gates: jax.Array, forget_bias: float) -> jax.Array:
  """Gate pre-activations `[..., 4H]` -> concat(sig(i), tanh(j),
  sig(f + forget_bias), sig(o)) `[..., 4H]`."""
  i, j, f, o = jnp.split(gates, 4, axis=-1)
  return jnp.concatenate([jax.nn.sigmoid(i), jnp.tanh(j),
                          jax.nn.sigmoid(f + forget_bias), jax.nn.sigmoid(o)],
                         axis=-1)


def cell(c: jax.Array, acts: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(c `[..., H]`, activations `[..., 4H]`) -> (new c, new h)."""
  sig_i, tanh_j, sig_f, sig_o = jnp.split(acts.astype(jnp.float32), 4, axis=-1)
  new_c = c * sig_f + sig_i * tanh_j
  return new_c, jnp.tanh(new_c) * sig_o


def cell_backward(dc: jax.Array, dh: jax.Array, c: jax.Array,
                  acts: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Cotangents of (new c, new h) -> (d gate pre-activations `[..., 4H]`,
  d c before the step)."""
  sig_i, tanh_j, sig_f, sig_o = jnp.split(acts.astype(jnp.float32), 4, axis=-1)
  tanh_c = jnp.tanh(c * sig_f + sig_i * tanh_j)
  dc = dc + dh * sig_o * (1. - tanh_c * tanh_c)
  dgates = jnp.concatenate([
      dc * tanh_j * sig_i * (1. - sig_i),
      dc * sig_i * (1. - tanh_j * tanh_j),
      dc * c * sig_f * (1. - sig_f),
      dh * tanh_c * sig_o * (1. - sig_o)], axis=-1)
  return dgates, dc * sig_f


def _matmul(x, w, dtype, spec: str):
  return jnp.einsum(spec, x.astype(dtype), w.astype(dtype),
                    preferred_element_type=jnp.float32)


def _hold(active, new, old):
  """Where `active` (broadcast over the last axis) take `new`, else `old`."""
  return jnp.where(active[..., None], new, old)


# ------------------------------------------------------------ grouped loop --
def grouped_run(gates_fn: Callable[..., jax.Array], gates_args: tuple,
                kernels: jax.Array, carry: tuple[jax.Array, jax.Array],
                keep: jax.Array | None, options: LoopOptions):
  """G independent LSTM recurrences of width H in one loop.

  Args:
    gates_fn: `gates_fn(*gates_args)` -> input gates with bias `[T, G, B, 4H]`.
    gates_args: its (differentiable) arguments.
    kernels: recurrent kernels `[G, H, 4H]`.
    carry: initial (c, h), each `[G, B, H]`.
    keep: optional bool `[T, G, B]`: where False the state is held.
    options: `LoopOptions`.

  Returns:
    (final (c, h) each `[G, B, H]`, outputs h `[T, G, B, H]`).
  """
  return _grouped(gates_fn, options, gates_args, kernels, carry, keep)


def _grouped_forward_loop(gates_x, kernels, carry, keep, options, record):
  dt = options.dtype

  def step(state, xs):
    c, h = state
    gx, k = xs
    acts = activations(gx + _matmul(h, kernels, dt, 'gbh,ghk->gbk'),
                       options.forget_bias)
    new_c, new_h = cell(c, acts)
    if k is not None:
      new_c, new_h = _hold(k, new_c, c), _hold(k, new_h, h)
    saved = None
    if record:
      saved = (c, acts.astype(dt)) if options.save == 'activations' else c
    return (new_c, new_h), (new_h, saved)

  return jax.lax.scan(step, carry, (gates_x, keep), unroll=options.unroll)


def _grouped_primal(gates_fn, options, gates_args, kernels, carry, keep):
  final, (outputs, _) = _grouped_forward_loop(
      gates_fn(*gates_args), kernels, carry, keep, options, record=False)
  return final, outputs


def _grouped_fwd(gates_fn, options, gates_args, kernels, carry, keep):
  final, (outputs, saved) = _grouped_forward_loop(
      gates_fn(*gates_args), kernels, carry, keep, options, record=True)
  return (final, outputs), (gates_args, kernels, carry[1], keep, outputs, saved)


def _grouped_bwd(gates_fn, options, residuals, cotangents):
  gates_args, kernels, h0, keep, outputs, saved = residuals
  (dc_final, dh_final), d_outputs = cotangents
  dt = options.dtype
  h_prev = jnp.concatenate([h0[None], outputs[:-1]], axis=0)  # [T, G, B, H]
  gates_x, gates_vjp = _recompute(gates_fn, gates_args, options, (d_outputs,))
  if options.save == 'activations':
    c_prev, acts = saved
  else:  # recompute each step's activations inside the loop
    c_prev, acts = saved, (gates_x, h_prev)

  def step(state, xs):
    dc, dh = state
    dh_out, c, a, k = xs
    if options.save == 'states':
      gx, h = a
      a = activations(gx + _matmul(h, kernels, dt, 'gbh,ghk->gbk'),
                      options.forget_bias)
    dh = dh + dh_out  # the output at a step is the carry's h
    if k is not None:  # a held step passes its cotangents straight through
      dc_pass, dh_pass = _hold(k, 0., dc), _hold(k, 0., dh)
      dc, dh = _hold(k, dc, 0.), _hold(k, dh, 0.)
    dgates, dc_prev = cell_backward(dc, dh, c, a)
    dh_prev = _matmul(dgates, kernels, dt, 'gbk,ghk->gbh')
    if k is not None:
      dc_prev, dh_prev = dc_prev + dc_pass, dh_prev + dh_pass
    return (dc_prev, dh_prev), dgates

  (dc0, dh0), dgates = _scan_backward(
      step, (dc_final, dh_final), (d_outputs, c_prev, acts, keep),
      d_outputs.shape[0], options.unroll, anchor=(d_outputs,))
  d_kernels = _matmul(h_prev, dgates, dt, 'tgbh,tgbk->ghk').astype(kernels.dtype)
  d_args = gates_vjp(dgates)
  d_keep = None if keep is None else _float0(keep)
  return d_args, d_kernels, (dc0, dh0), d_keep


def _zero_from(cotangents) -> jax.Array:
  """A float32 zero computed from `cotangents` (arrays of which some may be
  symbolic zeros: the sum keeps the dependency on the others)."""
  first = sum(c.reshape(-1)[0].astype(jnp.float32) for c in cotangents)
  return jnp.zeros((), jnp.float32) * first


def _scan_backward(step, init, xs, length: int, unroll: int, anchor):
  """`jax.lax.scan(step, init, xs, reverse=True)` whose stacked outputs
  (the gate cotangents, as large as the gates) are written into a buffer made
  from `anchor`, cotangents: a scan's own output buffer is a constant that
  XLA:CPU may allocate during the forward pass and keep until now."""
  y = jax.eval_shape(step, init, jax.tree.map(lambda x: x[0], xs))[1]
  zero = _zero_from(anchor).astype(y.dtype)
  buffer = jnp.zeros((length,) + y.shape, y.dtype) + zero

  def body(carry, inputs):
    state, buffer = carry
    i, x = inputs
    state, out = step(state, x)
    return (state, jax.lax.dynamic_update_index_in_dim(buffer, out, i, 0)), None

  (state, buffer), _ = jax.lax.scan(body, (init, buffer),
                                    (jnp.arange(length), xs), reverse=True,
                                    unroll=unroll)
  return state, buffer


def _recompute(gates_fn, gates_args, options: LoopOptions, cotangent):
  """`jax.vjp(gates_fn, *gates_args)` in the backward pass.

  With save='states' the gates must really be recomputed here, not taken
  from the forward pass: XLA would merge the two identical computations
  (keeping the forward's gates alive until now), and XLA:CPU drops
  `optimization_barrier`. So the float arguments are made to depend on a
  cotangent of the outputs (`+ 0 * cotangent`, which XLA does not fold for
  floats). Where that cotangent is a constant zero (an encoder's top layer
  is read only through its final state) XLA folds it and may reuse the
  forward's gates; anchoring on the final-state cotangents as well was
  measured to raise hierdec-mel_16bar's peak (8.6 vs 7.7 GB), so it is not.
  """
  if options.save == 'states':
    zero = _zero_from(cotangent)
    gates_args = jax.tree.map(
        lambda a: a + zero.astype(a.dtype)
        if jnp.issubdtype(a.dtype, jnp.inexact) else a, gates_args)
  return jax.vjp(gates_fn, *gates_args)


def _float0(x):
  import numpy as np
  return np.zeros(x.shape, jax.dtypes.float0)


_grouped = jax.custom_vjp(_grouped_primal, nondiff_argnums=(0, 1))
_grouped.defvjp(_grouped_fwd, _grouped_bwd)


# ---------------------------------------------------------- wavefront loop --
def wavefront_run(gates_fn: Callable[..., jax.Array], gates_args: tuple,
                  kernel0: jax.Array, kernels_up: jax.Array,
                  biases_up: jax.Array, carry: tuple[jax.Array, jax.Array],
                  options: LoopOptions):
  """A stack of L >= 2 LSTM layers of width H as a wavefront.

  Args:
    gates_fn: `gates_fn(*gates_args)` -> layer 0's input gates with bias
      `[T, B, 4H]`.
    gates_args: its (differentiable) arguments.
    kernel0: layer 0's recurrent kernel `[H, 4H]`.
    kernels_up: layers 1..L-1 `[L-1, 2H, 4H]`, each `[input_kernel;
      recurrent_kernel]` (input rows first).
    biases_up: layers 1..L-1 biases `[L-1, 4H]`.
    carry: initial (c, h), each `[L, B, H]`.
    options: `LoopOptions`.

  Returns:
    (final (c, h) each `[L, B, H]`, top layer's outputs `[T, B, H]`).
  """
  return _wavefront(gates_fn, options, gates_args, kernel0, kernels_up,
                    biases_up, carry)


def _active(i, layers: int, steps: int) -> jax.Array:
  """bool [L]: layer l computes step i - l at iteration i."""
  l = jnp.arange(layers)
  return (i >= l) & (i < steps + l)


def _wavefront_gates(gx0, h, kernel0, kernels_up, biases_up, dt):
  """All layers' gate pre-activations of one iteration (`h [L, B, H]`, or with
  a leading iteration axis `[I, L, B, H]`), `gx0` layer 0's input gates."""
  g0 = gx0 + _matmul(h[..., 0, :, :], kernel0, dt, '...bh,hk->...bk')
  xh = jnp.concatenate([h[..., :-1, :, :], h[..., 1:, :, :]], axis=-1)
  gu = _matmul(xh, kernels_up, dt, '...lbk,lkg->...lbg') + biases_up[:, None]
  return jnp.concatenate([g0[..., None, :, :], gu], axis=-3)


def _wavefront_forward_loop(gates0, kernel0, kernels_up, biases_up, carry,
                            options, record):
  dt = options.dtype
  steps, layers = gates0.shape[0], carry[0].shape[0]

  def step(state, i):
    c, h = state
    gx0 = jax.lax.dynamic_index_in_dim(gates0, jnp.minimum(i, steps - 1),
                                       keepdims=False)
    acts = activations(_wavefront_gates(gx0, h, kernel0, kernels_up, biases_up,
                                        dt), options.forget_bias)
    new_c, new_h = cell(c, acts)
    active = _active(i, layers, steps)[:, None]
    new_c, new_h = _hold(active, new_c, c), _hold(active, new_h, h)
    saved = None
    if record:
      saved = (c, h, acts.astype(dt)) if options.save == 'activations' else (c, h)
    return (new_c, new_h), (new_h[-1], saved)

  iterations = steps + layers - 1
  final, (tops, saved) = jax.lax.scan(step, carry, jnp.arange(iterations),
                                      unroll=options.unroll)
  return final, tops[layers - 1:], saved


def _wavefront_primal(gates_fn, options, gates_args, kernel0, kernels_up,
                      biases_up, carry):
  final, outputs, _ = _wavefront_forward_loop(
      gates_fn(*gates_args), kernel0, kernels_up, biases_up, carry, options,
      record=False)
  return final, outputs


def _wavefront_fwd(gates_fn, options, gates_args, kernel0, kernels_up,
                   biases_up, carry):
  final, outputs, saved = _wavefront_forward_loop(
      gates_fn(*gates_args), kernel0, kernels_up, biases_up, carry, options,
      record=True)
  return (final, outputs), (gates_args, kernel0, kernels_up, biases_up, saved)


def _wavefront_bwd(gates_fn, options, residuals, cotangents):
  gates_args, kernel0, kernels_up, biases_up, saved = residuals
  (dc_final, dh_final), d_outputs = cotangents
  dt = options.dtype
  gates0, gates_vjp = _recompute(gates_fn, gates_args, options, (d_outputs,))
  steps, layers = gates0.shape[0], dc_final.shape[0]
  iterations = steps + layers - 1
  if options.save == 'activations':
    c_prev, h_prev, acts = saved
  else:  # recompute each iteration's activations inside the loop
    c_prev, h_prev = saved
    acts = h_prev
  hidden = dc_final.shape[-1]

  def step(state, xs):
    dc, dh = state
    i, c, a = xs
    if options.save == 'states':
      gx0 = jax.lax.dynamic_index_in_dim(gates0, jnp.minimum(i, steps - 1),
                                         keepdims=False)
      a = activations(_wavefront_gates(gx0, a, kernel0, kernels_up, biases_up,
                                       dt), options.forget_bias)
    d_top = jax.lax.dynamic_index_in_dim(
        d_outputs, jnp.clip(i - (layers - 1), 0, steps - 1), keepdims=False)
    dh = dh.at[-1].add(jnp.where(i >= layers - 1, d_top, 0.))
    active = _active(i, layers, steps)[:, None]
    dc_in, dh_in = _hold(active, dc, 0.), _hold(active, dh, 0.)
    dgates, dc_prev = cell_backward(dc_in, dh_in, c, a)
    dh0 = _matmul(dgates[0], kernel0, dt, 'bk,hk->bh')
    dxh = _matmul(dgates[1:], kernels_up, dt, 'lbg,lkg->lbk')  # [L-1, B, 2H]
    dh_own = jnp.concatenate([dh0[None], dxh[..., hidden:]], axis=0)
    dh_prev = _hold(active, dh_own, dh)
    # Layer l >= 1 read layer l - 1's h of the previous iteration.
    dh_prev = dh_prev.at[:-1].add(dxh[..., :hidden])
    dc_prev = _hold(active, dc_prev, dc)
    return (dc_prev, dh_prev), dgates

  (dc0, dh0), dgates = _scan_backward(
      step, (dc_final, dh_final), (jnp.arange(iterations), c_prev, acts),
      iterations, options.unroll, anchor=(d_outputs,))
  d_kernel0 = _matmul(h_prev[:, 0], dgates[:, 0], dt, 'ibh,ibk->hk')
  d_in = _matmul(h_prev[:, :-1], dgates[:, 1:], dt, 'ilbh,ilbk->lhk')
  d_rec = _matmul(h_prev[:, 1:], dgates[:, 1:], dt, 'ilbh,ilbk->lhk')
  d_kernels_up = jnp.concatenate([d_in, d_rec], axis=1)
  d_biases_up = jnp.sum(dgates[:, 1:], axis=(0, 2))
  d_args = gates_vjp(dgates[:steps, 0])
  return (d_args, d_kernel0.astype(kernel0.dtype),
          d_kernels_up.astype(kernels_up.dtype),
          d_biases_up.astype(biases_up.dtype), (dc0, dh0))


_wavefront = jax.custom_vjp(_wavefront_primal, nondiff_argnums=(0, 1))
_wavefront.defvjp(_wavefront_fwd, _wavefront_bwd)
