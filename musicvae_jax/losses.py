"""Loss terms and accuracy metrics of MusicVAE (pure functions).

Shapes: logits `[B, T, V]` with `V = sum(part_depths)`, targets int `[B, T, K]`,
mask float `[B, T]` (1 on real steps). Bit parts (`TokenSpec.bits`) have one
logit each, `V = K`, and targets 0 / 1 (the `bit_*` functions).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LN2 = math.log(2.0)


def _parts(logits: jax.Array, part_depths: tuple[int, ...]):
  start = 0
  for k, depth in enumerate(part_depths):
    yield k, logits[..., start:start + depth]
    start += depth


def step_cross_entropy(logits: jax.Array, targets: jax.Array,
                       part_depths: tuple[int, ...]) -> jax.Array:
  """Softmax cross-entropy per step, summed over parts: `[B, T]` (nats)."""
  total = 0.0
  for k, part in _parts(logits, part_depths):
    logp = jax.nn.log_softmax(part.astype(jnp.float32), axis=-1)
    total = total + -jnp.take_along_axis(logp, targets[..., k:k + 1],
                                         axis=-1)[..., 0]
  return total


def reconstruction_loss(logits: jax.Array, targets: jax.Array, mask: jax.Array,
                        part_depths: tuple[int, ...]) -> jax.Array:
  """Cross-entropy summed over (unpadded) time, per example: `[B]`."""
  return jnp.sum(step_cross_entropy(logits, targets, part_depths) * mask,
                 axis=-1)


def step_bit_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Sigmoid cross-entropy per step, summed over bit parts: logits `[B, T, K]`
  (one per part), targets 0 / 1 `[B, T, K]` -> `[B, T]` (nats)."""
  logits = logits.astype(jnp.float32)
  bits = targets.astype(jnp.float32)
  # -[y log s(x) + (1 - y) log(1 - s(x))], stable for large |x|.
  per_bit = jnp.maximum(logits, 0.0) - logits * bits + jnp.log1p(jnp.exp(-jnp.abs(logits)))
  return jnp.sum(per_bit, axis=-1)


def bit_reconstruction_loss(logits: jax.Array, targets: jax.Array,
                            mask: jax.Array) -> jax.Array:
  """Sigmoid cross-entropy summed over bits and (unpadded) time: `[B]`."""
  return jnp.sum(step_bit_cross_entropy(logits, targets) * mask, axis=-1)


def bit_predictions(logits: jax.Array) -> jax.Array:
  """The likelier bit per part (`logit >= 0`): `[B, T, K] -> int [B, T, K]`."""
  return (logits >= 0).astype(jnp.int32)


def kl_divergence(mu: jax.Array, sigma: jax.Array) -> jax.Array:
  """KL(N(mu, sigma^2) || N(0, I)) summed over z dims, in nats: `[B]`."""
  return 0.5 * jnp.sum(jnp.square(mu) + jnp.square(sigma) - 1.0
                       - 2.0 * jnp.log(sigma), axis=-1)


def kl_cost(kl: jax.Array, free_bits: float) -> jax.Array:
  """Free bits on the total KL, as Magenta: `max(kl - free_bits * ln 2, 0)`."""
  return jnp.maximum(kl - free_bits * LN2, 0.0)


def predictions(logits: jax.Array, part_depths: tuple[int, ...]) -> jax.Array:
  """Argmax class per part: `[B, T, V] -> int [B, T, K]`."""
  return jnp.stack([jnp.argmax(p, axis=-1) for _, p in _parts(logits, part_depths)],
                   axis=-1)


def accuracy_counts(logits: jax.Array, targets: jax.Array, mask: jax.Array,
                    part_depths: tuple[int, ...], ignore_class: int | None = 0,
                    ) -> dict[str, jax.Array]:
  """Sums from which accuracies are formed (so they average exactly over batches).

  Returns per-part `[K]` arrays:
    correct, count: argmax == target over unpadded steps;
    event_correct, event_count: the same on steps whose target is not
      `ignore_class` (NO_EVENT), i.e. accuracy on note events only.
  """
  return prediction_counts(predictions(logits, part_depths), targets, mask, ignore_class)


def prediction_counts(pred: jax.Array, targets: jax.Array, mask: jax.Array,
                      ignore_class: int | None = 0) -> dict[str, jax.Array]:
  """`accuracy_counts` of predicted tokens `pred` int `[B, T, K]`."""
  hit = (pred == targets).astype(jnp.float32)          # [B, T, K]
  m = mask[..., None]
  event = (targets != ignore_class).astype(jnp.float32) * m if ignore_class is not None else m
  return {
      'correct': jnp.sum(hit * m, axis=(0, 1)),
      'count': jnp.sum(jnp.broadcast_to(m, hit.shape), axis=(0, 1)),
      'event_correct': jnp.sum(hit * event, axis=(0, 1)),
      'event_count': jnp.sum(event, axis=(0, 1)),
  }


def per_class_counts(pred: jax.Array, targets: jax.Array, mask: jax.Array,
                     depth: int) -> tuple[jax.Array, jax.Array]:
  """Per-class hits and counts `[depth]` of one part, for Magenta's mean
  per-class accuracy. pred, targets int [B, T]; mask [B, T]."""
  onehot = jax.nn.one_hot(targets, depth) * mask[..., None]
  hits = onehot * (pred == targets)[..., None]
  return jnp.sum(hits, axis=(0, 1)), jnp.sum(onehot, axis=(0, 1))
