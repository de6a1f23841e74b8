"""GrooVAE: bidirectional encoder over float drum features + Magenta's
`GrooveLstmDecoder` (hits / velocities / offsets), and its output family.

Vectors are Magenta's 27-wide `[hits (9) | velocities (9) | offsets (9)]`
(`data/groove.py`). The decoder's output projection gives 27 raw outputs per
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

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from musicvae_jax import config_base, families
from musicvae_jax.models.decoders import MAGENTA_STATE_INIT
from musicvae_jax.models.encoders import FeatureEncoder, dropout
from musicvae_jax.models.inputs import TokenSpec
from musicvae_jax.models.lstm import (Dtype, LoopChoice, StackedLSTM, run_layer,
                                      split_state)

LOG_LOSS_EPSILON = 1e-7   # tf.losses.log_loss's default


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


def step_losses(raw: jax.Array, targets: jax.Array) -> dict[str, jax.Array]:
  """Magenta's per-step GrooVAE losses, each summed over the drums: `[...]`.

  hits: tf.losses.log_loss(y, sigmoid(h)) = -y log(p + 1e-7)
        - (1 - y) log(1 - p + 1e-7) (on the probability, not the logits);
  velocities, offsets: squared errors of sigmoid(v), tanh(o).
  """
  p, vel, off = activate(raw.astype(jnp.float32))
  y, t_vel, t_off = split_heads(targets.astype(jnp.float32))
  eps = LOG_LOSS_EPSILON
  hits = -y * jnp.log(p + eps) - (1.0 - y) * jnp.log(1.0 - p + eps)
  return {
      'hits_loss': jnp.sum(hits, -1),
      'velocities_loss': jnp.sum(jnp.square(t_vel - vel), -1),
      'offsets_loss': jnp.sum(jnp.square(t_off - off), -1),
  }


def sample_step(key: jax.Array, raw: jax.Array,
                temperature: float | jax.Array = 1.0) -> jax.Array:
  """Magenta's `GrooveLstmDecoder._sample`: hits ~ Bernoulli(logits / T);
  velocities sigmoid, offsets tanh (deterministic). `[N, 27] -> [N, 27]`."""
  h, v, o = split_heads(raw.astype(jnp.float32))
  hits = jax.random.bernoulli(key, jax.nn.sigmoid(h / temperature)).astype(jnp.float32)
  return jnp.concatenate([hits, jax.nn.sigmoid(v), jnp.tanh(o)], axis=-1)


def hit_counts(raw: jax.Array, targets: jax.Array, mask: jax.Array
               ) -> dict[str, jax.Array]:
  """Sums for hit accuracy / F1 and velocity / offset errors (over masked
  steps; predicted hit = logit > 0, i.e. p > 0.5). Errors are measured on the
  target's hits: velocity in MIDI units (0..127), offset in steps (a 16th)."""
  p, vel, off = activate(raw.astype(jnp.float32))
  y, t_vel, t_off = split_heads(targets.astype(jnp.float32))
  m = mask[..., None]
  pred = (p > 0.5).astype(jnp.float32)
  truth = (y > 0.5).astype(jnp.float32)
  return {
      'tp': jnp.sum(pred * truth * m), 'fp': jnp.sum(pred * (1 - truth) * m),
      'fn': jnp.sum((1 - pred) * truth * m), 'tn': jnp.sum((1 - pred) * (1 - truth) * m),
      'velocity_abs_error': jnp.sum(jnp.abs(vel - t_vel) * 127.0 * truth * m),
      'offset_abs_error': jnp.sum(jnp.abs(off - t_off) / 2.0 * truth * m),
      'true_hits': jnp.sum(truth * m),
  }


def rates(c: dict) -> dict:
  """Accuracy, precision, recall, F1, mean velocity / offset errors from
  `hit_counts` sums (jnp or numpy; 0 when undefined)."""
  def div(a, b):
    return a / jnp.maximum(b, 1e-9) if isinstance(a, jax.Array) else (
        float(a) / float(b) if float(b) > 0 else 0.0)
  precision = div(c['tp'], c['tp'] + c['fp'])
  recall = div(c['tp'], c['tp'] + c['fn'])
  return {
      'hit_accuracy': div(c['tp'] + c['tn'], c['tp'] + c['tn'] + c['fp'] + c['fn']),
      'hit_precision': precision, 'hit_recall': recall,
      'hit_f1': div(2 * c['tp'], 2 * c['tp'] + c['fp'] + c['fn']),
      'velocity_error': div(c['velocity_abs_error'], c['true_hits']),
      'offset_error': div(c['offset_abs_error'], c['true_hits']),
  }


