"""GrooVAE's objective: Magenta's hits / velocities / offsets losses and the
hit metrics, for `GrooVAE` (model.py) on batches of 27-vectors."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax import objectives
from musicvae_jax.families.groove.model import activate, split_heads

LOG_LOSS_EPSILON = 1e-7   # tf.losses.log_loss's default


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
class GrooveObjective(objectives.Objective):
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
    return objectives.step_mask(batch['lengths'], batch['targets'].shape[1])

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
    out = objectives.common_eval_averages(sums)
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
