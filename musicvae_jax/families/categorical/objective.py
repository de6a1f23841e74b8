"""The categorical objective: MusicVAE's token softmax (melody, drums, trio,
chords, multitrack), its loss, accuracies and eval summaries."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from musicvae_jax import config_base, losses, objectives


@dataclasses.dataclass(frozen=True)
class CategoricalObjective(objectives.Objective):
  """MusicVAE's tokens: one softmax per part, cross-entropy, argmax accuracy.

  Batches: `tokens` int `[B, T, K]` (encoder input and decoder target alike;
  -1 marks padding inside a window, as multiperf's per-slot lengths leave it),
  `lengths`, `weights`, and `controls` float `[B, T, C]` for chord-conditioned
  configs (`config.controls`; read by the encoder and every decoder step).
  Model outputs: `logits` `[B, T, sum(part_depths)]`, or `[B, T, K]` for
  bit parts (`bits`: tokens 0 / 1, a Bernoulli per part).
  """

  part_depths: tuple[int, ...]
  num_controls: int = 0  # control columns (`TokenSpec.control_depths`)
  # Bit parts (`TokenSpec.bits`): one logit per part, sigmoid cross-entropy,
  # `logit >= 0` as the prediction (magenta.js' BooleanDecoder).
  bits: bool = False
  # The class `event_accuracy` leaves out (melody NO_EVENT, rhythm "no
  # onset"); None: every step counts (a contour has no "no event").
  no_event_class: int | None = 0
  reconstruction_is_nll = True
  token_metrics = True   # evaluate.py scores greedy / sampled token decodes

  def example_batch(self, config, batch_size):
    steps = config_base.sequence_length(config)
    batch = {
        'tokens': np.zeros((batch_size, steps, len(self.part_depths)), np.int32),
        'lengths': np.full((batch_size,), steps, np.int32),
        'weights': np.ones((batch_size,), np.float32),
    }
    if self.num_controls:
      batch['controls'] = np.zeros((batch_size, steps, self.num_controls),
                                   np.int32)
    return batch

  def init_variables(self, model, rngs, batch):
    return model.init(rngs, batch['tokens'], batch['lengths'], None,
                      batch.get('controls'))

  def apply(self, model, params, batch, sampling_probability, rngs, train):
    del train  # no dropout in these models
    return model.apply({'params': params}, batch['tokens'], batch['lengths'],
                       sampling_probability, batch.get('controls'), rngs=rngs)

  def decode_sampled(self, model, params, z, batch, rngs):
    logits = model.apply({'params': params}, z, batch['tokens'], 1.0,
                         batch.get('controls'), rngs=rngs,
                         method='decode_logits')
    return {'logits': logits}

  def predicted_tokens(self, out):
    """Argmax tokens `[B, T, K]` of a decode's logits (bits: `logit >= 0`)."""
    return self._predict(out['logits'])

  def _predict(self, logits):
    if self.bits:
      return losses.bit_predictions(logits)
    return losses.predictions(logits, self.part_depths)

  def _counts(self, logits, batch, mask):
    return losses.prediction_counts(self._predict(logits), batch['tokens'], mask,
                                    self.no_event_class)

  def free_running_tokens(self, model, params, z, batch, key, temperature):
    """Tokens `[B, T, K]` decoded from `z` with no targets (each step reads
    its own sample; temperature 1e-5 is greedy)."""
    tokens, _ = model.apply({'params': params}, z, temperature, None,
                            batch.get('controls'), rngs={'sample': key},
                            method='sample')
    return tokens

  def mask(self, batch):
    """1 on steps before each length that are not padding (-1 tokens)."""
    return objectives.step_mask(batch['lengths'], batch['tokens'].shape[1]) * (
        batch['tokens'][..., 0] >= 0).astype(jnp.float32)

  def reconstruction_loss(self, out, batch, mask):
    if self.bits:
      return losses.bit_reconstruction_loss(out['logits'], batch['tokens'], mask)
    return losses.reconstruction_loss(out['logits'], batch['tokens'], mask,
                                      self.part_depths)

  def train_metrics(self, out, batch, mask):
    acc = self._counts(out['logits'], batch, mask)
    return {
        'accuracy': jnp.sum(acc['correct']) / jnp.maximum(jnp.sum(acc['count']), 1),
        'event_accuracy': (jnp.sum(acc['event_correct'])
                           / jnp.maximum(jnp.sum(acc['event_count']), 1)),
    }

  def eval_sums(self, tf_out, sampled_out, batch, mask, hp):
    sums = {}
    for name, logits in (('teacher_forced', tf_out['logits']),
                         ('sampled', sampled_out['logits'])):
      acc = self._counts(logits, batch, mask)
      for key, value in acc.items():
        sums[f'{name}_{key}'] = value                    # [K]
    # Per-bar teacher-forced accuracy (hierarchical models) and per-class hits.
    pred = self._predict(tf_out['logits'])
    hits = (pred == batch['tokens']).astype(jnp.float32) * mask[..., None]
    bars = hits.reshape(hits.shape[0], hp.num_bars, -1, hits.shape[-1])
    sums['bar_correct'] = jnp.sum(bars, axis=(0, 2, 3))           # [n_bars]
    sums['bar_count'] = jnp.sum(
        mask.reshape(mask.shape[0], hp.num_bars, -1), axis=(0, 2)) * hits.shape[-1]
    for k, depth in enumerate(self.part_depths):
      class_hits, class_counts = losses.per_class_counts(
          pred[..., k], batch['tokens'][..., k], mask, depth)
      sums[f'class_correct/{k}'] = class_hits                   # [depth]
      sums[f'class_count/{k}'] = class_counts
    return sums

  def summarise_eval(self, sums, part_names):
    return summarise_eval(sums, part_names)



def summarise_eval(sums: dict[str, Any], part_names: tuple[str, ...]) -> dict[str, float]:
  """Turns summed eval counts into averages (host side, numpy inputs)."""
  n = max(float(sums['examples']), 1.0)
  out = {k: float(sums[k]) / n for k in
         ('loss', 'r_loss', 'r_loss_teacher_forced', 'r_loss_sampled',
          'kl_loss', 'kl_bits')}
  for mode in ('teacher_forced', 'sampled'):
    correct = np.asarray(sums[f'{mode}_correct'])
    count = np.maximum(np.asarray(sums[f'{mode}_count']), 1)
    ev_c = np.asarray(sums[f'{mode}_event_correct'])
    ev_n = np.maximum(np.asarray(sums[f'{mode}_event_count']), 1)
    out[f'accuracy_{mode}'] = float(correct.sum() / count.sum())
    out[f'event_accuracy_{mode}'] = float(ev_c.sum() / ev_n.sum())
    if len(part_names) > 1:
      for k, name in enumerate(part_names):
        out[f'accuracy_{mode}/{name}'] = float(correct[k] / count[k])
  # Magenta's mean per-class accuracy (classes seen in the eval set), per
  # part; the headline figure is the mean over parts.
  part_means = []
  for k, name in enumerate(part_names):
    counts = np.asarray(sums.get(f'class_count/{k}', []))
    seen = counts > 0
    if seen.any():
      hits = np.asarray(sums[f'class_correct/{k}'])
      part_means.append(float((hits[seen] / counts[seen]).mean()))
      if len(part_names) > 1:
        out[f'mean_per_class_accuracy/{name}'] = part_means[-1]
  if part_means:
    out['mean_per_class_accuracy'] = float(np.mean(part_means))
  bar_c = np.asarray(sums['bar_correct'])
  if bar_c.size > 1:
    bar_n = np.maximum(np.asarray(sums['bar_count']), 1)
    for b, acc in enumerate(bar_c / bar_n):
      out[f'bar_accuracy/{b:02d}'] = float(acc)
  return out
