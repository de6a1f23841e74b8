"""GrooVAE: bidirectional encoder over float drum features + Magenta's
`GrooveLstmDecoder` (hits / velocities / offsets); its loss and metrics are
in `objective.py`.

Vectors are Magenta's 27-wide `[hits (9) | velocities (9) | offsets (9)]`
(`families/groove/data.py`). The decoder's output projection gives 27 raw outputs per
step, read as three heads: hit logits (sigmoid), velocity logits (sigmoid),
offset pre-activations (tanh).

  encoder input per step   concat(inputs, controls)              [D + C]
  decoder input per step   concat(previous TARGET, z, control)   [D + Z + C]
                           (zeros at step 0; the previous sample when
                           sampling)
  decoder initial state    tanh(Dense(z)), as every MusicVAE decoder

Dropout (Magenta `dropout_keep_prob`, `rnn_cell`'s DropoutWrapper with
`input_keep_prob`): in training only, on the input of every LSTM layer of the
encoder (each direction its own mask) and of the decoder, a fresh mask per
step, kept values scaled by 1 / keep. Masks come from the 'dropout' PRNG
stream, which the train step folds from the state's key and step, so a
resumed run drops exactly what the uninterrupted run dropped.

Parameter names match the categorical MusicVAE's flat layout (`encoder/...`,
`decoder/{lstm, z_to_initial_state, output_projection}`), so Magenta
checkpoints convert through `magenta/convert.py` unchanged.

Public methods are batch-major; everything inside is time-major.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from musicvae_jax import config_base
from musicvae_jax.models.decoders import MAGENTA_STATE_INIT
from musicvae_jax.models.encoders import FeatureEncoder, dropout
from musicvae_jax.models.inputs import TokenSpec
from musicvae_jax.models.lstm import (Dtype, LoopChoice, StackedLSTM, run_layer,
                                      split_state)

def _time_major(x: jax.Array) -> jax.Array:
  return jnp.swapaxes(x, 0, 1)


# -- pure math of the three heads ---------------------------------------------

def split_heads(raw: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """`[..., 3 * d]` -> (hit logits, velocity logits, offset pre-activations)."""
  return tuple(jnp.split(raw, 3, axis=-1))


def activate(raw: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(sigmoid(hits), sigmoid(velocities), tanh(offsets)), each `[..., d]`."""
  h, v, o = split_heads(raw)
  return jax.nn.sigmoid(h), jax.nn.sigmoid(v), jnp.tanh(o)


def sample_step(key: jax.Array, raw: jax.Array,
                temperature: float | jax.Array = 1.0) -> jax.Array:
  """Magenta's `GrooveLstmDecoder._sample`: hits ~ Bernoulli(logits / T);
  velocities sigmoid, offsets tanh (deterministic). `[N, 27] -> [N, 27]`."""
  h, v, o = split_heads(raw.astype(jnp.float32))
  hits = jax.random.bernoulli(key, jax.nn.sigmoid(h / temperature)).astype(jnp.float32)
  return jnp.concatenate([hits, jax.nn.sigmoid(v), jnp.tanh(o)], axis=-1)


