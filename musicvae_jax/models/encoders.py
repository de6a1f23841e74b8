"""Stacked bidirectional LSTM encoder -> (mu, sigma), as Magenta's
`BidirectionalLstmEncoder`."""

from __future__ import annotations

from typing import Sequence

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from musicvae_jax.models.inputs import TokenEmbedder, TokenSpec, control_gates
from musicvae_jax.models import lstm_loops, weight_storage
from musicvae_jax.models.lstm import (Dtype, LoopChoice, LSTMLayer, run_group,
                                      run_layer, run_stored_layers, zero_carry)

MAGENTA_HEAD_INIT = nn.initializers.normal(stddev=0.001)


class BidirectionalLayer(nn.Module):
  """A forward and a backward `LSTMLayer` reading the same inputs."""

  features: int
  input_features: int
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    self.fw = LSTMLayer(self.features, self.input_features, self.forget_bias,
                        self.dtype, self.remat, custom_vjp=self.custom_vjp)
    self.bw = LSTMLayer(self.features, self.input_features, self.forget_bias,
                        self.dtype, self.remat, custom_vjp=self.custom_vjp)

  def __call__(self, gates_fw: jax.Array, gates_bw: jax.Array,
               keep: jax.Array | None, unroll: int = 1):
    """`run` on precomputed gates of each direction."""
    return self.run((gates_fw, gates_bw), keep, unroll)

  def run(self, gates, keep: jax.Array | None, unroll: int = 1):
    """Runs both directions.

    Args:
      gates: (gates_fw, gates_bw), each `[T, B, 4H]` input gates with bias in
        time order, or a closure returning them (lets `loops.save='states'`
        recompute them in the backward pass).
      keep: bool [T, B], True on steps before each sequence's length (None:
        every step).
      unroll: scan unroll factor.

    Returns:
      (h_fw_final [B, H], h_bw_final [B, H], outputs [T, B, 2H]).
    """
    fused = self.loops.fused_bidirectional
    # Stored (inference-only) kernels take the plain loops (training options
    # off; same forward numbers).
    if (not self.custom_vjp or not (fused or self.loops.save == 'states')
        or self.fw.stored_weights):
      gates_fw, gates_bw = gates() if callable(gates) else gates
      batch = gates_fw.shape[1]
      carry0 = zero_carry(batch, self.features)
      if weight_storage.cpu_recurrent_host(self.fw.recurrent_kernel) is not None:
        # int8 kernels on CPU: both directions in one callback.
        ((_, h_fw), out_fw), ((_, h_bw), out_bw) = run_stored_layers(
            [(self.fw, carry0, gates_fw, keep, False),
             (self.bw, carry0, gates_bw, keep, True)])
      else:
        (_, h_fw), out_fw = run_layer(self.fw, carry0, gates_fw, keep,
                                      unroll=unroll)
        (_, h_bw), out_bw = run_layer(self.bw, carry0, gates_bw, keep,
                                      reverse=True, unroll=unroll)
      return h_fw, h_bw, jnp.concatenate([out_fw, out_bw], axis=-1)

    def both():
      return gates() if callable(gates) else gates

    def direction(d):  # [T, 1, B, 4H]; the backward direction time-reversed
      g = both()[d]
      return (g if d == 0 else g[::-1])[:, None]

    options = lstm_loops.LoopOptions(self.forget_bias, self.dtype, unroll,
                                     self.loops.save)
    keep_bw = None if keep is None else keep[::-1]
    carry0 = zero_carry(both()[0].shape[1], self.features)  # (dead code)
    if fused:  # one loop, one batched matmul per step for both directions
      finals, outputs = run_group(
          [self.fw, self.bw],
          lambda: jnp.concatenate([direction(0), direction(1)], axis=1),
          [carry0, carry0],
          None if keep is None else jnp.stack([keep, keep_bw], axis=1),
          options)
      out_fw, out_bw = outputs[:, 0], outputs[::-1, 1]
    else:  # one loop per direction, each saving only its states
      runs = [run_group([layer], functools.partial(direction, d), [carry0],
                        None if k is None else k[:, None], options)
              for d, (layer, k) in enumerate(((self.fw, keep),
                                              (self.bw, keep_bw)))]
      finals = [runs[0][0][0], runs[1][0][0]]
      out_fw, out_bw = runs[0][1][:, 0], runs[1][1][::-1, 0]
    return (finals[0][1], finals[1][1],
            jnp.concatenate([out_fw, out_bw], axis=-1))


