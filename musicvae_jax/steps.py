"""Train state and the pure, jit-compiled train and eval steps.

Randomness comes from `fold_in(state.rng, state.step)` inside the step, never
from Python state, so a resumed run draws exactly the numbers the
uninterrupted run would have drawn.

Batches are dicts: `tokens` int32 [B, T, K], `lengths` int32 [B],
`weights` float32 [B] (0 for padding). Other families (GrooVAE, NADE) carry
their own keys (`inputs`, `targets`, ...): how a model is called, its
reconstruction loss and metrics come from the family's objective
(`objectives.py`), which every step takes explicitly, so these steps serve
every model family unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from musicvae_jax import losses, schedules
from musicvae_jax.objectives import Objective

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue exactly: saved whole by orbax."""

  step: jax.Array            # int32 scalar
  params: Any
  opt_state: Any
  plateau_state: Any         # optax.contrib.reduce_on_plateau state
  rng: jax.Array             # typed PRNG key


@dataclasses.dataclass(frozen=True)
class StepConfig:
  """The config values the steps read, as a hashable static value."""

  free_bits: float
  beta_schedule: str
  max_beta: float
  beta_rate: float
  beta_start: float
  beta_end: float
  beta_duration: int
  sampling_schedule: str
  sampling_rate: float
  scheduled_sampling: bool
  plateau: bool
  num_bars: int

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> 'StepConfig':
    return cls(
        free_bits=float(config.free_bits),
        beta_schedule=config.beta_schedule,
        max_beta=float(config.max_beta),
        beta_rate=float(config.beta_rate),
        beta_start=float(config.beta_start),
        beta_end=float(config.beta_end),
        beta_duration=int(config.beta_duration),
        sampling_schedule=config.sampling_schedule,
        sampling_rate=float(config.sampling_rate),
        scheduled_sampling=schedules.uses_scheduled_sampling(config),
        plateau=config.lr_schedule == 'plateau',
        num_bars=config.n_subsequences if config.use_hier else 1,
    )


def zero_if_norm_above(limit: float) -> optax.GradientTransformation:
  """Zeroes all gradients when their global norm exceeds `limit` (Magenta)."""

  def update(updates, state, params=None):
    del params
    keep = optax.global_norm(updates) <= limit
    return jax.tree.map(lambda g: jnp.where(keep, g, jnp.zeros_like(g)),
                        updates), state

  return optax.GradientTransformation(lambda _: optax.EmptyState(), update)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam after global-norm clipping, at the config's learning-rate schedule."""
  return optax.chain(
      zero_if_norm_above(config.grad_norm_clip_to_zero),
      optax.clip_by_global_norm(config.grad_clip),
      optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
      optax.scale_by_learning_rate(schedules.learning_rate_fn(config)),
  )


def make_plateau(config: ml_collections.ConfigDict) -> optax.GradientTransformationExtraArgs:
  """`reduce_on_plateau` driven by eval losses (one window per evaluation)."""
  return optax.contrib.reduce_on_plateau(
      factor=config.lr_scheduler_factor,
      patience=config.lr_scheduler_patience,
      min_scale=config.min_learning_rate / config.learning_rate)


def init_params(model, objective: Objective, rng: jax.Array, batch: Batch):
  rngs = dict(zip(('params', 'z', 'sample'), jax.random.split(rng, 3)))
  return objective.init_variables(model, rngs, batch)['params']


def create_train_state(config: ml_collections.ConfigDict, model,
                       objective: Objective, batch: Batch) -> TrainState:
  """A fresh state: parameters from `config.seed`, step 0."""
  param_key, _ = jax.random.split(jax.random.key(config.seed))
  return state_from_params(config, init_params(model, objective, param_key, batch))


