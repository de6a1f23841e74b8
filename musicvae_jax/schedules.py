"""Schedules as pure functions of the step (jnp scalars in, jnp scalars out).

Formulas follow Magenta's `music_vae` (base_model.py, lstm_models.py).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _power(base: float, step) -> jnp.ndarray:
  """`base ** step` for a Python float base, accurate in float32.

  float32 cannot hold 0.99999 exactly, and `pow` on the rounded base is off by
  0.1% after 1000 steps; `exp(step * log(base))` with the log taken in double
  precision is not. `0 ** 0 == 1`.
  """
  step = jnp.asarray(step, jnp.float32)
  if base == 0.0:
    return jnp.where(step == 0, 1.0, 0.0)
  return jnp.exp(step * math.log(base))


def magenta_beta(step, max_beta: float, beta_rate: float):
  """KL weight: `(1 - beta_rate ** step) * max_beta`."""
  return (1.0 - _power(beta_rate, step)) * max_beta


def linear_beta(step, start: float, end: float, duration: int):
  """KL weight from `start` to `end` over `duration` steps, then `end`."""
  frac = jnp.clip(jnp.asarray(step, jnp.float32) / max(duration, 1), 0.0, 1.0)
  return start + (end - start) * frac


def beta(step, config) -> jnp.ndarray:
  """The KL weight the config asks for at `step`."""
  if config.beta_schedule == 'magenta':
    return magenta_beta(step, config.max_beta, config.beta_rate)
  return linear_beta(step, config.beta_start, config.beta_end,
                     config.beta_duration)


def sampling_probability(step, schedule: str, rate: float):
  """Probability of feeding the decoder its own sample instead of the target.

  constant: `rate`; inverse_sigmoid: `1 - k / (k + exp(step / k))` with
  `k = rate`; exponential: `1 - k ** step` with `k = rate`; none: 0.
  """
  step = jnp.asarray(step, jnp.float32)
  if schedule == 'none':
    return jnp.zeros((), jnp.float32)
  if schedule == 'constant':
    return jnp.asarray(rate, jnp.float32)
  if schedule == 'inverse_sigmoid':
    # 1 - k / (k + e^(s/k)) == sigmoid(s/k - ln k): no cancellation, no overflow.
    return jax.nn.sigmoid(step / rate - math.log(rate))
  if schedule == 'exponential':
    return 1.0 - _power(rate, step)
  raise ValueError(f'config.sampling_schedule={schedule!r} is not a schedule')


def uses_scheduled_sampling(config) -> bool:
  """False when the schedule can only ever give probability 0 (teacher forcing)."""
  if config.sampling_schedule == 'none':
    return False
  if config.sampling_schedule == 'constant':
    return config.sampling_rate > 0
  return True


def magenta_learning_rate(step, learning_rate: float, decay_rate: float,
                          min_learning_rate: float):
  """`(lr - min_lr) * decay_rate ** step + min_lr`."""
  return ((learning_rate - min_learning_rate) * _power(decay_rate, step)
          + min_learning_rate)


def learning_rate_fn(config):
  """An optax-style schedule `step -> lr` for `config.lr_schedule`.

  'plateau' uses a constant base rate here; `steps.py` multiplies it by the
  scale that `optax.contrib.reduce_on_plateau` keeps from the eval losses.
  """
  if config.lr_schedule == 'exponential':
    return lambda step: magenta_learning_rate(
        step, config.learning_rate, config.decay_rate, config.min_learning_rate)
  return lambda step: jnp.asarray(config.learning_rate, jnp.float32)