class GrooveDecoder(nn.Module):
  """Magenta's GrooveLstmDecoder (flat): LSTM over [previous 27-vector, z,
  control], initial state tanh(Dense(z)), 27 raw outputs per step."""

  depth: int
  rnn_sizes: Sequence[int]
  z_size: int
  control_depth: int = 0
  forget_bias: float = 1.0
  dropout_keep_prob: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  custom_vjp: bool = True

  def setup(self):
    self.z_to_initial_state = nn.Dense(2 * sum(self.rnn_sizes),
                                       kernel_init=MAGENTA_STATE_INIT)
    self.lstm = StackedLSTM(self.rnn_sizes,
                            self.depth + self.z_size + self.control_depth,
                            self.forget_bias, self.dtype,
                            custom_vjp=self.custom_vjp)
    self.output_projection = nn.Dense(
        self.depth, kernel_init=nn.initializers.glorot_uniform())

  def _inputs(self, prev, z, controls):
    """[L, B, D], [B, Z], [L, B, C] | None -> [L, B, D + Z + C]."""
    parts = [prev, jnp.broadcast_to(z[None], prev.shape[:2] + z.shape[-1:])]
    if self.control_depth:
      parts.append(controls)
    return jnp.concatenate(parts, axis=-1)

  def _masks(self, steps: int, batch: int, train: bool):
    """Per layer, the dropout key for all steps (None: no dropout)."""
    if not train or self.dropout_keep_prob >= 1.0:
      return [None] * len(self.rnn_sizes)
    return list(jax.random.split(self.make_rng('dropout'), len(self.rnn_sizes)))

  def teacher_forced(self, targets: jax.Array, z: jax.Array,
                     controls: jax.Array | None, train: bool = False) -> jax.Array:
    """targets [T, B, D] (previous targets are fed), z [B, Z] -> raw [T, B, D]."""
    prev = jnp.concatenate([jnp.zeros_like(targets[:1]), targets[:-1]], axis=0)
    x = self._inputs(prev, z, controls)
    carries = split_state(jnp.tanh(self.z_to_initial_state(z)), self.rnn_sizes)
    keys = self._masks(x.shape[0], x.shape[1], train)
    for k, layer in enumerate(self.lstm.layers):
      x = dropout(keys[k], x, self.dropout_keep_prob)
      _, x = run_layer(layer, carries[k], layer.project(x), unroll=self.unroll)
    return self.output_projection(x).astype(jnp.float32)

  def stepwise(self, prev: jax.Array, z: jax.Array, controls: jax.Array | None,
               use_sample: jax.Array, key: jax.Array,
               temperature: float | jax.Array = 1.0, train: bool = False):
    """Scheduled sampling / free running. At step t > 0 example n reads its
    previous sample where `use_sample[t, n]`, else `prev[t, n]` (the previous
    target; zeros at t = 0).

    Returns (samples [T, B, D], raw [T, B, D]).
    """
    steps, batch = prev.shape[:2]
    keys = jax.random.split(key, steps)
    carries = split_state(jnp.tanh(self.z_to_initial_state(z)), self.rnn_sizes)
    drop = self._masks(steps, batch, train)
    drop_keys = [None if d is None else jax.random.split(d, steps) for d in drop]
    if controls is None:
      controls = jnp.zeros((steps, batch, 0), prev.dtype)
    zs = jnp.broadcast_to(z, (batch, z.shape[-1]))

    def body(mdl, carry, xs):
      carries, last = carry
      target_prev, coin, control, step_key, step_drop = xs
      x = jnp.where(coin[:, None], last, target_prev)
      parts = [x, zs] + ([control] if mdl.control_depth else [])
      x = jnp.concatenate(parts, axis=-1)
      new = []
      for k, layer in enumerate(mdl.lstm.layers):
        x = dropout(step_drop[k], x, mdl.dropout_keep_prob)
        c, x = layer.recur(carries[k], layer.project(x))
        new.append(c)
      raw = mdl.output_projection(x).astype(jnp.float32)
      sample = sample_step(step_key, raw, temperature)
      return (new, sample), (sample, raw)

    scan = nn.scan(body, variable_broadcast='params', split_rngs={'params': False},
                   in_axes=0, out_axes=0, unroll=self.unroll)
    carry0 = (carries, jnp.zeros_like(prev[0]))
    _, (samples, raw) = scan(self, carry0,
                             (prev, use_sample, controls, keys, drop_keys))
    return samples, raw


