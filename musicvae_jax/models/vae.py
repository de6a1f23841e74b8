"""MusicVAE: bidirectional encoder + reparameterisation + (hierarchical) decoder.

Public methods take and return batch-major arrays (`[B, T, ...]`); the
modules inside are time-major.

PRNG streams: 'z' (reparameterisation noise) and 'sample' (scheduled-sampling
coins and sampled decoder inputs), plus 'params' at init.

Controls (`spec.control_depths`, e.g. chords): every method takes an optional
`controls int [B, T, C]`, read by the encoder beside the tokens and by every
decoder step beside z (Magenta's `control_sequence`). None means no controls
(all-zero inputs); models without control depths ignore nothing and are
unchanged.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from musicvae_jax import config_base
from musicvae_jax.models.decoders import Conductor, CoreDecoder, shift_right
from musicvae_jax.models.encoders import BidirectionalEncoder
from musicvae_jax.models.hier_encoder import HierarchicalEncoder, segment_lengths
from musicvae_jax.models.inputs import TokenSpec, one_hot_parts
from musicvae_jax.models.lstm import Dtype, LoopChoice
from musicvae_jax.models.split_decoder import SplitCoreDecoder


def _time_major(x: jax.Array) -> jax.Array:
  return jnp.swapaxes(x, 0, 1)


class MusicVAE(nn.Module):
  """The whole model. Build it from a config with `from_config`."""

  spec: TokenSpec
  seq_len: int
  z_size: int
  enc_rnn_sizes: Sequence[int]
  dec_rnn_sizes: Sequence[int]
  use_hier: bool = False
  n_subsequences: int = 1
  conductor_rnn_sizes: Sequence[int] = ()
  conductor_input_size: int = 1
  encoder_embed_size: int = 0
  decoder_embed_size: int = 0
  forget_bias: float = 1.0
  dtype: Dtype = jnp.float32
  unroll: int = 1
  # One core decoder per part (Magenta's SplitMultiOutLstmDecoder) instead of
  # one LSTM whose logits are split per part.
  split_decoder: bool = False
  # Recompute LSTM activations in the backward pass (less memory).
  remat: bool = False
  # Hand-written backward pass for whole-sequence LSTM runs (lstm.run_layer).
  custom_vjp: bool = True
  # Hierarchical encoder level lengths (Magenta's HierarchicalLstmEncoder,
  # e.g. (16, 16)); empty: one BidirectionalEncoder over the whole window.
  encoder_levels: Sequence[int] = ()
  # Fused LSTM loops (wavefront, fused bidirectional, saved states).
  loops: LoopChoice = LoopChoice()
  # Flat decoder: a bidirectional LSTM of this size per direction reads the
  # controls before the decoder (0: none; CoreDecoder).
  control_preprocessing_size: int = 0

  def setup(self):
    if self.encoder_levels:
      self.encoder = HierarchicalEncoder(
          self.spec, tuple(self.encoder_levels), self.enc_rnn_sizes,
          self.z_size, self.encoder_embed_size,
          control_depth=self.spec.control_width, forget_bias=self.forget_bias,
          dtype=self.dtype, unroll=self.unroll, remat=self.remat,
          custom_vjp=self.custom_vjp, loops=self.loops)
    else:
      self.encoder = BidirectionalEncoder(
          self.spec, self.enc_rnn_sizes, self.z_size, self.encoder_embed_size,
          self.forget_bias, self.dtype, self.unroll, self.remat,
          custom_vjp=self.custom_vjp, loops=self.loops)
    # Decoders read their previous outputs as one-hots, whatever the encoder reads.
    dec_spec = self.spec.one_hot_inputs()
    core_cls = SplitCoreDecoder if self.split_decoder else CoreDecoder
    if self.use_hier:
      self.conductor = Conductor(self.conductor_rnn_sizes, self.n_subsequences,
                                 self.conductor_input_size, self.forget_bias,
                                 self.dtype, self.remat,
                                 custom_vjp=self.custom_vjp, loops=self.loops)
      self.core_decoder = core_cls(
          dec_spec, self.dec_rnn_sizes, self.conductor_rnn_sizes[-1],
          self.decoder_embed_size, self.forget_bias, self.dtype, self.unroll,
          self.remat, custom_vjp=self.custom_vjp, loops=self.loops)
    else:
      extra = ({'control_preprocessing_size': self.control_preprocessing_size}
               if self.control_preprocessing_size else {})
      self.decoder = core_cls(
          dec_spec, self.dec_rnn_sizes, self.z_size, self.decoder_embed_size,
          self.forget_bias, self.dtype, self.unroll, self.remat,
          custom_vjp=self.custom_vjp, loops=self.loops, **extra)

  # -- structure -----------------------------------------------------------
  @property
  def num_bars(self) -> int:
    """Subsequences the decoder resets at (1 for a flat decoder)."""
    return self.n_subsequences if self.use_hier else 1

  @property
  def bar_steps(self) -> int:
    return self.seq_len // self.num_bars

  def _core(self) -> CoreDecoder | SplitCoreDecoder:
    return self.core_decoder if self.use_hier else self.decoder

  def conditions(self, z: jax.Array) -> jax.Array:
    """z [B, Z] -> per-subsequence conditioning [n_bars, B, C]."""
    return self.conductor(z) if self.use_hier else z[None]

  def _to_bars(self, x: jax.Array) -> jax.Array:
    """[T, B, ...] -> [L, n_bars * B, ...] (bar-major within the new batch)."""
    steps, batch = x.shape[:2]
    n = self.num_bars
    x = x.reshape((n, steps // n, batch) + x.shape[2:])
    x = jnp.swapaxes(x, 0, 1)
    return x.reshape((steps // n, n * batch) + x.shape[3:])

  def _from_bars(self, x: jax.Array, batch: int) -> jax.Array:
    """Inverse of `_to_bars`: [L, n_bars * B, ...] -> [T, B, ...]."""
    steps = x.shape[0]
    n = self.num_bars
    x = x.reshape((steps, n, batch) + x.shape[2:])
    x = jnp.swapaxes(x, 0, 1)
    return x.reshape((n * steps, batch) + x.shape[3:])

  # -- public API ----------------------------------------------------------
  def _controls(self, controls: jax.Array | None) -> jax.Array | None:
    """Batch-major controls -> time-major, or None (also for a model without
    control depths)."""
    if controls is None or not self.spec.control_depths:
      return None
    return _time_major(controls)

  def encode(self, tokens: jax.Array, lengths: jax.Array,
             controls: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """tokens int [B, T, K], lengths int [B], controls int [B, T, C] or None
    -> (mu, sigma), each [B, Z].

    A hierarchical encoder also takes per-segment lengths [B, n_segments];
    a segment is further cut at its padding (-1 tokens: multitrack slots).
    """
    ctrl = self._controls(controls)
    if self.encoder_levels:
      lengths = self._segment_lengths(tokens, lengths)
      if ctrl is not None:   # the hierarchical encoder reads dense controls
        ctrl = one_hot_parts(ctrl, self.spec.control_depths)
    return self.encoder(_time_major(tokens), lengths, ctrl)

  def _segment_lengths(self, tokens: jax.Array, lengths: jax.Array) -> jax.Array:
    """Level-0 segment lengths `[B, S]`: the given ones, at most the
    segment's number of non-padding tokens."""
    batch, steps = tokens.shape[:2]
    seg = self.encoder_levels[0]
    given = segment_lengths(lengths, steps // seg, seg)
    real = jnp.sum((tokens[..., 0] >= 0).reshape(batch, steps // seg, seg), axis=-1)
    return jnp.minimum(given, real).astype(jnp.int32)

  def decode_logits(self, z: jax.Array, tokens: jax.Array,
                    sampling_probability: jax.Array | float | None = None,
                    controls: jax.Array | None = None) -> jax.Array:
    """Decoder logits given targets: `z [B, Z], tokens [B, T, K] -> [B, T, V]`.

    With `sampling_probability=None` this is pure teacher forcing. Otherwise
    each example and step reads its previous sample with that probability
    (uses the 'sample' PRNG stream).
    """
    batch = tokens.shape[0]
    targets = _time_major(tokens)
    prev = self._to_bars(shift_right(targets))       # [L, nB, K]
    cond = self.conditions(z)                          # [n, B, C]
    cond = cond.reshape((-1, cond.shape[-1]))          # [nB, C]
    ctrl = self._controls(controls)
    if ctrl is not None:
      ctrl = self._to_bars(ctrl)                       # [L, nB, C']
    core = self._core()
    if sampling_probability is None:
      logits = core.teacher_forced(prev, cond, ctrl)
    else:
      coin_key, sample_key = jax.random.split(self.make_rng('sample'))
      use_sample = jax.random.bernoulli(coin_key, sampling_probability,
                                        prev.shape[:2])
      logits = core.scheduled(prev, cond, use_sample, sample_key,
                              controls=ctrl)
    return _time_major(self._from_bars(logits, batch))

  def __call__(self, tokens: jax.Array, lengths: jax.Array,
               sampling_probability: jax.Array | float | None = None,
               controls: jax.Array | None = None):
    """Encode, sample z, decode. Returns dict of logits [B, T, V], mu, sigma, z."""
    mu, sigma = self.encode(tokens, lengths, controls)
    eps = jax.random.normal(self.make_rng('z'), mu.shape, mu.dtype)
    z = mu + sigma * eps
    logits = self.decode_logits(z, tokens, sampling_probability, controls)
    return {'logits': logits, 'mu': mu, 'sigma': sigma, 'z': z}

  def sample(self, z: jax.Array, temperature: float | jax.Array = 1.0,
             num_steps: int | None = None, controls: jax.Array | None = None):
    """Free-running decode of z [B, Z] (uses the 'sample' PRNG stream).

    Args:
      z: latent codes.
      temperature: softmax temperature (1e-5 is effectively greedy).
      num_steps: flat decoders only: generate this many steps instead of the
        trained length (a hierarchical decoder's length is fixed by its
        conductor).
      controls: int [B, T', C] or None; step t reads control t. A flat
        decoder given controls and no `num_steps` generates T' steps (Magenta
        stops after the last control).

    Returns:
      (tokens int32 [B, T, K], logits [B, T, V]).
    """
    steps = self.bar_steps
    ctrl = self._controls(controls)
    if ctrl is not None and num_steps is None and not self.use_hier:
      num_steps = ctrl.shape[0]
    if num_steps is not None:
      if self.use_hier and num_steps != self.seq_len:
        raise ValueError(f'a hierarchical decoder generates exactly '
                         f'{self.seq_len} steps, not {num_steps}')
      if not self.use_hier:
        steps = num_steps
    if ctrl is not None and ctrl.shape[0] != steps * self.num_bars:
      raise ValueError(f'controls cover {ctrl.shape[0]} steps, the decoder '
                       f'generates {steps * self.num_bars}')
    tokens, logits = self._core().generate(
        self.conditions(z), steps, self.make_rng('sample'), temperature, ctrl)
    return _time_major(tokens), _time_major(logits)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict,
                  spec: TokenSpec) -> 'MusicVAE':
    """Builds the model described by `config` for tokens described by `spec`."""
    return cls(
        spec=spec,
        seq_len=config_base.sequence_length(config),
        z_size=config.z_size,
        enc_rnn_sizes=tuple(config.enc_rnn_sizes),
        dec_rnn_sizes=tuple(config.dec_rnn_sizes),
        use_hier=config.use_hier,
        n_subsequences=config.n_subsequences if config.use_hier else 1,
        conductor_rnn_sizes=tuple(config.conductor_rnn_sizes),
        conductor_input_size=config.conductor_embed_size,
        encoder_embed_size=config.encoder_embed_size,
        decoder_embed_size=config.decoder_embed_size,
        forget_bias=config.forget_bias,
        dtype=jnp.bfloat16 if config.compute_dtype == 'bfloat16' else jnp.float32,
        # Older saved configs lack the field: 1 is what they ran with.
        unroll=int(config.get('scan_unroll', 1)),
        remat=bool(config.get('remat', False)),
        custom_vjp=bool(config.get('lstm_custom_vjp', True)),
        loops=LoopChoice.from_config(config),
        split_decoder=bool(config.get('split_decoder', False)),
        encoder_levels=tuple(config.get('encoder_levels', ())),
        control_preprocessing_size=int(config.get('control_preprocessing_size', 0)),
    )
