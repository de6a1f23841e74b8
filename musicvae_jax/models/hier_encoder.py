"""Hierarchical bidirectional LSTM encoder -> (mu, sigma), as Magenta's
`HierarchicalLstmEncoder` over `BidirectionalLstmEncoder`s.

With `level_lengths = [L0, L1, ..., Ln]` (product = window length T):

  level 0   splits the input into `T / L0` segments of `L0` steps (a bar of 16
            steps for the 16-bar models, an instrument slot of 64 events for
            multiperf) and encodes every segment independently, with the same
            weights, read at the segment's own length. A segment's embedding
            is concat(final forward h, final backward h) of its top layer.
  level i   reads the sequence of level i-1's embeddings in segments of `Li`
            (all full length) the same way.

The last level leaves one embedding per example (its final forward/backward h
concat), which feeds mu = Dense(code) and sigma = softplus(Dense(code)).
Every level is a stack of bidirectional layers of sizes `rnn_sizes` (layer
k + 1 reads layer k's forward and backward outputs); each level has its own
weights. Segments of a level run as one batch of `n_segments * B` sequences.

Parameters: `level_{i}/layer_{k}/{fw,bw}/{input_kernel,recurrent_kernel,bias}`
(Magenta: `encoder/hierarchical_level_{i}/cell_{k}/bidirectional_rnn/{fw,bw}/
...`), `mu`, `sigma`, and level 0's token embeddings if any.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from musicvae_jax.models.encoders import MAGENTA_HEAD_INIT, BidirectionalLayer
from musicvae_jax.models.inputs import TokenEmbedder, TokenSpec
from musicvae_jax.models.lstm import Dtype, LoopChoice


def segment_lengths(lengths: jax.Array, n_segments: int,
                    segment_steps: int) -> jax.Array:
  """Per-segment lengths `[B, n_segments]` of the level-0 segments.

  `lengths` may already be `[B, n_segments]` (returned as is), or `[B]`
  total lengths: segment s then gets `clip(length - s * segment_steps, 0,
  segment_steps)`. For the totals Magenta accepts (0 or the full window) this
  is Magenta's `length // n_segments` per segment.
  """
  if lengths.ndim == 2:
    if lengths.shape[1] != n_segments:
      raise ValueError(f'segment lengths have {lengths.shape[1]} columns, the '
                       f'encoder splits the window into {n_segments} segments')
    return lengths
  starts = jnp.arange(n_segments) * segment_steps
  return jnp.clip(lengths[:, None] - starts[None, :], 0, segment_steps)


def to_segments(x: jax.Array, segment_steps: int) -> jax.Array:
  """Time-major `[T, B, ...]` -> `[segment_steps, S * B, ...]`, S = T / segment_steps.

  The new batch is segment-major: row `s * B + b` is segment s of example b.
  """
  steps, batch = x.shape[:2]
  n = steps // segment_steps
  x = x.reshape((n, segment_steps, batch) + x.shape[2:])
  x = jnp.swapaxes(x, 0, 1)
  return x.reshape((segment_steps, n * batch) + x.shape[3:])


class BidirectionalStack(nn.Module):
  """Stacked bidirectional layers `layer_0`, `layer_1`, ... that return the
  top layer's final forward and backward h (one embedding per sequence)."""

  rnn_sizes: Sequence[int]
  input_features: int
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    fan_in, layers = self.input_features, []
    for k, size in enumerate(self.rnn_sizes):
      layers.append(BidirectionalLayer(size, fan_in, self.forget_bias,
                                       self.dtype, self.remat,
                                       custom_vjp=self.custom_vjp,
                                       loops=self.loops,
                                       name=f'layer_{k}'))
      fan_in = 2 * size
    self.layers = layers

  def __call__(self, gates, keep: jax.Array | None) -> jax.Array:
    """Layer-0 input gates (bias included) `(gates_fw, gates_bw)`, each
    `[T, N, 4H]`, or a closure returning them, and `keep` bool `[T, N]`
    (None: all full length) -> `[N, 2 * rnn_sizes[-1]]`."""
    for k, layer in enumerate(self.layers):
      if k:
        def gates(layer=layer, x=outputs):
          return layer.fw.project(x), layer.bw.project(x)
      h_fw, h_bw, outputs = layer.run(gates, keep, self.unroll)
    return jnp.concatenate([h_fw, h_bw], axis=-1)

  def dense(self, x: jax.Array, keep: jax.Array | None = None) -> jax.Array:
    """The same on dense inputs `x [T, N, input_features]`."""
    first = self.layers[0]
    return self(lambda: (first.fw.project(x), first.bw.project(x)), keep)


