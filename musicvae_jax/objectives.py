"""Objectives: how a model family's outputs are called, scored and measured.

The train and eval steps (`steps.py`) and the training loop (`trainer.py`) are
the same for every model. What differs between, say, MusicVAE's categorical
tokens (softmax over classes), GrooVAE's hits / velocities / offsets and the
NADE drum decoder's multi-label bits lives in one `Objective` object, which
the family builds (`family.get(config).objective(config, spec)`) and the
caller hands to the steps explicitly:

  * `example_batch`: an all-zero batch of the family's keys and shapes;
  * `init_variables` / `apply` / `decode_sampled`: how the model is called on
    a batch (which batch keys it reads: `tokens` for categorical models;
    `inputs` for the encoder and `targets` for the decoder where they differ);
  * `mask` `[B, T]`: the real (unpadded) steps of a batch;
  * `reconstruction_loss(out, batch, mask) -> [B]`: Magenta's per-example
    reconstruction loss, summed over (unmasked) time;
  * `train_metrics(out, batch, mask)`: device scalars for the console and
    TensorBoard (always including `accuracy`);
  * `eval_sums(tf_out, sampled_out, batch, mask, hp)` and
    `summarise_eval(sums, part_names)`: sums that add up exactly over eval
    batches, and the averages formed from them on the host;
  * `console_keys`: extra metric names the trainer prints.

Every method is pure (jit-traced inside the steps); objectives are frozen
dataclasses so they can be static values. This module holds the interface
and the helpers the families share; each family's objective lives in its
folder (`families/<name>/objective.py`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Batch = dict[str, jax.Array]


class Objective:
  """The interface (documentation; subclasses override every method)."""

  console_keys: tuple[str, ...] = ()
  eval_console_keys: tuple[str, ...] = ()
  # True where `reconstruction_loss` is -log p(x|z) (evaluate.py then gives
  # an importance-sampled log-likelihood); False for losses such as MSE terms.
  reconstruction_is_nll = False
  # True for objectives over categorical tokens, which then also define
  # `predicted_tokens(out)` and `free_running_tokens(model, params, z, batch,
  # key, temperature)`, both int `[B, T, K]` like `batch['tokens']`:
  # evaluate.py scores greedy and sampled decodes with them (token metrics
  # are not defined without them).
  token_metrics = False

  def example_batch(self, config, batch_size: int) -> dict[str, np.ndarray]:
    """All-zero batch of the right keys and shapes (parameter init)."""
    raise NotImplementedError

  def init_variables(self, model, rngs: dict, batch: Batch):
    raise NotImplementedError

  def apply(self, model, params, batch: Batch, sampling_probability,
            rngs: dict, train: bool) -> dict[str, jax.Array]:
    """Encode, sample z, decode. Returns at least `mu`, `sigma`, `z` `[B, Z]`
    plus whatever `reconstruction_loss` reads."""
    raise NotImplementedError

  def decode_sampled(self, model, params, z: jax.Array, batch: Batch,
                     rngs: dict) -> dict[str, jax.Array]:
    """The eval-time decode of `z` at sampling probability 1 (each step reads
    the previous sample). Returns what `reconstruction_loss` reads."""
    raise NotImplementedError

  def mask(self, batch: Batch) -> jax.Array:
    raise NotImplementedError

  def reconstruction_loss(self, out: dict[str, jax.Array], batch: Batch,
                          mask: jax.Array) -> jax.Array:
    raise NotImplementedError

  def train_metrics(self, out: dict[str, jax.Array], batch: Batch,
                    mask: jax.Array) -> dict[str, jax.Array]:
    raise NotImplementedError

  def eval_sums(self, tf_out: dict[str, jax.Array], sampled_out: dict[str, jax.Array],
                batch: Batch, mask: jax.Array, hp) -> dict[str, jax.Array]:
    raise NotImplementedError

  def summarise_eval(self, sums: dict[str, Any],
                     part_names: tuple[str, ...]) -> dict[str, float]:
    raise NotImplementedError


def step_mask(lengths: jax.Array, steps: int) -> jax.Array:
  """`[B, T]` float: 1 on steps before each example's length."""
  return (jnp.arange(steps)[None, :] < lengths[:, None]).astype(jnp.float32)


def common_eval_averages(sums: dict[str, Any]) -> dict[str, float]:
  """Per-example averages of the family-independent eval sums."""
  n = max(float(sums['examples']), 1.0)
  return {k: float(sums[k]) / n for k in
          ('loss', 'r_loss', 'r_loss_teacher_forced', 'r_loss_sampled',
           'kl_loss', 'kl_bits') if k in sums}


