"""LSTM layers with the math of TensorFlow's `LSTMBlockCell`, run under `nn.scan`.

Gate order is TF's (i, j, f, o); `forget_bias` is added to the forget gate's
pre-activation at run time (a TF checkpoint's bias excludes it). No peepholes,
no layer norm.

Parameters of one layer (`LSTMLayer`):
  input_kernel      [input_features, 4 * features]
  recurrent_kernel  [features, 4 * features]
  bias              [4 * features]
TF stores `concat([input_kernel, recurrent_kernel], axis=0)` as one `kernel`.

Speed: the input projection is separated from the recurrence. Where inputs are
known for every step (the encoder, teacher forcing, layers above the first) it
is one large matmul outside the time loop; token inputs skip the matmul
altogether and gather rows of the kernel (one-hot @ W == W[token]). Inside the
loop only `h @ recurrent_kernel` remains.

Backward pass: whole-sequence runs (`run_layer`) differentiate through a
hand-written VJP (`custom_vjp=True`, the default). Its forward pass is the same
`nn.scan`, also keeping each step's gate activations; its backward loop only
propagates `dgates @ recurrent_kernel.T` and stacks `dgates [T, B, 4H]`, so the
recurrent kernel's gradient is one `[H, T*B] @ [T*B, 4H]` matmul after the loop
instead of a `K = B` matmul accumulated into `[H, 4H]` at every step (what
autodiff of a scan does). Same numbers to float tolerance, about 25-30 %
faster per layer on CPU (tests/test_optimised_paths.py, docs/benchmarks.md).

Fused loops (`LoopChoice`, config `lstm_wavefront`, `lstm_fused_bidirectional`,
`lstm_save`): `StackedLSTM.run` can run its layers as a wavefront and save
only the states for the backward pass (`lstm_loops.py`); the bidirectional
encoder layers use `run_directions` below. They apply to the hand-written
backward path (`custom_vjp=True`); plain autodiff ignores them.

All sequences inside the models are time-major: `[time, batch, ...]`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax.models import cpu_kernels
from musicvae_jax.models import lstm_loops, weight_storage

Carry = tuple[jax.Array, jax.Array]  # (c, h), each [batch, features]
Dtype = Any


@dataclasses.dataclass(frozen=True)
class LoopChoice:
  """Which LSTM time loops run (speed and memory only; same numbers).

  wavefront: stacked layers of one width run as a wavefront
    (`lstm_loops.wavefront_run`): config `lstm_wavefront`.
  fused_bidirectional: an encoder layer's two directions share one loop
    (`lstm_loops.grouped_run`, G = 2): config `lstm_fused_bidirectional`.
  save: 'activations' (store gate activations for the backward pass) or
    'states' (store (c, h) only, recompute the gates): config `lstm_save`.
  """

  wavefront: bool = False
  fused_bidirectional: bool = False
  save: str = 'activations'

  @classmethod
  def from_config(cls, config) -> 'LoopChoice':
    default = cls()
    return cls(
        wavefront=bool(config.get('lstm_wavefront', default.wavefront)),
        fused_bidirectional=bool(config.get('lstm_fused_bidirectional',
                                            default.fused_bidirectional)),
        save=str(config.get('lstm_save', default.save)))


def pure_gates(gates) -> tuple[Callable[..., Any], tuple]:
  """(gates_fn, gates_args) for the fused loops from an array or a closure.

  A closure (`() -> gates`) is run once here, so that any lazily created
  parameters exist at this trace level (the result is dead code), then
  closure-converted: the arrays it reads (parameters, layer inputs) become
  explicit arguments, so the backward pass can differentiate through it and,
  with `save='states'`, recompute the gates instead of storing them. An
  array is passed through (nothing to recompute from).
  """
  if not callable(gates):
    return (lambda g: g), (gates,)
  gates()
  fn, consts = jax.closure_convert(gates)
  return fn, tuple(consts)


def _evaluate(gates):
  return gates() if callable(gates) else gates


def tf_glorot_uniform(fan_in: int, fan_out: int):
  """TF's default kernel init (glorot uniform) on the *combined* TF kernel.

  Our input and recurrent kernels are the two row blocks of TF's single
  `[input + hidden, 4 * hidden]` kernel, so both use that kernel's limit.
  """
  limit = math.sqrt(6.0 / (fan_in + fan_out))

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -limit, limit)

  return init


class LSTMLayer(nn.Module):
  """One LSTM layer: parameters plus `project` (input gates) and `recur` (one step)."""

  features: int
  input_features: int
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  # Recompute each step's gates in the backward pass instead of storing them
  # (autodiff path only: the hand-written backward already stores just
  # (c, h, gate activations) per step).
  remat: bool = False
  # Differentiate whole-sequence runs with the hand-written backward pass.
  custom_vjp: bool = True

  def setup(self):
    init = tf_glorot_uniform(self.input_features + self.features,
                             4 * self.features)
    self.input_kernel = self.param(
        'input_kernel', init, (self.input_features, 4 * self.features))
    self.recurrent_kernel = self.param(
        'recurrent_kernel', init, (self.features, 4 * self.features))
    self.bias = self.param('bias', nn.initializers.zeros, (4 * self.features,))

  @property
  def stored_weights(self) -> bool:
    """Whether the kernels are inference-only `weight_storage.StoredKernel`s."""
    return weight_storage.is_stored(self.recurrent_kernel)

  def project(self, x: jax.Array) -> jax.Array:
    """Input gates for dense inputs: `[..., input_features] -> [..., 4H]` (bias included)."""
    return weight_storage.matmul(x, self.input_kernel, self.dtype) + self.bias

  def project_rows(self, start: int, stop: int, x: jax.Array) -> jax.Array:
    """Gates of one input block `x [..., stop - start]` (rows start:stop), no bias."""
    return weight_storage.matmul(
        x, weight_storage.rows(self.input_kernel, start, stop), self.dtype)

  def gather_rows(self, start: int, depth: int, tokens: jax.Array,
                  table: jax.Array | None = None) -> jax.Array:
    """Gates of a token input block without building one-hots.

    Args:
      start: first kernel row of this block.
      depth: number of token classes.
      tokens: int [...], values in [0, depth); -1 stands for an all-zero input.
      table: optional [depth, width] features per token (embedding or a fixed
        encoding); None means one-hot (width == depth).

    Returns:
      float32 [..., 4H], the block's contribution to the gates (no bias).
    """
    width = depth if table is None else table.shape[-1]
    rows = weight_storage.dense(
        weight_storage.rows(self.input_kernel, start, start + width))
    if table is not None:
      rows = jnp.dot(table, rows)  # [depth, 4H]
    rows = jnp.concatenate([rows, jnp.zeros_like(rows[:1])], axis=0)
    index = jnp.where(tokens < 0, depth, tokens)
    return jnp.take(rows, index, axis=0).astype(jnp.float32)

  def fused_step(self, carry: Carry, x: jax.Array) -> tuple[Carry, jax.Array]:
    """`self(carry, x)` with one matmul: `[x, h] @ [input_kernel; recurrent_kernel]`.

    Speed (stepwise paths, where `x` is only known inside the loop): one
    larger matmul per step instead of two. The concatenated kernel is loop
    invariant, so XLA builds it once outside the scan. Same math as
    `project` + `recur` up to float summation order. Stored (inference)
    kernels take two matmuls (`weight_storage.concat_matmul`).
    """
    c, h = carry
    gates = weight_storage.concat_matmul(
        (x, h), (self.input_kernel, self.recurrent_kernel), self.dtype) + self.bias
    return self._cell(c, gates)

  def add_bias(self, gates: jax.Array) -> jax.Array:
    return gates + self.bias

  def step_gates(self, h: jax.Array, gates_x: jax.Array) -> jax.Array:
    """Gate pre-activations `[B, 4H]`: `gates_x` (with bias) + h @ recurrent_kernel."""
    return gates_x + weight_storage.matmul(h, self.recurrent_kernel, self.dtype)

  def recur(self, carry: Carry, gates_x: jax.Array) -> tuple[Carry, jax.Array]:
    """One time step. `gates_x [B, 4H]` are the input gates (with bias)."""
    c, h = carry
    return self._cell(c, self.step_gates(h, gates_x))

  def activations(self, gates: jax.Array) -> tuple[jax.Array, ...]:
    """Gate pre-activations `[B, 4H]` -> (sigmoid(i), tanh(j),
    sigmoid(f + forget_bias), sigmoid(o)), each `[B, H]`."""
    i, j, f, o = jnp.split(gates, 4, axis=-1)
    return (jax.nn.sigmoid(i), jnp.tanh(j), jax.nn.sigmoid(f + self.forget_bias),
            jax.nn.sigmoid(o))

  def _cell(self, c: jax.Array, gates: jax.Array) -> tuple[Carry, jax.Array]:
    """The element-wise part: gates `[B, 4H]` (all inputs, bias) -> new (c, h)."""
    (new_c, new_h), _ = _cell_from_activations(c, self.activations(gates))
    return (new_c, new_h), new_h

  def __call__(self, carry: Carry, x: jax.Array) -> tuple[Carry, jax.Array]:
    """One step on dense input `x [B, input_features]`."""
    return self.recur(carry, self.project(x))


def _cell_from_activations(c: jax.Array, acts) -> tuple[Carry, jax.Array]:
  """(c [B, H], activations) -> ((new c, new h), tanh(new c))."""
  sig_i, tanh_j, sig_f, sig_o = acts
  new_c = c * sig_f + sig_i * tanh_j
  tanh_c = jnp.tanh(new_c)
  return (new_c, tanh_c * sig_o), tanh_c


def _keep_where(keep: jax.Array | None, new: Carry, old: Carry) -> Carry:
  if keep is None:
    return new
  return tuple(jnp.where(keep[:, None], n, o) for n, o in zip(new, old))


def _plain_recur(layer: LSTMLayer, carry: Carry, inputs):
  gates_x, keep = inputs  # [B, 4H], [B] bool or None
  new_carry, _ = layer.recur(carry, gates_x)
  new_carry = _keep_where(keep, new_carry, carry)
  return new_carry, new_carry[1]


def _recur_keeping_activations(layer: LSTMLayer, carry: Carry, inputs):
  """`_plain_recur` that also emits what the hand-written backward needs."""
  gates_x, keep = inputs
  c, h = carry
  acts = layer.activations(layer.step_gates(h, gates_x))
  new_carry, _ = _cell_from_activations(c, acts)
  new_carry = _keep_where(keep, new_carry, carry)
  return new_carry, (new_carry[1], (c, h, jnp.concatenate(acts, -1)))


def _scan(body, layer, carry, gates_x, keep, reverse, unroll):
  scan = nn.scan(body, variable_broadcast='params', split_rngs={'params': False},
                 in_axes=0, out_axes=0, reverse=reverse, unroll=unroll)
  return scan(layer, carry, (gates_x, keep))


def lstm_backward(residuals, cotangents, *, dtype: Dtype, reverse: bool,
                  unroll: int = 1):
  """Backward pass of `run_layer`'s recurrence (pure; no module).

  Args:
    residuals: (recurrent_kernel [H, 4H], keep bool [T, B] or None,
      c_prev [T, B, H], h_prev [T, B, H], activations [T, B, 4H]) where step
      t's entries are the state *before* step t and its
      (sigmoid(i), tanh(j), sigmoid(f + forget_bias), sigmoid(o)).
    cotangents: ((dc, dh) of the final carry, dh of the outputs [T, B, H]).
    dtype: the matmul compute dtype of the forward pass.
    reverse: whether the forward ran from the last step to the first.
    unroll: scan unroll factor.

  Returns:
    (d recurrent_kernel [H, 4H], (dc0, dh0) [B, H] each, d gates_x [T, B, 4H]).
  """
  kernel, keep, c_prev, h_prev, acts = residuals
  (dc_final, dh_final), dh_outputs = cotangents
  kernel_t = kernel.astype(dtype).T

  def step(carry, xs):
    dc, dh = carry
    dh_out, c, a, k = xs
    dh = dh + dh_out  # the output at a step is the carry's h
    if k is not None:  # a held step passes its cotangents straight through
      k = k[:, None]
      dc_pass, dh_pass = jnp.where(k, 0., dc), jnp.where(k, 0., dh)
      dc, dh = jnp.where(k, dc, 0.), jnp.where(k, dh, 0.)
    dgates, dc_prev = lstm_loops.cell_backward(dc, dh, c, a)
    dh_prev = jnp.dot(dgates.astype(dtype), kernel_t,
                      preferred_element_type=jnp.float32)
    if k is not None:
      dc_prev, dh_prev = dc_prev + dc_pass, dh_prev + dh_pass
    return (dc_prev, dh_prev), dgates

  (dc0, dh0), dgates = jax.lax.scan(
      step, (dc_final, dh_final), (dh_outputs, c_prev, acts, keep),
      reverse=not reverse, unroll=unroll)
  d_kernel = jnp.einsum('tbh,tbg->hg', h_prev.astype(dtype), dgates.astype(dtype),
                        preferred_element_type=jnp.float32)
  return d_kernel.astype(kernel.dtype), (dc0, dh0), dgates


def run_layer(layer: LSTMLayer, carry: Carry, gates_x: jax.Array,
              keep: jax.Array | None = None, reverse: bool = False,
              unroll: int = 1) -> tuple[Carry, jax.Array]:
  """Runs one layer over precomputed input gates with `nn.scan`.

  Args:
    layer: the layer (its parameters are broadcast over time).
    carry: initial (c, h), each [B, H].
    gates_x: [T, B, 4H] input gates for every step.
    keep: optional bool [T, B]; where False the state is not updated, which
      makes a reversed run start at each sequence's true last step.
    reverse: run from the last step to the first.
    unroll: scan unroll factor.

  Returns:
    The final carry and the outputs h `[T, B, H]`.
  """
  if weight_storage.cpu_recurrent_host(layer.recurrent_kernel) is not None:
    return run_stored_layers([(layer, carry, gates_x, keep, reverse)])[0]
  if not layer.custom_vjp or layer.stored_weights:  # stored: inference only
    body = _plain_recur
    if layer.remat:
      # Keep only the carries between steps; activations are recomputed.
      body = nn.remat(body, prevent_cse=False)
    return _scan(body, layer, carry, gates_x, keep, reverse, unroll)

  def primal(mdl, carry, gates_x, keep):
    return _scan(_plain_recur, mdl, carry, gates_x, keep, reverse, unroll)

  def forward(mdl, carry, gates_x, keep):
    final, (outputs, (c_prev, h_prev, acts)) = _scan(
        _recur_keeping_activations, mdl, carry, gates_x, keep, reverse, unroll)
    residuals = (mdl.recurrent_kernel, keep, c_prev, h_prev, acts)
    return (final, outputs), residuals

  def backward(residuals, cotangents):
    d_kernel, d_carry, d_gates = lstm_backward(
        residuals, cotangents, dtype=layer.dtype, reverse=reverse, unroll=unroll)
    keep = residuals[1]
    # The input kernel and bias enter only through `gates_x`, outside this function.
    d_params = {'params': {
        'input_kernel': jnp.zeros((layer.input_features, 4 * layer.features)),
        'recurrent_kernel': d_kernel,
        'bias': jnp.zeros((4 * layer.features,))}}
    d_keep = None if keep is None else np.zeros(keep.shape, jax.dtypes.float0)
    return d_params, d_carry, d_gates, d_keep

  recurrence = nn.custom_vjp(primal, forward_fn=forward, backward_fn=backward)
  return recurrence(layer, carry, gates_x, keep)


def run_stored_layers(runs) -> list[tuple[Carry, jax.Array]]:
  """Independent layers with int8 kernels (inference, CPU backend) over
  whole sequences, each a loop of the numba kernel, in one callback
  (`cpu_kernels.lstm_runs`; same math as `run_layer`).

  Args:
    runs: per layer `(layer, carry (c, h) [B, H], gates_x [T, B, 4H], keep
      bool [T, B] or None, reverse)`.

  Returns:
    per layer (final carry, outputs `[T, B, H]`).
  """
  return cpu_kernels.lstm_runs([
      (gates_x, jnp.ones(gates_x.shape[:2], bool) if keep is None else keep,
       carry, weight_storage.cpu_recurrent_host(layer.recurrent_kernel), layer.forget_bias,
       reverse)
      for layer, carry, gates_x, keep, reverse in runs])


def run_group(layers: Sequence[LSTMLayer], gates, carries: Sequence[Carry],
              keep: jax.Array | None, options: lstm_loops.LoopOptions):
  """Runs layers of one width as G independent recurrences in one loop.

  Args:
    layers: G `LSTMLayer`s (their recurrent kernels are used).
    gates: input gates with bias `[T, G, B, 4H]`, or a closure returning them.
    carries: initial (c, h) per layer, each `[B, H]`.
    keep: optional bool `[T, G, B]` (False holds the state).
    options: loop options.

  Returns:
    (final (c, h) per layer, outputs `[T, G, B, H]`).
  """
  gates_fn, gates_args = pure_gates(gates)
  kernels = jnp.stack([weight_storage.dense(l.recurrent_kernel) for l in layers])
  carry = tuple(jnp.stack(x) for x in zip(*carries))
  (c, h), outputs = lstm_loops.grouped_run(gates_fn, gates_args, kernels,
                                           carry, keep, options)
  return [(c[g], h[g]) for g in range(len(layers))], outputs


def zero_carry(batch: int, features: int) -> Carry:
  return (jnp.zeros((batch, features), jnp.float32),
          jnp.zeros((batch, features), jnp.float32))


def split_state(flat: jax.Array, sizes: Sequence[int]) -> list[Carry]:
  """Splits `[B, sum(2 * sizes)]` into per-layer (c, h), TF's flattening order
  (c0, h0, c1, h1, ...)."""
  carries, offset = [], 0
  for size in sizes:
    c = flat[:, offset:offset + size]
    h = flat[:, offset + size:offset + 2 * size]
    carries.append((c, h))
    offset += 2 * size
  return carries


class StackedLSTM(nn.Module):
  """A stack of `LSTMLayer`s named `layer_0`, `layer_1`, ...

  Layer 0 reads `input_features`; layer k > 0 reads layer k-1's h.
  """

  sizes: Sequence[int]
  input_features: int
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    ins = [self.input_features] + list(self.sizes[:-1])
    self.layers = [
        LSTMLayer(size, fan_in, self.forget_bias, self.dtype, self.remat,
                  custom_vjp=self.custom_vjp,
                  name=f'layer_{k}')
        for k, (size, fan_in) in enumerate(zip(self.sizes, ins))]

  def run(self, carries: Sequence[Carry], gates0,
          unroll: int = 1) -> tuple[list[Carry], jax.Array]:
    """Whole-sequence run (inputs known for every step).

    Args:
      carries: initial state per layer.
      gates0: [T, B, 4 * sizes[0]] layer-0 input gates (bias included), or a
        closure returning them (lets `save='states'` recompute them).
      unroll: scan unroll factor.

    Returns:
      Final carries and the top layer's outputs `[T, B, sizes[-1]]`.
    """
    # Stored (inference-only) kernels always take the plain loops below: the
    # fused loops are training options (same forward numbers).
    fused = self.custom_vjp and not self.layers[0].stored_weights
    if fused and self.loops.wavefront and self.wavefront_applies:
      return self._run_wavefront(carries, gates0, unroll)
    if fused and self.loops.save == 'states':
      return self._run_saving_states(carries, gates0, unroll)
    finals, gates = [], _evaluate(gates0)
    for k, layer in enumerate(self.layers):
      if k:
        gates = layer.project(outputs)  # one matmul for all steps
      carry, outputs = run_layer(layer, carries[k], gates, unroll=unroll)
      finals.append(carry)
    return finals, outputs

  @property
  def wavefront_applies(self) -> bool:
    """A wavefront needs two or more layers of one width."""
    return len(self.sizes) > 1 and len(set(self.sizes)) == 1

  def _options(self, unroll: int) -> lstm_loops.LoopOptions:
    return lstm_loops.LoopOptions(self.forget_bias, self.dtype, unroll,
                                  self.loops.save)

  def _run_wavefront(self, carries, gates0, unroll):
    """`run` as one wavefront loop (`lstm_loops.wavefront_run`)."""
    gates_fn, gates_args = pure_gates(gates0)
    up = self.layers[1:]
    kernels_up = jnp.stack([jnp.concatenate([l.input_kernel, l.recurrent_kernel], 0)
                            for l in up])
    biases_up = jnp.stack([l.bias for l in up])
    carry = tuple(jnp.stack(x) for x in zip(*carries))
    (c, h), outputs = lstm_loops.wavefront_run(
        gates_fn, gates_args, self.layers[0].recurrent_kernel, kernels_up,
        biases_up, carry, self._options(unroll))
    return [(c[k], h[k]) for k in range(len(self.layers))], outputs

  def _run_saving_states(self, carries, gates0, unroll):
    """`run` layer by layer, each saving only its states (G = 1 loops)."""
    finals, outputs = [], None
    for k, layer in enumerate(self.layers):
      if k:
        gates = functools.partial(layer.project, outputs)
      else:
        gates = gates0
      carry, outputs = run_group(
          [layer], lambda g=gates: _evaluate(g)[:, None], [carries[k]], None,
          self._options(unroll))
      finals.append(carry[0])
      outputs = outputs[:, 0]
    return finals, outputs

  def step(self, carries: Sequence[Carry],
           gates0: jax.Array) -> tuple[list[Carry], jax.Array]:
    """One time step through every layer. `gates0 [B, 4 * sizes[0]]`."""
    layers = self.cpu_step_layers(gates0.shape[0])
    if layers is not None:  # int8 kernels on CPU: the stack in one callback
      new = cpu_kernels.stack_step(gates0, carries, layers,
                                   [layer.bias for layer in self.layers])
      return new, new[-1][1]
    new, x = [], None
    for k, layer in enumerate(self.layers):
      if k == 0:  # input gates given: only h @ recurrent_kernel remains
        carry, x = layer.recur(carries[k], gates0)
      else:       # one fused [x, h] matmul per layer and step
        carry, x = layer.fused_step(carries[k], x)
      new.append(carry)
    return new, x

  @property
  def state_size(self) -> int:
    return 2 * sum(self.sizes)

  def cpu_step_layers(self, rows: int):
    """`cpu_kernels.stack_step`'s layer list when every kernel is int8 with
    host values on the CPU backend, the batch a step's few rows and the
    stack at least `weight_storage.CPU_KERNEL_MIN_WEIGHTS`; else None."""
    layers, weights = [], 0
    for k, layer in enumerate(self.layers):
      w_rec = weight_storage.cpu_host(layer.recurrent_kernel)
      w_in = None if k == 0 else weight_storage.cpu_host(layer.input_kernel)
      if w_rec is None or (k and w_in is None):
        return None
      weights += w_rec.values.size + (0 if w_in is None else w_in.values.size)
      layers.append((w_in, w_rec, float(layer.forget_bias)))
    if rows > weight_storage.STEP_ROWS or weights < weight_storage.CPU_KERNEL_MIN_WEIGHTS:
      return None
    return layers
