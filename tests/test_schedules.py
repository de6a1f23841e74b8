"""Schedules against values worked out by hand from Magenta's formulas."""

import math

import numpy as np
import pytest

from musicvae_jax import schedules
from musicvae_jax.config_base import base_config


def test_magenta_beta_matches_formula():
  # (1 - 0.99999 ** 1000) * 0.2 = 0.2 * (1 - exp(1000 * ln 0.99999))
  expected = 0.2 * (1 - math.exp(1000 * math.log(0.99999)))
  assert float(schedules.magenta_beta(1000, 0.2, 0.99999)) == pytest.approx(expected, rel=1e-5)
  assert float(schedules.magenta_beta(0, 0.2, 0.99999)) == 0.0


def test_magenta_beta_rate_zero_is_max_beta_after_step_zero():
  # hierdec-mel_16bar: beta_rate 0 -> 0 ** 0 = 1 at step 0, then max_beta.
  assert float(schedules.magenta_beta(0, 0.2, 0.0)) == 0.0
  assert float(schedules.magenta_beta(1, 0.2, 0.0)) == pytest.approx(0.2)


def test_linear_beta():
  assert float(schedules.linear_beta(0, 0.1, 0.5, 100)) == pytest.approx(0.1)
  assert float(schedules.linear_beta(50, 0.1, 0.5, 100)) == pytest.approx(0.3)
  assert float(schedules.linear_beta(1000, 0.1, 0.5, 100)) == pytest.approx(0.5)


@pytest.mark.parametrize('step,expected', [
    (0, 1 - 1000 / 1001),
    (1000, 1 - 1000 / (1000 + math.e)),
    (5000, 1 - 1000 / (1000 + math.exp(5))),
])
def test_inverse_sigmoid(step, expected):
  got = float(schedules.sampling_probability(step, 'inverse_sigmoid', 1000.0))
  assert got == pytest.approx(expected, rel=1e-5)


def test_inverse_sigmoid_saturates_without_overflow():
  got = float(schedules.sampling_probability(10**7, 'inverse_sigmoid', 1000.0))
  assert got == pytest.approx(1.0) and np.isfinite(got)


def test_constant_and_exponential():
  assert float(schedules.sampling_probability(123, 'constant', 0.25)) == pytest.approx(0.25)
  assert float(schedules.sampling_probability(10, 'exponential', 0.9)) == pytest.approx(1 - 0.9 ** 10, rel=1e-5)
  assert float(schedules.sampling_probability(10, 'none', 0.9)) == 0.0
  with pytest.raises(ValueError, match='sampling_schedule'):
    schedules.sampling_probability(1, 'bogus', 1.0)


def test_magenta_learning_rate():
  # (1e-3 - 1e-5) * 0.9999 ** 10000 + 1e-5
  expected = (1e-3 - 1e-5) * 0.9999 ** 10000 + 1e-5
  got = float(schedules.magenta_learning_rate(10000, 1e-3, 0.9999, 1e-5))
  assert got == pytest.approx(expected, rel=1e-4)


def test_uses_scheduled_sampling():
  c = base_config()
  c.sampling_schedule, c.sampling_rate = 'constant', 0.0
  assert not schedules.uses_scheduled_sampling(c)
  c.sampling_rate = 0.5
  assert schedules.uses_scheduled_sampling(c)
  c.sampling_schedule = 'inverse_sigmoid'
  assert schedules.uses_scheduled_sampling(c)
