"""Evaluation metrics (pure functions, jit-friendly; numpy inputs work too).

Token shapes follow the rest of the project: predictions and targets int
`[B, T]` for one part (or `[B, T, K]` where said), mask float `[B, T]` (1 on
real, unpadded steps; 0 on padding steps and on weight-0 padding rows).

Every `*_counts` function returns sums, never ratios, so that figures add up
exactly over batches; `ratio` and `f1` turn the totals into figures on the host.

Token conventions (data/encodings.py): melody 0 = NO_EVENT, 1 = NOTE_OFF,
2.. = pitches, so a note starts where the token is >= 2; drums: token bit c
set = drum class c hit at that step, 0 = no hit.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

FIRST_PITCH_TOKEN = 2
NUM_DRUM_CLASSES = 9
LOG_2PI = math.log(2.0 * math.pi)


# -- accuracy and onsets --------------------------------------------------------
def accuracy_counts(pred: jax.Array, target: jax.Array, mask: jax.Array
                    ) -> tuple[jax.Array, jax.Array]:
  """(correct, count) over the unmasked steps of one part: scalars."""
  hit = (pred == target).astype(jnp.float32) * mask
  return jnp.sum(hit), jnp.sum(mask)


def bar_accuracy_counts(pred: jax.Array, target: jax.Array, mask: jax.Array,
                        num_bars: int) -> tuple[jax.Array, jax.Array]:
  """Per-bar (correct, count) `[num_bars]` of `[B, T, K]` tokens (T divisible
  by num_bars; every part's steps count)."""
  hit = (pred == target).astype(jnp.float32) * mask[..., None]
  batch, steps = hit.shape[:2]
  bars = hit.reshape(batch, num_bars, steps // num_bars, -1)
  count = jnp.broadcast_to(mask[..., None], hit.shape).reshape(bars.shape)
  return jnp.sum(bars, axis=(0, 2, 3)), jnp.sum(count, axis=(0, 2, 3))


def melody_onset_counts(pred: jax.Array, target: jax.Array, mask: jax.Array
                        ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Note starts of a melody part: (true positives, predicted, actual) scalars.

  A predicted onset is a true positive when the target starts the same pitch
  at the same step.
  """
  p_on = (pred >= FIRST_PITCH_TOKEN).astype(jnp.float32) * mask
  t_on = (target >= FIRST_PITCH_TOKEN).astype(jnp.float32) * mask
  tp = p_on * (pred == target)
  return jnp.sum(tp), jnp.sum(p_on), jnp.sum(t_on)


def drum_bits(tokens: jax.Array, num_classes: int = NUM_DRUM_CLASSES) -> jax.Array:
  """Drum tokens `[...]` -> hits `[..., num_classes]` (float 0/1)."""
  bits = jnp.right_shift(jnp.asarray(tokens, jnp.int32)[..., None],
                         jnp.arange(num_classes)) & 1
  return bits.astype(jnp.float32)


def drum_onset_counts(pred: jax.Array, target: jax.Array, mask: jax.Array,
                      num_classes: int = NUM_DRUM_CLASSES
                      ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Hits per drum class: (true positives, predicted, actual), each `[C]`."""
  p = drum_bits(pred, num_classes) * mask[..., None]
  t = drum_bits(target, num_classes) * mask[..., None]
  axes = tuple(range(p.ndim - 1))
  return jnp.sum(p * t, axes), jnp.sum(p, axes), jnp.sum(t, axes)


def silent_windows(pred: jax.Array, mask: jax.Array, weights: jax.Array,
                   kinds: tuple[str, ...]) -> jax.Array:
  """How many (weighted) windows `[B, T, K]` hold no note start in any part.

  `kinds[k]` is 'melody' (onset = token >= 2) or 'drums' (onset = token != 0);
  parts of other kinds count an onset as any token other than 0.
  """
  onsets = 0.0
  for k, kind in enumerate(kinds):
    first = FIRST_PITCH_TOKEN if kind == 'melody' else 1
    onsets = onsets + jnp.sum((pred[..., k] >= first) * mask, axis=-1)
  return jnp.sum(weights * (onsets == 0))


def ratio(num, den) -> float:
  """num / den as a float, 0 when den is 0 (sums of empty sets)."""
  num, den = float(np.sum(num)), float(np.sum(den))
  return num / den if den > 0 else 0.0


def f1(tp, n_pred, n_true) -> dict[str, float]:
  """Precision, recall and F1 from summed counts (0 where undefined)."""
  precision, recall = ratio(tp, n_pred), ratio(tp, n_true)
  score = (2 * precision * recall / (precision + recall)
           if precision + recall > 0 else 0.0)
  return {'precision': precision, 'recall': recall, 'f1': score}


# -- latent space -----------------------------------------------------------------
def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
  """Burda et al. (2016): z dimensions whose posterior mean varies across the
  data more than `threshold`. `mu` `[N, Z]` (one row per example)."""
  mu = np.asarray(mu, np.float64)
  if len(mu) < 2:
    return 0
  return int(np.sum(np.var(mu, axis=0) > threshold))


def log_mean_exp(x: jax.Array, axis: int = 0) -> jax.Array:
  """log(mean(exp(x))) along `axis`, stable for large |x|."""
  return jax.scipy.special.logsumexp(x, axis=axis) - math.log(x.shape[axis])


def gaussian_log_density(z: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
  """log N(z; mu, diag(sigma^2)) summed over the last axis."""
  return -0.5 * jnp.sum(LOG_2PI + 2.0 * jnp.log(sigma)
                        + jnp.square((z - mu) / sigma), axis=-1)


def standard_normal_log_density(z: jax.Array) -> jax.Array:
  """log N(z; 0, I) summed over the last axis."""
  return -0.5 * jnp.sum(LOG_2PI + jnp.square(z), axis=-1)


def importance_log_likelihood(log_px_given_z: jax.Array, z: jax.Array,
                              mu: jax.Array, sigma: jax.Array) -> jax.Array:
  """Importance-sampled log p(x) `[B]` (Burda et al.'s IWAE bound).

  Args:
    log_px_given_z: `[K, B]` log-likelihood of each example under the decoder
      for each of K latents.
    z: `[K, B, Z]` the latents, drawn from q(z|x) = N(mu, sigma^2).
    mu, sigma: `[B, Z]` the posterior.

  Returns log mean_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)); a lower
  bound on log p(x) that tightens as K grows (K = 1: the ELBO's estimate).
  """
  log_w = (log_px_given_z + standard_normal_log_density(z)
           - gaussian_log_density(z, mu[None], sigma[None]))
  return log_mean_exp(log_w, axis=0)
