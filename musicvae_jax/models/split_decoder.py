"""One core decoder per instrument: Magenta's `SplitMultiOutLstmDecoder`.

Used under the conductor in `hierdec-trio_16bar`: core decoder `k`
(`core_decoder_k`, Magenta's `core_decoder/core_decoder_k/decoder/...`) reads
only part `k`'s previous token and the conditioning vector, has its own
initial-state layer, LSTM and output projection, and predicts part `k`.
Logits are concatenated in part order, so losses (summed over parts) and
per-part metrics work as for a flat multi-output decoder.

Same interface as `CoreDecoder` (time-major): `teacher_forced`, `scheduled`,
`generate`. Scheduled sampling draws one coin per example and step shared by
the parts (Magenta's parts draw their own); the Magenta configs only use
probability 0 or 1, where both are the same.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from musicvae_jax.models.decoders import CoreDecoder
from musicvae_jax.models.inputs import TokenSpec
from musicvae_jax.models.lstm import Dtype, LoopChoice


class SplitCoreDecoder(nn.Module):
  """K independent `CoreDecoder`s, one per part of `spec`."""

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

  def setup(self):
    self.decoders = [
        CoreDecoder(TokenSpec((depth,), None if self.spec.input_tables is None
                              else (self.spec.input_tables[k],),
                              self.spec.control_depths),
                    self.rnn_sizes, self.cond_size, self.embed_size,
                    self.forget_bias, self.dtype, self.unroll, self.remat,
                    custom_vjp=self.custom_vjp, loops=self.loops,
                    name=f'core_decoder_{k}')
        for k, depth in enumerate(self.spec.part_depths)]

  def teacher_forced(self, prev: jax.Array, cond: jax.Array,
                     controls: jax.Array | None = None) -> jax.Array:
    """prev int [L, N, K], cond [N, C] -> logits [L, N, V]."""
    return jnp.concatenate(
        [d.teacher_forced(prev[..., k:k + 1], cond, controls)
         for k, d in enumerate(self.decoders)], axis=-1)

  def scheduled(self, prev: jax.Array, cond: jax.Array, use_sample: jax.Array,
                key: jax.Array, temperature: float = 1.0,
                controls: jax.Array | None = None) -> jax.Array:
    keys = jax.random.split(key, len(self.decoders))
    return jnp.concatenate(
        [d.scheduled(prev[..., k:k + 1], cond, use_sample, keys[k], temperature,
                     controls)
         for k, d in enumerate(self.decoders)], axis=-1)

  def generate(self, conds: jax.Array, bar_steps: int, key: jax.Array,
               temperature: float | jax.Array = 1.0,
               controls: jax.Array | None = None):
    """-> (tokens int32 [T, B, K], logits [T, B, V]); parts sampled independently."""
    keys = jax.random.split(key, len(self.decoders))
    tokens, logits = zip(*[d.generate(conds, bar_steps, keys[k], temperature,
                                      controls)
                           for k, d in enumerate(self.decoders)])
    return jnp.concatenate(tokens, axis=-1), jnp.concatenate(logits, axis=-1)