def state_from_params(config: ml_collections.ConfigDict, params,
                      step: int = 0) -> TrainState:
  """The train state around given parameters (fresh optimizer and plateau
  state; the run's PRNG key from `config.seed`, as `create_train_state`)."""
  _, state_key = jax.random.split(jax.random.key(config.seed))
  return TrainState(
      step=jnp.asarray(step, jnp.int32),
      params=params,
      opt_state=make_optimizer(config).init(params),
      plateau_state=make_plateau(config).init(jnp.zeros(())),
      rng=state_key,
  )


def _beta(step, hp: StepConfig):
  if hp.beta_schedule == 'magenta':
    return schedules.magenta_beta(step, hp.max_beta, hp.beta_rate)
  return schedules.linear_beta(step, hp.beta_start, hp.beta_end, hp.beta_duration)


def _weighted_mean(x: jax.Array, weights: jax.Array) -> jax.Array:
  return jnp.sum(x * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def loss_terms(out: dict[str, jax.Array], batch: Batch, beta, hp: StepConfig,
               objective: Objective):
  """Magenta's loss: mean r_loss + beta * mean(max(KL - free nats, 0)).

  `objective` scores the reconstruction. Returns (loss, per-example dict of
  r_loss, kl, kl_cost — each [B]).
  """
  r_loss = objective.reconstruction_loss(out, batch, objective.mask(batch))
  kl = losses.kl_divergence(out['mu'], out['sigma'])
  cost = losses.kl_cost(kl, hp.free_bits)
  w = batch['weights']
  loss = _weighted_mean(r_loss, w) + beta * _weighted_mean(cost, w)
  return loss, {'r_loss': r_loss, 'kl': kl, 'kl_cost': cost}


def train_step(state: TrainState, batch: Batch, *, model, objective: Objective,
               tx: optax.GradientTransformation, hp: StepConfig,
               return_grads: bool = False) -> tuple[TrainState, Metrics]:
  """One optimisation step. Metrics are device scalars (read them rarely).

  With `return_grads`: (state, metrics, gradients), the gradients a tree like
  the parameters (for histograms)."""
  key = jax.random.fold_in(state.rng, state.step)
  z_key, sample_key = jax.random.split(key)
  # Dropout (families that use it) gets its own stream, leaving z and sample as they were.
  rngs = {'z': z_key, 'sample': sample_key, 'dropout': jax.random.fold_in(key, 2)}
  beta = _beta(state.step, hp)
  p_sample = schedules.sampling_probability(state.step, hp.sampling_schedule,
                                            hp.sampling_rate)

  def loss_fn(params):
    out = objective.apply(model, params, batch,
                       p_sample if hp.scheduled_sampling else None, rngs,
                       train=True)
    loss, terms = loss_terms(out, batch, beta, hp, objective)
    return loss, (out, terms)

  (loss, (out, terms)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  scale = state.plateau_state.scale if hp.plateau else jnp.ones(())
  updates = jax.tree.map(lambda u: u * scale.astype(u.dtype), updates)
  params = optax.apply_updates(state.params, updates)

  w = batch['weights']
  metrics = {
      'loss': loss,
      'r_loss': _weighted_mean(terms['r_loss'], w),
      'kl_loss': _weighted_mean(terms['kl_cost'], w),
      'kl_bits': _weighted_mean(terms['kl'], w) / losses.LN2,
      'beta': beta,
      'sampling_probability': p_sample if hp.scheduled_sampling else jnp.zeros(()),
      'grad_norm': optax.global_norm(grads),
      'param_norm': optax.global_norm(params),
      **objective.train_metrics(out, batch, objective.mask(batch)),
  }
  new_state = state.replace(step=state.step + 1, params=params,
                            opt_state=opt_state)
  if return_grads:
    return new_state, metrics, grads
  return new_state, metrics


def eval_step(params, batch: Batch, rng: jax.Array, step: jax.Array, *,
              model, objective: Objective, hp: StepConfig) -> Metrics:
  """Sums over one eval batch (weights 0 drop padding), to be added up.

  Two decodes of the same z: teacher forced, and fully sampled (probability
  1, each bar's first input still the previous target, as Magenta). The
  reported `loss` uses the sampled decode when the config trains with
  scheduled sampling (Magenta evaluates at sampling probability 1.0 then),
  else teacher forcing.
  """
  z_key, sample_key = jax.random.split(rng)
  w = batch['weights']
  mask = objective.mask(batch) * w[:, None]
  rngs = {'z': z_key, 'sample': sample_key}
  tf_out = objective.apply(model, params, batch, None, rngs, train=False)
  sampled_out = objective.decode_sampled(model, params, tf_out['z'], batch, rngs)
  beta = _beta(step, hp)
  kl = losses.kl_divergence(tf_out['mu'], tf_out['sigma'])
  cost = losses.kl_cost(kl, hp.free_bits)
  r_tf = objective.reconstruction_loss(tf_out, batch, mask)
  r_sampled = objective.reconstruction_loss(sampled_out, batch, mask)
  r_loss = r_sampled if hp.scheduled_sampling else r_tf
  sums = {
      'examples': jnp.sum(w),
      'loss': jnp.sum(w * (r_loss + beta * cost)),
      'r_loss': jnp.sum(w * r_loss),
      'r_loss_teacher_forced': jnp.sum(w * r_tf),
      'r_loss_sampled': jnp.sum(w * r_sampled),
      'kl_loss': jnp.sum(w * cost),
      'kl_bits': jnp.sum(w * kl) / losses.LN2,
  }
  sums.update(objective.eval_sums(tf_out, sampled_out, batch, mask, hp))
  return sums


def update_plateau(state: TrainState, eval_loss: jax.Array,
                   plateau: optax.GradientTransformationExtraArgs) -> TrainState:
  """Feeds one eval loss to reduce_on_plateau (one patience window)."""
  _, new = plateau.update(updates=jnp.zeros(()), state=state.plateau_state,
                          value=eval_loss)
  return state.replace(plateau_state=new)


def current_learning_rate(state: TrainState, config) -> jax.Array:
  lr = schedules.learning_rate_fn(config)(state.step)
  if config.lr_schedule == 'plateau':
    lr = lr * state.plateau_state.scale
  return lr


def jit_steps(config: ml_collections.ConfigDict, model, objective: Objective,
              state_sharding: Any = None, batch_sharding: Any = None,
              with_grads: bool = False):
  """Jitted (train_step, eval_step, plateau_update) for this config, built
  once per run.

  The train step donates its state buffers; `with_grads` makes it return
  (state, metrics, gradients) (the trainer reads the gradients for histograms
  at the advanced interval only: one compile, the gradients exist in the step
  anyway). With `state_sharding` (a tree of shardings like the state) and
  `batch_sharding` (from `parallel`), the steps take and return arrays in
  those shardings; metrics come back replicated, gradients sharded like the
  parameters.
  """
  hp = StepConfig.from_config(config)
  train_kw, eval_kw, plateau_kw = {}, {}, {}
  if state_sharding is not None:
    rep = jax.sharding.NamedSharding(batch_sharding.mesh,
                                     jax.sharding.PartitionSpec())
    outputs = (state_sharding, rep) + ((state_sharding.params,) if with_grads else ())
    train_kw = dict(in_shardings=(state_sharding, batch_sharding),
                    out_shardings=outputs)
    eval_kw = dict(in_shardings=(state_sharding.params, batch_sharding, rep, rep),
                   out_shardings=rep)
    plateau_kw = dict(in_shardings=(state_sharding, rep),
                      out_shardings=state_sharding)
  train = jax.jit(functools.partial(train_step, model=model, objective=objective,
                                    tx=make_optimizer(config), hp=hp,
                                    return_grads=with_grads),
                  donate_argnums=0, **train_kw)
  evaluate = jax.jit(functools.partial(eval_step, model=model, objective=objective,
                                       hp=hp), **eval_kw)
  plateau = jax.jit(functools.partial(update_plateau,
                                      plateau=make_plateau(config)),
                    donate_argnums=0, **plateau_kw)
  return train, evaluate, plateau
