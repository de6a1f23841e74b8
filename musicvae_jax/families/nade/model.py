"""MusicVAE with Magenta's NADE drum decoder (`MultiLabelRnnNadeDecoder`).

Windows are drum rolls: int `[B, T, D]` of 0/1, one bit per drum class
(`families/nade/data.py`). The model:

  * encoder: Magenta's bidirectional LSTM encoder reading the roll input,
    `[bits (D), no hits (1)]` per step -> (mu, sigma);
  * decoder: a flat LSTM decoder (initial state tanh(Dense(z)), input
    `[previous bits (D), z]`) whose output projection gives, per step,
    `H + D` numbers split as `[b_enc (H) | b_dec (D)]`: the biases of a NADE
    (`models/nade.py`, weights `nade/w_enc [D, 1, H]`, `nade/w_dec_t [D, H, 1]`)
    over that step's D bits.

The reconstruction loss is `-log p(frame)` under the NADE, summed over time;
greedy and sampled decoding draw each frame bit by bit. Scheduled sampling, as
in Magenta's training, feeds back the NADE's thresholded frame (`p >= 0.5`,
the sample Magenta's `_sample` makes without a temperature); free-running
generation draws Bernoulli(logit / temperature) bit by bit.

Public methods are batch-major; the modules inside are time-major.
PRNG streams: 'z' (reparameterisation) and 'sample' (scheduled-sampling coins,
generation draws), plus 'params' at init.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from musicvae_jax import config_base
from musicvae_jax.families.nade import nade
from musicvae_jax.models.decoders import MAGENTA_STATE_INIT
from musicvae_jax.models.encoders import FeatureEncoder
from musicvae_jax.models.inputs import TokenSpec
from musicvae_jax.models.lstm import Dtype, LoopChoice, StackedLSTM, split_state


def _time_major(x: jax.Array) -> jax.Array:
  return jnp.swapaxes(x, 0, 1)


def roll_input(bits: jax.Array) -> jax.Array:
  """Magenta's drum `roll_input`: `[..., D]` bits -> `[..., D + 1]` float,
  the bits and a final bit set on steps without any hit."""
  bits = (bits > 0).astype(jnp.float32)
  no_hits = (jnp.sum(bits, -1, keepdims=True) == 0).astype(jnp.float32)
  return jnp.concatenate([bits, no_hits], -1)


def previous_bits(bits: jax.Array) -> jax.Array:
  """Decoder inputs from targets `[T, B, D]`: shifted one step, zeros first."""
  return jnp.concatenate([jnp.zeros_like(bits[:1]), bits[:-1]], 0)


class NadeDecoder(nn.Module):
  """Flat LSTM decoder whose per-step output parameterises a NADE (Magenta's
  MultiLabelRnnNadeDecoder). Time-major: bits `[L, N, D]`, cond `[N, C]`."""

  num_dims: int
  num_hidden: int
  rnn_sizes: Sequence[int]
  cond_size: int
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    self.z_to_initial_state = nn.Dense(2 * sum(self.rnn_sizes),
                                       kernel_init=MAGENTA_STATE_INIT)
    self.lstm = StackedLSTM(self.rnn_sizes, self.num_dims + self.cond_size,
                            self.forget_bias, self.dtype, self.remat,
                            custom_vjp=self.custom_vjp, loops=self.loops)
    self.output_projection = nn.Dense(
        self.num_hidden + self.num_dims,
        kernel_init=nn.initializers.glorot_uniform())
    self.nade = nade.NadeParams(self.num_dims, self.num_hidden)

  # -- pieces --------------------------------------------------------------
  def initial_carries(self, cond: jax.Array):
    return split_state(jnp.tanh(self.z_to_initial_state(cond)), self.rnn_sizes)

  def cond_gates(self, cond: jax.Array) -> jax.Array:
    layer = self.lstm.layers[0]
    d = self.num_dims
    return layer.add_bias(layer.project_rows(d, d + self.cond_size, cond))

  def bit_gates(self, bits: jax.Array) -> jax.Array:
    return self.lstm.layers[0].project_rows(0, self.num_dims,
                                            bits.astype(jnp.float32))

  def rnn_output(self, h: jax.Array) -> jax.Array:
    """Top h -> Magenta's `rnn_output` `[..., H + D]` (NADE biases)."""
    return self.output_projection(h).astype(jnp.float32)

  def nade_weights(self):
    return self.nade()

  def log_prob(self, rnn_output: jax.Array, bits: jax.Array):
    """(log p [...], cond_probs [..., D]) of frames `bits [..., D]`."""
    lead = bits.shape[:-1]
    b_enc, b_dec = nade.split_biases(rnn_output.reshape(-1, rnn_output.shape[-1]),
                                     self.num_hidden)
    w_enc, w_dec_t = self.nade_weights()
    log_p, probs, _ = nade.log_prob(bits.reshape(-1, self.num_dims), b_enc, b_dec,
                                    w_enc, w_dec_t)
    return log_p.reshape(lead), probs.reshape(lead + (self.num_dims,))

  def _sample(self, rnn_output: jax.Array, temperature=None, uniforms=None):
    b_enc, b_dec = nade.split_biases(rnn_output, self.num_hidden)
    w_enc, w_dec_t = self.nade_weights()
    bits, _ = nade.sample(None, b_enc, b_dec, w_enc, w_dec_t, temperature,
                          uniforms)
    return bits

  # -- training paths ------------------------------------------------------
  def teacher_forced(self, prev: jax.Array, cond: jax.Array) -> jax.Array:
    """prev bits [L, N, D], cond [N, C] -> rnn_output [L, N, H + D]."""
    def gates0():
      return self.bit_gates(prev) + self.cond_gates(cond)[None]
    _, outputs = self.lstm.run(self.initial_carries(cond), gates0,
                               unroll=self.unroll)
    return self.rnn_output(outputs)

  def scheduled(self, prev: jax.Array, cond: jax.Array,
                use_sample: jax.Array) -> jax.Array:
    """Scheduled sampling (Magenta's ScheduledOutputTrainingHelper with the
    NADE's `_sample`): at step t example n reads the previous step's
    thresholded NADE frame where `use_sample[t, n]`, else the previous target.

    Returns rnn_output [L, N, H + D].
    """
    cond_g = self.cond_gates(cond)

    def body(mdl, carry, xs, cond_g):
      carries, last_sample = carry
      target_prev, coin = xs
      bits = jnp.where(coin[:, None], last_sample, target_prev)
      carries, h = mdl.lstm.step(carries, mdl.bit_gates(bits) + cond_g)
      out = mdl.rnn_output(h)
      return (carries, mdl._sample(out)), out

    if self.remat:
      body = nn.remat(body, prevent_cse=False)
    scan = nn.scan(body, variable_broadcast='params',
                   split_rngs={'params': False},
                   in_axes=(0, nn.broadcast), out_axes=0, unroll=self.unroll)
    carry0 = (self.initial_carries(cond), jnp.zeros_like(prev[0], jnp.float32))
    _, outputs = scan(self, carry0, (prev.astype(jnp.float32), use_sample), cond_g)
    return outputs

  # -- generation ----------------------------------------------------------
  def generate(self, cond: jax.Array, steps: int, key: jax.Array,
               temperature: float | jax.Array = 1.0):
    """Free-running decode: each frame drawn bit by bit from the NADE at
    `temperature` (Bernoulli(logit / temperature)) and fed back.

    Returns (bits int32 [steps, N, D], rnn_output [steps, N, H + D]).
    """
    batch = cond.shape[0]
    # Drawn batch-major, so that a padded batch's first rows get the same
    # draws as the batch alone (TrainedModel's batch buckets).
    uniforms = jax.random.uniform(key, (batch, steps, self.num_dims)).swapaxes(0, 1)
    cond_g = self.cond_gates(cond)

    def body(mdl, carry, u, cond_g):
      carries, last = carry
      carries, h = mdl.lstm.step(carries, mdl.bit_gates(last) + cond_g)
      out = mdl.rnn_output(h)
      bits = mdl._sample(out, temperature, u)
      return (carries, bits), (bits, out)

    scan = nn.scan(body, variable_broadcast='params',
                   split_rngs={'params': False},
                   in_axes=(0, nn.broadcast), out_axes=0)
    carry0 = (self.initial_carries(cond),
              jnp.zeros((batch, self.num_dims), jnp.float32))
    _, (bits, outputs) = scan(self, carry0, uniforms, cond_g)
    return bits.astype(jnp.int32), outputs