@dataclasses.dataclass(frozen=True)
class GrooveFamily(families.OutputFamily):
  """GrooVAE's outputs: batches of `inputs`, `targets` float `[B, T, 27]`,
  optional `controls` `[B, T, C]`, `lengths`, `weights`; model outputs
  `outputs` (raw, pre-activation) `[B, T, 27]`.

  Metrics: Magenta's hits / velocities / offsets losses, and hit accuracy,
  precision, recall, F1 (logit > 0), mean velocity error (MIDI units) and
  offset error (fractions of a 16th) on the target's hits.
  """

  seq_len: int
  depth: int = 27
  control_depth: int = 0

  console_keys = ('hit_f1', 'velocity_error', 'offset_error')
  eval_console_keys = ('hit_accuracy', 'hit_f1', 'velocity_error',
                       'offset_error', 'hits_loss', 'velocities_loss',
                       'offsets_loss')

  def example_batch(self, config, batch_size):
    import numpy as np
    batch = {
        'inputs': np.zeros((batch_size, self.seq_len, self.depth), np.float32),
        'targets': np.zeros((batch_size, self.seq_len, self.depth), np.float32),
        'lengths': np.full((batch_size,), self.seq_len, np.int32),
        'weights': np.ones((batch_size,), np.float32),
    }
    if self.control_depth:
      batch['controls'] = np.zeros((batch_size, self.seq_len, self.control_depth),
                                   np.float32)
    return batch

  def init_variables(self, model, rngs, batch):
    return model.init(rngs, batch['inputs'], batch['targets'], batch['lengths'],
                      batch.get('controls'))

  def apply(self, model, params, batch, sampling_probability, rngs, train):
    return model.apply({'params': params}, batch['inputs'], batch['targets'],
                       batch['lengths'], batch.get('controls'),
                       sampling_probability, train, rngs=rngs)

  def decode_sampled(self, model, params, z, batch, rngs):
    raw = model.apply({'params': params}, z, batch['targets'],
                      batch.get('controls'), 1.0, rngs=rngs, method='decode')
    return {'outputs': raw}

  def mask(self, batch):
    return families.step_mask(batch['lengths'], batch['targets'].shape[1])

  def loss_parts(self, out, batch, mask) -> dict[str, jax.Array]:
    """Each of Magenta's three losses per example, summed over time: `[B]`."""
    return {k: jnp.sum(v * mask, -1)
            for k, v in step_losses(out['outputs'], batch['targets']).items()}

  def reconstruction_loss(self, out, batch, mask):
    parts = self.loss_parts(out, batch, mask)
    return parts['hits_loss'] + parts['velocities_loss'] + parts['offsets_loss']

  def train_metrics(self, out, batch, mask):
    r = rates(hit_counts(out['outputs'], batch['targets'], mask))
    w = batch['weights']
    n = jnp.maximum(jnp.sum(w), 1.0)
    parts = {k: jnp.sum(v * w) / n
             for k, v in self.loss_parts(out, batch, mask).items()}
    return {'accuracy': r['hit_accuracy'], **r, **parts}

  def eval_sums(self, tf_out, sampled_out, batch, mask, hp):
    del hp
    w = batch['weights']
    sums = {k: jnp.sum(v * w) for k, v in self.loss_parts(tf_out, batch, mask).items()}
    for name, out in (('teacher_forced', tf_out), ('sampled', sampled_out)):
      for k, v in hit_counts(out['outputs'], batch['targets'], mask).items():
        sums[f'{name}_{k}'] = v
    return sums

  def summarise_eval(self, sums, part_names):
    del part_names
    out = families.common_eval_averages(sums)
    n = max(float(sums['examples']), 1.0)
    for k in ('hits_loss', 'velocities_loss', 'offsets_loss'):
      out[k] = float(sums[k]) / n
    for name in ('teacher_forced', 'sampled'):
      counts = {k[len(name) + 1:]: v for k, v in sums.items()
                if k.startswith(name + '_')}
      r = rates(counts)
      for k, v in r.items():
        out[k if name == 'teacher_forced' else f'{k}_sampled'] = float(v)
    out['accuracy_teacher_forced'] = out['hit_accuracy']
    out['accuracy_sampled'] = out['hit_accuracy_sampled']
    return out

  def sample(self, key, raw, temperature=1.0):
    return sample_step(key, raw, temperature)


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
  def family(self) -> GrooveFamily:
    return GrooveFamily(self.seq_len, self.depth, self.control_depth)

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


families.register_model('groove', GrooVAE.from_config)