class GrooVAE(nn.Module):
  """Encoder + GrooveDecoder. Build it from a config with `from_config`."""

  seq_len: int
  z_size: int
  enc_rnn_sizes: Sequence[int]
  dec_rnn_sizes: Sequence[int]
  depth: int = 27
  control_depth: int = 0
  forget_bias: float = 1.0
  dropout_keep_prob: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  @property
  def spec(self) -> TokenSpec:
    return TokenSpec((self.depth,))

  def setup(self):
    self.encoder = FeatureEncoder(
        TokenSpec((self.depth + self.control_depth,)), self.enc_rnn_sizes,
        self.z_size, 0, self.forget_bias, self.dtype, self.unroll,
        custom_vjp=self.custom_vjp, loops=self.loops,
        dropout_keep_prob=self.dropout_keep_prob)
    self.decoder = GrooveDecoder(
        self.depth, self.dec_rnn_sizes, self.z_size, self.control_depth,
        self.forget_bias, self.dropout_keep_prob, self.dtype, self.unroll,
        custom_vjp=self.custom_vjp)

  def _controls(self, controls, batch: int, steps: int):
    """Time-major controls, or None without controls (zeros if the model has
    controls but none were given: e.g. unconditioned samples)."""
    if not self.control_depth:
      return None
    if controls is None:
      return jnp.zeros((steps, batch, self.control_depth), jnp.float32)
    return _time_major(jnp.asarray(controls, jnp.float32))

  def encode(self, inputs: jax.Array, lengths: jax.Array,
             controls: jax.Array | None = None, train: bool = False):
    """inputs [B, T, D], lengths [B], controls [B, T, C] -> (mu, sigma) [B, Z]."""
    x = _time_major(inputs.astype(jnp.float32))
    c = self._controls(controls, inputs.shape[0], inputs.shape[1])
    if c is not None:
      x = jnp.concatenate([x, c], axis=-1)
    return self.encoder(x, lengths, train)

  def decode(self, z: jax.Array, targets: jax.Array,
             controls: jax.Array | None = None,
             sampling_probability: jax.Array | float | None = None,
             train: bool = False) -> jax.Array:
    """Raw outputs given targets: teacher forced (`sampling_probability`
    None) or scheduled sampling. `[B, T, D]`."""
    t = _time_major(targets.astype(jnp.float32))
    c = self._controls(controls, targets.shape[0], targets.shape[1])
    if sampling_probability is None:
      raw = self.decoder.teacher_forced(t, z, c, train)
    else:
      prev = jnp.concatenate([jnp.zeros_like(t[:1]), t[:-1]], axis=0)
      coin_key, sample_key = jax.random.split(self.make_rng('sample'))
      use_sample = jax.random.bernoulli(coin_key, sampling_probability, prev.shape[:2])
      _, raw = self.decoder.stepwise(prev, z, c, use_sample, sample_key, 1.0, train)
    return _time_major(raw)

  def __call__(self, inputs: jax.Array, targets: jax.Array, lengths: jax.Array,
               controls: jax.Array | None = None,
               sampling_probability: jax.Array | float | None = None,
               train: bool = False):
    """Encode, sample z, decode. Returns dict of outputs (raw) [B, T, D], mu, sigma, z."""
    mu, sigma = self.encode(inputs, lengths, controls, train)
    eps = jax.random.normal(self.make_rng('z'), mu.shape, mu.dtype)
    z = mu + sigma * eps
    raw = self.decode(z, targets, controls, sampling_probability, train)
    return {'outputs': raw, 'mu': mu, 'sigma': sigma, 'z': z}

  def sample(self, z: jax.Array, temperature: float | jax.Array = 1.0,
             num_steps: int | None = None, controls: jax.Array | None = None):
    """Free-running decode of z [B, Z] ('sample' PRNG stream).

    Returns (samples [B, T, D]: hits 0/1, velocities in (0, 1), offsets in
    (-1, 1); raw outputs [B, T, D]).
    """
    steps = num_steps or self.seq_len
    batch = z.shape[0]
    prev = jnp.zeros((steps, batch, self.depth), jnp.float32)
    c = self._controls(controls, batch, steps)
    use = jnp.ones((steps, batch), bool)
    samples, raw = self.decoder.stepwise(prev, z, c, use, self.make_rng('sample'),
                                         temperature)
    return _time_major(samples), _time_major(raw)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, spec: TokenSpec) -> 'GrooVAE':
    return cls(
        seq_len=config_base.sequence_length(config),
        z_size=config.z_size,
        enc_rnn_sizes=tuple(config.enc_rnn_sizes),
        dec_rnn_sizes=tuple(config.dec_rnn_sizes),
        depth=spec.output_depth,
        control_depth=spec.output_depth // 3 if config.get('groove_hits_as_controls', False) else 0,
        forget_bias=config.forget_bias,
        dropout_keep_prob=float(config.get('dropout_keep_prob', 1.0)),
        dtype=jnp.bfloat16 if config.compute_dtype == 'bfloat16' else jnp.float32,
        unroll=int(config.get('scan_unroll', 1)),
        custom_vjp=bool(config.get('lstm_custom_vjp', True)),
        loops=LoopChoice.from_config(config),
    )