class BidirectionalEncoder(nn.Module):
  """Code = [final forward h, final backward h] of the top layer (at each
  sequence's true length); mu = Dense(code), sigma = softplus(Dense(code)).

  Unlike a port that takes `outputs[-1]` of the bidirectional stack, the
  backward half here has read the whole sequence.
  """

  spec: TokenSpec
  rnn_sizes: Sequence[int]
  z_size: int
  embed_size: int = 0
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    # Layer 0 reads concat(tokens, controls) per step (Magenta's encoder input).
    fan_in = self.spec.total_input_width(self.embed_size) + self.spec.control_width
    layers = []
    for k, size in enumerate(self.rnn_sizes):
      layers.append(BidirectionalLayer(size, fan_in, self.forget_bias,
                                       self.dtype, self.remat,
                                       custom_vjp=self.custom_vjp,
                                       loops=self.loops,
                                       name=f'layer_{k}'))
      fan_in = 2 * size
    self.layers = layers
    self.embedder = TokenEmbedder(self.spec, self.embed_size)
    self.mu = nn.Dense(self.z_size, kernel_init=MAGENTA_HEAD_INIT)
    self.sigma = nn.Dense(self.z_size, kernel_init=MAGENTA_HEAD_INIT)

  def __call__(self, tokens: jax.Array, lengths: jax.Array,
               controls: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """tokens int [T, B, K], lengths int [B], controls int [T, B, C] or None
    -> (mu [B, Z], sigma [B, Z])."""
    steps = tokens.shape[0]
    keep = jnp.arange(steps)[:, None] < lengths[None, :]  # [T, B]
    outputs = None
    start = self.spec.total_input_width(self.embed_size)
    depths = self.spec.control_depths
    for k, layer in enumerate(self.layers):
      if k == 0:
        def gates(layer=layer):
          return tuple(
              d.add_bias(self.embedder.gates(d, tokens)
                         + control_gates(d, controls, start, depths))
              for d in (layer.fw, layer.bw))
      else:
        def gates(layer=layer, x=outputs):
          return layer.fw.project(x), layer.bw.project(x)
      h_fw, h_bw, outputs = layer.run(gates, keep, self.unroll)
    code = jnp.concatenate([h_fw, h_bw], axis=-1)
    mu = self.mu(code)
    sigma = jax.nn.softplus(self.sigma(code))
    return mu, sigma


def dropout(key: jax.Array | None, x: jax.Array, keep_prob: float) -> jax.Array:
  """TF's `nn.dropout` semantics: keep with probability `keep_prob`, scale
  kept values by 1 / keep_prob. `key=None` (not training) is the identity."""
  if key is None or keep_prob >= 1.0:
    return x
  keep = jax.random.bernoulli(key, keep_prob, x.shape)
  return jnp.where(keep, x / keep_prob, 0.0).astype(x.dtype)


class FeatureEncoder(BidirectionalEncoder):
  """`BidirectionalEncoder` over float feature vectors `[T, B, F]` (not
  tokens; `spec = TokenSpec((F,))` sets the width), with Magenta's input
  dropout per layer and direction when training with `dropout_keep_prob < 1`
  (the 'dropout' PRNG stream). GrooVAE's 27-vectors and the NADE's drum
  rolls; same parameter names as `BidirectionalEncoder`."""

  dropout_keep_prob: float = 1.0

  def __call__(self, features: jax.Array, lengths: jax.Array,
               train: bool = False) -> tuple[jax.Array, jax.Array]:
    """features [T, B, F], lengths [B] -> (mu [B, Z], sigma [B, Z])."""
    steps = features.shape[0]
    keep = jnp.arange(steps)[:, None] < lengths[None, :]
    use_dropout = train and self.dropout_keep_prob < 1.0
    x_fw = x_bw = features
    for k, layer in enumerate(self.layers):
      if use_dropout:
        k_fw, k_bw = jax.random.split(self.make_rng('dropout'))
        x_fw = dropout(k_fw, x_fw, self.dropout_keep_prob)
        x_bw = dropout(k_bw, x_bw, self.dropout_keep_prob)
      h_fw, h_bw, outputs = layer.run(
          lambda layer=layer, x_fw=x_fw, x_bw=x_bw: (layer.fw.project(x_fw),
                                                     layer.bw.project(x_bw)),
          keep, self.unroll)
      x_fw = x_bw = outputs
    code = jnp.concatenate([h_fw, h_bw], axis=-1)
    return self.mu(code), jax.nn.softplus(self.sigma(code))
