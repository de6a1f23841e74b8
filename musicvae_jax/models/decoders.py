"""Decoders: the categorical core decoder and the conductor.

A flat decoder is a `CoreDecoder` conditioned on z over one "bar" of `T`
steps. The hierarchical decoder is a `Conductor` that turns z into one
embedding per subsequence (bar) and a `CoreDecoder` conditioned on each
embedding in turn; the core decoder's state is reset from that embedding at
every bar (never carried over), as in Magenta's `HierarchicalLstmDecoder`.

Because no state crosses bars under teacher forcing or scheduled sampling
(where each bar's first input is the previous bar's last *target*), training
runs all bars of all examples as one batch of `n_bars * B` short sequences.
Only free-running generation, where a bar's first input is the previous bar's
last *sample*, steps through the whole sequence.

Everything is time-major: tokens `[T, B, K]`, logits `[T, B, V]`.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from musicvae_jax.models import cpu_kernels
from musicvae_jax.models.encoders import BidirectionalLayer
from musicvae_jax.models.inputs import (TokenEmbedder, TokenSpec, control_gates,
                                        one_hot_parts)
from musicvae_jax.models.lstm import Dtype, LoopChoice, StackedLSTM, split_state

MAGENTA_STATE_INIT = nn.initializers.normal(stddev=0.001)


def sample_tokens(key: jax.Array, logits: jax.Array, part_depths: tuple[int, ...],
                  temperature: float | jax.Array = 1.0) -> jax.Array:
  """Draws one class per part from the softmax: `[N, V] -> int32 [N, K]`."""
  keys = jax.random.split(key, len(part_depths))
  out, start = [], 0
  for k, depth in enumerate(part_depths):
    part = logits[..., start:start + depth] / temperature
    out.append(jax.random.categorical(keys[k], part, axis=-1))
    start += depth
  return jnp.stack(out, axis=-1).astype(jnp.int32)


def gumbel_noise(keys: jax.Array, batch: int,
                 part_depths: tuple[int, ...]) -> list[jax.Array]:
  """The Gumbel noise `sample_tokens(keys[t], ...)` would draw, for all t at once.

  Speed: one vectorised RNG call outside the time loop instead of a small one
  per step inside it. `jax.random.categorical(key, x)` is
  `argmax(gumbel(key, x.shape) + x)`, so with these (bit-identical) draws
  `sample_with_noise` returns exactly what `sample_tokens` returns.

  Returns per part `[steps, batch, depth]` float32.
  """
  def one(key):
    part_keys = jax.random.split(key, len(part_depths))
    return [jax.random.gumbel(part_keys[k], (batch, depth), jnp.float32)
            for k, depth in enumerate(part_depths)]
  return jax.vmap(one)(keys)


def sample_with_noise(logits: jax.Array, noise: list[jax.Array],
                      part_depths: tuple[int, ...],
                      temperature: float | jax.Array = 1.0) -> jax.Array:
  """`sample_tokens` given one step's `gumbel_noise`: `[N, V] -> int32 [N, K]`."""
  out, start = [], 0
  for k, depth in enumerate(part_depths):
    part = logits[..., start:start + depth] / temperature
    out.append(jnp.argmax(noise[k] + part, axis=-1))
    start += depth
  return jnp.stack(out, axis=-1).astype(jnp.int32)


def logistic_noise(keys: jax.Array, batch: int, num_parts: int) -> list[jax.Array]:
  """Per bit part `[steps, batch, 1]` float32 logistic noise, one draw per
  step's key (the bits' counterpart of `gumbel_noise`)."""
  def one(key):
    part_keys = jax.random.split(key, num_parts)
    return [jax.random.logistic(part_keys[k], (batch, 1), jnp.float32)
            for k in range(num_parts)]
  return jax.vmap(one)(keys)


def sample_bits_with_noise(logits: jax.Array, noise: list[jax.Array],
                           temperature: float | jax.Array = 1.0) -> jax.Array:
  """One Bernoulli(sigmoid(logit / temperature)) bit per part, given one
  step's `logistic_noise`: `[N, K] -> int32 [N, K]` (logit / T + noise >= 0
  has exactly that probability; as temperature -> 0 it is `logit >= 0`,
  magenta.js' BooleanDecoder without a temperature)."""
  out = [(logits[..., k:k + 1] / temperature + noise[k] >= 0)[..., 0]
         for k in range(len(noise))]
  return jnp.stack(out, axis=-1).astype(jnp.int32)


