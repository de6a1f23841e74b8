"""The NADE drum decoder's objective (see `objectives.py`): how
`model.NadeMusicVAE` is called, scored and measured.

Batches are the usual `tokens` (here the drum roll: int `[B, T, D]` of 0/1),
`lengths`, `weights`. The model returns, per step, `log_prob` (log p of the
target frame under the NADE, Magenta's 1e-6 inside the log) and `cond_probs`
(p(x_i = 1 | target x_<i)).

  * reconstruction loss: `-log p(frame)` summed over unmasked steps (Magenta's
    `MultiLabelRnnNadeDecoder._flat_reconstruction_loss`);
  * metrics, as Magenta's: a bit is predicted hit where its conditional is
    >= 0.5; `accuracy` = frames with every bit right, `precision` / `recall`
    over hits, and `f1`;
  * eval: teacher forced and at sampling probability 1 (each step reads the
    previous step's thresholded NADE frame: Magenta's eval mode with a
    scheduled-sampling config).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax import config_base, objectives

Batch = dict[str, jax.Array]


def hit_counts(cond_probs: jax.Array, targets: jax.Array,
               mask: jax.Array) -> dict[str, jax.Array]:
  """Sums for Magenta's NADE metrics over unmasked steps (scalars).

  cond_probs [B, T, D], targets int [B, T, D], mask [B, T].
  """
  pred = cond_probs >= 0.5
  truth = targets > 0
  m = mask[..., None]
  frame_ok = jnp.all(pred == truth, axis=-1).astype(jnp.float32)
  return {
      'true_pos': jnp.sum((pred & truth) * m),
      'false_pos': jnp.sum((pred & ~truth) * m),
      'false_neg': jnp.sum((~pred & truth) * m),
      'frames_correct': jnp.sum(frame_ok * mask),
      'frames': jnp.sum(mask),
  }


def rates(sums: dict[str, Any]) -> dict[str, Any]:
  """accuracy, precision, recall, f1 from `hit_counts` sums (jax or numpy)."""
  tp, fp, fn = sums['true_pos'], sums['false_pos'], sums['false_neg']
  precision = tp / jnp.maximum(tp + fp, 1.0)
  recall = tp / jnp.maximum(tp + fn, 1.0)
  return {
      'accuracy': sums['frames_correct'] / jnp.maximum(sums['frames'], 1.0),
      'precision': precision,
      'recall': recall,
      'f1': 2 * precision * recall / jnp.maximum(precision + recall, 1e-12),
  }


@dataclasses.dataclass(frozen=True)
class NadeObjective(objectives.Objective):
  """Multi-label drum frames scored by a NADE (module docstring)."""

  num_dims: int
  reconstruction_is_nll = True  # -log p(x|z) of the NADE, summed over time
  console_keys: tuple[str, ...] = ('f1',)
  eval_console_keys: tuple[str, ...] = ('f1_teacher_forced', 'f1_sampled')

  def example_batch(self, config, batch_size):
    steps = config_base.sequence_length(config)
    return {
        'tokens': np.zeros((batch_size, steps, self.num_dims), np.int32),
        'lengths': np.full((batch_size,), steps, np.int32),
        'weights': np.ones((batch_size,), np.float32),
    }

  def init_variables(self, model, rngs, batch):
    return model.init(rngs, batch['tokens'], batch['lengths'])

  def apply(self, model, params, batch, sampling_probability, rngs, train):
    del train  # no dropout in this model
    return model.apply({'params': params}, batch['tokens'], batch['lengths'],
                       sampling_probability, rngs=rngs)

  def decode_sampled(self, model, params, z, batch, rngs):
    return model.apply({'params': params}, z, batch['tokens'], 1.0,
                       rngs=rngs, method='decode')

  def mask(self, batch):
    return objectives.step_mask(batch['lengths'], batch['tokens'].shape[1])

  def reconstruction_loss(self, out, batch, mask):
    return -jnp.sum(out['log_prob'] * mask, axis=-1)

  def train_metrics(self, out, batch, mask):
    return rates(hit_counts(out['cond_probs'], batch['tokens'], mask))

  def eval_sums(self, tf_out, sampled_out, batch, mask, hp):
    del hp
    sums = {}
    for name, out in (('teacher_forced', tf_out), ('sampled', sampled_out)):
      for key, value in hit_counts(out['cond_probs'], batch['tokens'], mask).items():
        sums[f'{name}_{key}'] = value
    return sums

  def summarise_eval(self, sums, part_names):
    del part_names
    out = objectives.common_eval_averages(sums)
    for mode in ('teacher_forced', 'sampled'):
      counts = {k: float(sums[f'{mode}_{k}']) for k in
                ('true_pos', 'false_pos', 'false_neg', 'frames_correct', 'frames')}
      for key, value in rates(counts).items():
        out[f'{key}_{mode}'] = float(value)
    return out