class HierarchicalEncoder(nn.Module):
  """Magenta's `HierarchicalLstmEncoder`; see the module docstring.

  Same call as `BidirectionalEncoder`: tokens int `[T, B, K]` (time-major,
  T = prod(level_lengths)) -> (mu `[B, Z]`, sigma `[B, Z]`); lengths are
  `[B]` totals or `[B, T / level_lengths[0]]` per level-0 segment. Float
  inputs `[T, B, spec.total_input_width(embed_size)]` (e.g. the concatenated
  one-hots) are read as dense features instead of tokens.
  Optional dense `controls [T, B, control_depth]` join the level-0 input
  after the tokens (kernel rows: token block, then controls, as Magenta
  concatenates them).
  """

  spec: TokenSpec
  level_lengths: Sequence[int]
  rnn_sizes: Sequence[int]
  z_size: int
  embed_size: int = 0
  control_depth: int = 0
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    if not self.level_lengths:
      raise ValueError('HierarchicalEncoder needs at least one level length')
    levels, fan_in = [], (self.spec.total_input_width(self.embed_size)
                          + self.control_depth)
    for i in range(len(self.level_lengths)):
      levels.append(BidirectionalStack(
          self.rnn_sizes, fan_in, self.forget_bias, self.dtype, self.unroll,
          self.remat, self.custom_vjp, loops=self.loops, name=f'level_{i}'))
      fan_in = 2 * self.rnn_sizes[-1]
    self.levels = levels
    self.embedder = TokenEmbedder(self.spec, self.embed_size)
    self.mu = nn.Dense(self.z_size, kernel_init=MAGENTA_HEAD_INIT)
    self.sigma = nn.Dense(self.z_size, kernel_init=MAGENTA_HEAD_INIT)

  @property
  def num_segments(self) -> int:
    """Level-0 segments per window."""
    return math.prod(self.level_lengths[1:])

  def segment_embeddings(self, tokens: jax.Array, lengths: jax.Array,
                         controls: jax.Array | None = None) -> jax.Array:
    """Level 0 alone: `[T, B, K]` tokens (or `[T, B, D]` float features)
    -> one embedding per segment `[S, B, 2H]`."""
    steps, batch = tokens.shape[:2]
    seg = self.level_lengths[0]
    if steps != math.prod(self.level_lengths):
      raise ValueError(f'the encoder reads windows of {steps} steps, its level '
                       f'lengths {list(self.level_lengths)} multiply to '
                       f'{math.prod(self.level_lengths)}')
    n = steps // seg
    seg_len = segment_lengths(lengths, n, seg)               # [B, S]
    keep = jnp.arange(seg)[:, None] < seg_len.T.reshape(-1)[None, :]  # [L0, S*B]
    parts = to_segments(tokens, seg)                         # [L0, S*B, K]
    layer = self.levels[0].layers[0]
    width = self.spec.total_input_width(self.embed_size)
    dense = jnp.issubdtype(parts.dtype, jnp.floating)
    if dense and parts.shape[-1] != width:
      raise ValueError(f'dense encoder inputs have depth {parts.shape[-1]}, '
                       f'the encoder reads {width}')
    c = to_segments(controls, seg) if self.control_depth else None

    def gates():
      out = []
      for d in (layer.fw, layer.bw):
        g = (d.project_rows(0, width, parts) if dense
             else self.embedder.gates(d, parts))
        if c is not None:
          g = g + d.project_rows(width, width + self.control_depth, c)
        out.append(d.add_bias(g))
      return tuple(out)

    code = self.levels[0](gates, keep)
    return code.reshape((n, batch, code.shape[-1]))

  def code(self, tokens: jax.Array, lengths: jax.Array,
           controls: jax.Array | None = None) -> jax.Array:
    """The top level's embedding `[B, 2 * rnn_sizes[-1]]` (before mu/sigma)."""
    x = self.segment_embeddings(tokens, lengths, controls)   # [S, B, D]
    batch = x.shape[1]
    for i in range(1, len(self.level_lengths)):
      seg = self.level_lengths[i]
      n = x.shape[0] // seg
      out = self.levels[i].dense(to_segments(x, seg))        # [S_i * B, D]
      x = out.reshape((n, batch, out.shape[-1]))
    return x[0]

  def __call__(self, tokens: jax.Array, lengths: jax.Array,
               controls: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """tokens int [T, B, K], lengths int [B] or [B, S] -> (mu [B, Z], sigma [B, Z])."""
    code = self.code(tokens, lengths, controls)
    return self.mu(code), jax.nn.softplus(self.sigma(code))
