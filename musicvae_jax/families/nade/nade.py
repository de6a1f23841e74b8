"""NADE over one frame of binary labels (Magenta's `magenta/common/nade.py`).

A NADE (Larochelle & Murray 2011; Magenta's `Nade` without internal biases)
models `p(x) = prod_i p(x_i | x_<i)` for a frame `x` of `D` bits with a hidden
layer of `H` units that grows one bit at a time:

    a_0 = b_enc                                   [N, H]
    for i in 0 .. D-1:
      h_i     = sigmoid(a_i)
      logit_i = b_dec[:, i] + h_i @ w_dec_t[i]    (w_dec_t [D, H, 1])
      p_i     = sigmoid(logit_i)                  p(x_i = 1 | x_<i)
      a_{i+1} = a_i + x_i * w_enc[i]              (w_enc [D, 1, H])

`b_enc [N, H]` and `b_dec [N, D]` come from outside (the LSTM decoder's output
projection). The log-likelihood uses Magenta's `_safe_log`, `log(1e-6 + p)`:

    log p(x) = sum_i x_i log(1e-6 + p_i) + (1 - x_i) log(1e-6 + 1 - p_i)

In `log_prob` the bit fed back is the target bit (teacher forcing within the
frame); in `sample` it is the bit just drawn: Bernoulli(logit_i / temperature),
or `p_i >= 0.5` when `temperature` is None (Magenta's greedy NADE sample, used
for scheduled sampling).

All functions are pure; `NadeParams` is the Flax module holding the weights.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

SAFE_LOG_EPS = 1e-6


def safe_log(x: jax.Array) -> jax.Array:
  """Magenta's `_safe_log`: `log(1e-6 + x)`."""
  return jnp.log(SAFE_LOG_EPS + x)


def _conditional(a: jax.Array, w_dec_i: jax.Array,
                 b_dec_i: jax.Array) -> jax.Array:
  """Logit of one bit: `b_dec_i [N] + sigmoid(a [N, H]) @ w_dec_i [H, 1]` -> [N]."""
  return b_dec_i + (jax.nn.sigmoid(a) @ w_dec_i)[..., 0]


def log_prob(x: jax.Array, b_enc: jax.Array, b_dec: jax.Array,
             w_enc: jax.Array, w_dec_t: jax.Array):
  """Log-likelihood of frames and the conditionals along the way.

  Args:
    x: [N, D] frames of 0/1 (float).
    b_enc: [N, H] encoder biases.
    b_dec: [N, D] decoder biases.
    w_enc: [D, 1, H].
    w_dec_t: [D, H, 1].

  Returns:
    (log_p [N], cond_probs [N, D], cond_logits [N, D]); cond_probs[:, i] is
    p(x_i = 1 | x_<i) with x_<i the given bits.
  """
  x = x.astype(jnp.float32)
  a = b_enc.astype(jnp.float32)
  log_p = jnp.zeros(x.shape[:1], jnp.float32)
  probs, logits = [], []
  for i in range(x.shape[-1]):
    logit = _conditional(a, w_dec_t[i], b_dec[:, i])
    p = jax.nn.sigmoid(logit)
    v = x[:, i]
    log_p = log_p + v * safe_log(p) + (1.0 - v) * safe_log(1.0 - p)
    probs.append(p)
    logits.append(logit)
    a = a + v[:, None] * w_enc[i]
  return log_p, jnp.stack(probs, -1), jnp.stack(logits, -1)


def sample(key: jax.Array | None, b_enc: jax.Array, b_dec: jax.Array,
           w_enc: jax.Array, w_dec_t: jax.Array,
           temperature: float | jax.Array | None = 1.0,
           uniforms: jax.Array | None = None):
  """Draws one frame bit by bit, feeding each drawn bit to the next.

  Bit i is 1 with probability sigmoid(logit_i / temperature); with
  `temperature=None` it is `p_i >= 0.5` (no randomness).

  Args:
    key: PRNG key (unused when `uniforms` is given or temperature is None).
    b_enc, b_dec, w_enc, w_dec_t: as in `log_prob`.
    temperature: divides the logits; None thresholds at 0.5.
    uniforms: optional [N, D] U(0, 1) draws to use instead of `key` (bit i is
      1 where `uniforms[:, i] < sigmoid(logit_i / temperature)`, which is what
      `jax.random.bernoulli` does with the same draws).

  Returns:
    (sample [N, D] float 0/1, log_p [N] of that sample under the model at
    temperature 1).
  """
  n, dims = b_dec.shape
  if temperature is not None and uniforms is None:
    uniforms = jax.random.uniform(key, (n, dims), jnp.float32)
  a = b_enc.astype(jnp.float32)
  log_p = jnp.zeros((n,), jnp.float32)
  bits = []
  for i in range(dims):
    logit = _conditional(a, w_dec_t[i], b_dec[:, i])
    p = jax.nn.sigmoid(logit)
    if temperature is None:
      v = (p >= 0.5).astype(jnp.float32)
    else:
      v = (uniforms[:, i] < jax.nn.sigmoid(logit / temperature)).astype(jnp.float32)
    log_p = log_p + v * safe_log(p) + (1.0 - v) * safe_log(1.0 - p)
    bits.append(v)
    a = a + v[:, None] * w_enc[i]
  return jnp.stack(bits, -1), log_p


def split_biases(projection: jax.Array, num_hidden: int):
  """Magenta's split of the decoder output `[..., H + D]` into (b_enc, b_dec)."""
  return projection[..., :num_hidden], projection[..., num_hidden:]


def truncated_normal_init(stddev: float):
  """TF's `truncated_normal_initializer` (redrawn beyond 2 standard deviations)."""
  def init(key, shape, dtype=jnp.float32):
    return stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
  return init


class NadeParams(nn.Module):
  """The NADE's own weights: `w_enc [D, 1, H]`, `w_dec_t [D, H, 1]` (Magenta's
  shapes and names, initialised N(0, 1/D) truncated at 2 standard deviations)."""

  num_dims: int
  num_hidden: int

  @nn.compact
  def __call__(self) -> tuple[jax.Array, jax.Array]:
    init = truncated_normal_init(1.0 / math.sqrt(self.num_dims))
    w_enc = self.param('w_enc', init, (self.num_dims, 1, self.num_hidden))
    w_dec_t = self.param('w_dec_t', init, (self.num_dims, self.num_hidden, 1))
    return w_enc, w_dec_t