def step_noise(keys: jax.Array, batch: int, spec: TokenSpec) -> list[jax.Array]:
  """The per-step sampling noise of `spec`'s outputs for all steps at once:
  Gumbel per softmax part, logistic per bit part."""
  if spec.bits:
    return logistic_noise(keys, batch, spec.num_parts)
  return gumbel_noise(keys, batch, spec.part_depths)


def sample_step(logits: jax.Array, noise: list[jax.Array], spec: TokenSpec,
                temperature: float | jax.Array = 1.0) -> jax.Array:
  """One step's tokens `[N, K]` from its logits `[N, V]` and `step_noise`."""
  if spec.bits:
    return sample_bits_with_noise(logits, noise, temperature)
  return sample_with_noise(logits, noise, spec.part_depths, temperature)


def shift_right(tokens: jax.Array) -> jax.Array:
  """Decoder inputs from targets: `[T, B, K]`, step 0 = -1 (all-zero input)."""
  start = jnp.full_like(tokens[:1], -1)
  return jnp.concatenate([start, tokens[:-1]], axis=0)


class CoreDecoder(nn.Module):
  """LSTM decoder over categorical tokens, conditioned on a vector `cond`.

  Per sequence: initial state = tanh(Dense(cond)) split into (c, h) per layer;
  input at each step = [previous token features, cond, this step's controls]
  (controls only when `spec.control_depths`; None reads as all zeros);
  logits = Dense(top h): a softmax per part, or with `spec.bits` one
  Bernoulli logit per part (magenta.js' BooleanDecoder).

  With `control_preprocessing_size` H' > 0, a bidirectional LSTM reads the
  whole control sequence (one-hots `[L, N, C]`) first and its outputs
  `[L, N, 2H']` (forward, backward) take the controls' place in every step's
  input (Magenta's BidirectionalLstmControlPreprocessingDecoder; None
  controls still read as zero gates).
  """

  spec: TokenSpec
  rnn_sizes: Sequence[int]
  cond_size: int
  embed_size: int = 0
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()
  control_preprocessing_size: int = 0

  def setup(self):
    self.token_width = self.spec.total_input_width(self.embed_size)
    control_width = self.spec.control_width
    if self.control_preprocessing_size and self.spec.control_depths:
      self.control_preprocessing = BidirectionalLayer(
          self.control_preprocessing_size, control_width, self.forget_bias, self.dtype,
          self.remat, custom_vjp=self.custom_vjp)
      control_width = 2 * self.control_preprocessing_size
    self.z_to_initial_state = nn.Dense(2 * sum(self.rnn_sizes),
                                       kernel_init=MAGENTA_STATE_INIT)
    self.lstm = StackedLSTM(
        self.rnn_sizes,
        self.token_width + self.cond_size + control_width,
        self.forget_bias, self.dtype, self.remat, custom_vjp=self.custom_vjp,
        loops=self.loops)
    self.embedder = TokenEmbedder(self.spec, self.embed_size)
    self.output_projection = nn.Dense(
        self.spec.output_depth, kernel_init=nn.initializers.glorot_uniform())

  # -- pieces --------------------------------------------------------------
  def initial_carries(self, cond: jax.Array):
    """`cond [N, C]` -> per-layer (c, h)."""
    return split_state(jnp.tanh(self.z_to_initial_state(cond)), self.rnn_sizes)

  def cond_gates(self, cond: jax.Array) -> jax.Array:
    """Layer-0 gates of the conditioning block plus bias: `[N, 4H]`."""
    layer = self.lstm.layers[0]
    g = layer.project_rows(self.token_width, self.token_width + self.cond_size,
                           cond)
    return layer.add_bias(g)

  def token_gates(self, tokens: jax.Array) -> jax.Array:
    return self.embedder.gates(self.lstm.layers[0], tokens)

  def control_gates(self, controls: jax.Array | None) -> jax.Array | float:
    """Layer-0 gates of `controls int [L, N, C]` (no bias); 0.0 for None."""
    start = self.token_width + self.cond_size
    if controls is None or not (self.control_preprocessing_size
                                and self.spec.control_depths):
      return control_gates(self.lstm.layers[0], controls, start,
                           self.spec.control_depths)
    dense = one_hot_parts(controls, self.spec.control_depths)
    pre = self.control_preprocessing
    gates = (pre.fw.project(dense), pre.bw.project(dense))    # bias included
    _, _, outputs = pre.run(gates, None, self.unroll)        # [L, N, 2H']
    return self.lstm.layers[0].project_rows(
        start, start + 2 * self.control_preprocessing_size, outputs)

  def logits(self, h: jax.Array) -> jax.Array:
    return self.output_projection(h).astype(jnp.float32)

  def token_tables(self) -> list[jax.Array]:
    """Layer 0's gates of every token, per part: `[depth + 1, 4H]` (the last
    row, zero, is "no token" (-1)), so that a step's token gates are one row
    per part."""
    tables, parts = [], self.spec.num_parts
    for k, depth in enumerate(self.spec.part_depths):
      tokens = jnp.full((depth + 1, parts), -1, jnp.int32)
      tokens = tokens.at[:depth, k].set(jnp.arange(depth, dtype=jnp.int32))
      tables.append(self.token_gates(tokens))
    return tables

  # -- training paths ------------------------------------------------------
  def teacher_forced(self, prev: jax.Array, cond: jax.Array,
                     controls: jax.Array | None = None) -> jax.Array:
    """prev int [L, N, K] (previous targets, -1 = zeros), cond [N, C],
    controls int [L, N, C'] or None -> logits [L, N, V]."""
    def gates0():
      return (self.token_gates(prev) + self.cond_gates(cond)[None]
              + self.control_gates(controls))
    _, outputs = self.lstm.run(self.initial_carries(cond), gates0,
                               unroll=self.unroll)
    return self.logits(outputs)

  def scheduled(self, prev: jax.Array, cond: jax.Array, use_sample: jax.Array,
                key: jax.Array, temperature: float = 1.0,
                controls: jax.Array | None = None) -> jax.Array:
    """Scheduled sampling (Magenta's ScheduledOutputTrainingHelper).

    At step t > 0, example n reads its own previous *sample* where
    `use_sample[t, n]`, else the previous target `prev[t, n]`. Samples are
    drawn from the softmax at `temperature`, not the argmax.

    Args:
      prev: int [L, N, K] previous targets (-1 = zeros at step 0).
      cond: [N, C].
      use_sample: bool [L, N].
      key: PRNG key for the samples.
      controls: int [L, N, C'] or None.

    Returns:
      logits [L, N, V].
    """
    steps = prev.shape[0]
    keys = jax.random.split(key, steps)
    cond_g = self.cond_gates(cond)
    ctrl_g = None if controls is None else self.control_gates(controls)
    spec = self.spec
    noise = step_noise(keys, prev.shape[1], spec)  # per step's key

    def body(mdl, carry, xs, cond_g):
      carries, last_sample = carry
      target_prev, coin, noise_t, step_ctrl = xs
      tokens = jnp.where(coin[:, None], last_sample, target_prev)
      gates0 = mdl.token_gates(tokens) + cond_g
      if step_ctrl is not None:
        gates0 = gates0 + step_ctrl
      carries, h = mdl.lstm.step(carries, gates0)
      logits = mdl.logits(h)
      sample = sample_step(logits, noise_t, spec, temperature)
      return (carries, sample), logits

    if self.remat:
      body = nn.remat(body, prevent_cse=False)
    scan = nn.scan(body, variable_broadcast='params',
                   split_rngs={'params': False},
                   in_axes=(0, nn.broadcast), out_axes=0, unroll=self.unroll)
    carry0 = (self.initial_carries(cond), jnp.full_like(prev[0], -1))
    _, logits = scan(self, carry0, (prev, use_sample, noise, ctrl_g), cond_g)
    return logits

  # -- generation ----------------------------------------------------------
  def generate(self, conds: jax.Array, bar_steps: int, key: jax.Array,
               temperature: float | jax.Array = 1.0,
               controls: jax.Array | None = None):
    """Free-running sampling over `n` subsequences of `bar_steps` steps.

    The state is reset from `conds[b]` at the start of bar b; the first input
    of bar b > 0 is the last sample of bar b - 1 (zeros for bar 0).

    Args:
      conds: [n, B, C], one conditioning vector per subsequence.
      bar_steps: steps per subsequence.
      key: PRNG key.
      temperature: softmax temperature.
      controls: int [n * bar_steps, B, C'] (step t reads control t) or None.

    Returns:
      (tokens int32 [n * bar_steps, B, K], logits [n * bar_steps, B, V]).
    """
    n_bars, batch = conds.shape[:2]
    flat = conds.reshape((n_bars * batch, -1))
    init = jax.tree.map(lambda x: x.reshape((n_bars, batch) + x.shape[1:]),
                        self.initial_carries(flat))
    cond_g = self.cond_gates(flat).reshape((n_bars, batch, -1))
    steps = n_bars * bar_steps
    keys = jax.random.split(key, steps)
    spec, part_depths = self.spec, self.spec.part_depths
    noise = step_noise(keys, batch, spec)  # per step's key
    ctrl_g = None if controls is None else self.control_gates(controls)
    # int8 kernels on CPU: the loop in one callback (softmax outputs only).
    cpu_layers = None if spec.bits else self.lstm.cpu_step_layers(batch)
    if cpu_layers is not None:
      out = self.output_projection.variables['params']
      return cpu_kernels.generate(
          self.token_tables(), cond_g, init, ctrl_g, noise, temperature,
          out['kernel'], out['bias'], [layer.bias for layer in self.lstm.layers],
          cpu_layers, part_depths, bar_steps)

    def body(mdl, carry, xs, init, cond_g):
      carries, last_sample = carry
      t, noise_t, step_ctrl = xs
      bar = t // bar_steps
      fresh = jax.tree.map(lambda x: x[bar], init)
      carries = jax.tree.map(
          lambda new, old: jnp.where(t % bar_steps == 0, new, old),
          fresh, carries)
      gates0 = mdl.token_gates(last_sample) + cond_g[bar]
      if step_ctrl is not None:
        gates0 = gates0 + step_ctrl
      carries, h = mdl.lstm.step(carries, gates0)
      logits = mdl.logits(h)
      sample = sample_step(logits, noise_t, spec, temperature)
      return (carries, sample), (sample, logits)

    scan = nn.scan(body, variable_broadcast='params',
                   split_rngs={'params': False},
                   in_axes=(0, nn.broadcast, nn.broadcast), out_axes=0)
    carry0 = (jax.tree.map(lambda x: x[0], init),
              jnp.full((batch, len(part_depths)), -1, jnp.int32))
    _, (tokens, logits) = scan(self, carry0, (jnp.arange(steps), noise, ctrl_g),
                               init, cond_g)
    return tokens, logits


class Conductor(nn.Module):
  """z -> one embedding per subsequence: an LSTM whose initial state is
  tanh(Dense(z)) and whose input is all zeros ("no autoregression")."""

  rnn_sizes: Sequence[int]
  n_subsequences: int
  input_size: int = 1
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    self.z_to_initial_state = nn.Dense(2 * sum(self.rnn_sizes),
                                       kernel_init=MAGENTA_STATE_INIT)
    self.lstm = StackedLSTM(self.rnn_sizes, self.input_size, self.forget_bias,
                            self.dtype, self.remat, custom_vjp=self.custom_vjp,
                            loops=self.loops)

  def __call__(self, z: jax.Array) -> jax.Array:
    """z [B, Z] -> conductor outputs (top-layer h) [n_subsequences, B, H]."""
    carries = split_state(jnp.tanh(self.z_to_initial_state(z)), self.rnn_sizes)
    layer0 = self.lstm.layers[0]
    # A zero input contributes nothing but the bias to the gates.
    def gates0():
      return layer0.add_bias(
          jnp.zeros((self.n_subsequences, z.shape[0], 4 * self.rnn_sizes[0])))
    _, outputs = self.lstm.run(carries, gates0)
    return outputs