class NadeMusicVAE(nn.Module):
  """Encoder over the drum roll + NADE decoder. Build it with `from_config`."""

  num_dims: int
  seq_len: int
  z_size: int
  enc_rnn_sizes: Sequence[int]
  dec_rnn_sizes: Sequence[int]
  nade_num_hidden: int
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  remat: bool = False
  custom_vjp: bool = True
  loops: LoopChoice = LoopChoice()

  def setup(self):
    # Magenta's roll input: the D bits plus a "no hits" bit, as dense features.
    self.encoder = FeatureEncoder(TokenSpec((self.num_dims + 1,)),
                                  self.enc_rnn_sizes, self.z_size, 0,
                                  self.forget_bias, self.dtype, self.unroll,
                                  self.remat, custom_vjp=self.custom_vjp,
                                  loops=self.loops)
    self.decoder = NadeDecoder(self.num_dims, self.nade_num_hidden,
                               self.dec_rnn_sizes, self.z_size, self.forget_bias,
                               self.dtype, self.unroll, self.remat,
                               custom_vjp=self.custom_vjp, loops=self.loops)

  # -- public API ----------------------------------------------------------
  def encode(self, tokens: jax.Array,
             lengths: jax.Array) -> tuple[jax.Array, jax.Array]:
    """bits int [B, T, D], lengths [B] -> (mu, sigma), each [B, Z]."""
    return self.encoder(roll_input(_time_major(tokens)), lengths)

  def decode_logits(self, z: jax.Array, tokens: jax.Array,
                    sampling_probability: jax.Array | float | None = None,
                    ) -> jax.Array:
    """Magenta's decoder `rnn_output` `[B, T, H + D]` given target bits
    `[B, T, D]`: teacher forced (None) or scheduled sampling at that
    probability (uses the 'sample' PRNG stream for the coins)."""
    prev = previous_bits(_time_major(tokens).astype(jnp.float32))
    if sampling_probability is None:
      out = self.decoder.teacher_forced(prev, z)
    else:
      use_sample = jax.random.bernoulli(self.make_rng('sample'),
                                        sampling_probability, prev.shape[:2])
      out = self.decoder.scheduled(prev, z, use_sample)
    return _time_major(out)

  def decode(self, z: jax.Array, tokens: jax.Array,
             sampling_probability: jax.Array | float | None = None,
             ) -> dict[str, jax.Array]:
    """`decode_logits` plus the NADE's view of the targets: `log_prob`
    `[B, T]` (log p of each target frame) and `cond_probs` `[B, T, D]`
    (p(x_i = 1 | target x_<i)), with `rnn_output` `[B, T, H + D]`."""
    rnn_output = self.decode_logits(z, tokens, sampling_probability)
    log_p, probs = self.decoder.log_prob(rnn_output, tokens)
    return {'rnn_output': rnn_output, 'log_prob': log_p, 'cond_probs': probs}

  def __call__(self, tokens: jax.Array, lengths: jax.Array,
               sampling_probability: jax.Array | float | None = None):
    """Encode, sample z, decode: dict of `decode`'s outputs, mu, sigma, z."""
    mu, sigma = self.encode(tokens, lengths)
    eps = jax.random.normal(self.make_rng('z'), mu.shape, mu.dtype)
    z = mu + sigma * eps
    out = self.decode(z, tokens, sampling_probability)
    return {**out, 'mu': mu, 'sigma': sigma, 'z': z}

  def sample(self, z: jax.Array, temperature: float | jax.Array = 1.0,
             num_steps: int | None = None):
    """Free-running decode of z [B, Z] ('sample' PRNG stream).

    Returns (bits int32 [B, T, D], rnn_output [B, T, H + D]).
    """
    steps = self.seq_len if num_steps is None else num_steps
    bits, out = self.decoder.generate(z, steps, self.make_rng('sample'),
                                      temperature)
    return _time_major(bits), _time_major(out)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, spec) -> 'NadeMusicVAE':
    """The model for `config` over the roll described by `spec` (one binary
    part per drum class)."""
    if config.use_hier:
      raise ValueError('config.use_hier=True: the NADE drum decoder is flat '
                       '(Magenta has no hierarchical NADE config)')
    return cls(
        num_dims=spec.num_parts,
        seq_len=config_base.sequence_length(config),
        z_size=config.z_size,
        enc_rnn_sizes=tuple(config.enc_rnn_sizes),
        dec_rnn_sizes=tuple(config.dec_rnn_sizes),
        nade_num_hidden=int(config.nade_num_hidden),
        forget_bias=config.forget_bias,
        dtype=jnp.bfloat16 if config.compute_dtype == 'bfloat16' else jnp.float32,
        unroll=int(config.get('scan_unroll', 1)),
        remat=bool(config.get('remat', False)),
        custom_vjp=bool(config.get('lstm_custom_vjp', True)),
        loops=LoopChoice.from_config(config),
    )
