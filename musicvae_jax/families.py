"""Output families: how a model family's outputs are scored, measured and sampled.

The train and eval steps (`steps.py`) and the training loop (`trainer.py`) are
the same for every model. What differs between, say, MusicVAE's categorical
tokens (softmax over classes), GrooVAE's hits / velocities / offsets and the
NADE drum decoder's multi-label bits lives in one `OutputFamily` object:

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
  * `sample(key, raw, temperature)`: the per-step sample a free-running
    decoder feeds back as its next input (decoders whose sampling needs their
    own parameters, such as a NADE, do that inside the module instead);
  * `console_keys`: extra metric names the trainer prints.

A model names its family through its `family` attribute (a property or a
field); a model without one (MusicVAE) is categorical over its `spec`. So
`steps.family_of(model)` is the only switch, and a new family plugs in by
shipping a converter, a model whose `family` returns its `OutputFamily`, and a
config whose `output_family` is registered in `MODELS` — never through
`if family == ...` branches in the training loop.

Every method is pure (jit-traced inside the steps); families are frozen
dataclasses so they can be static values.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax import losses

Batch = dict[str, jax.Array]


class OutputFamily:
  """The interface (documentation; subclasses override every method)."""

  console_keys: tuple[str, ...] = ()
  eval_console_keys: tuple[str, ...] = ()
  # True where `reconstruction_loss` is -log p(x|z) (evaluate.py then gives
  # an importance-sampled log-likelihood); False for losses such as MSE terms.
  reconstruction_is_nll = False
  # Families with categorical tokens also offer `predicted_tokens(out)` and
  # `free_running_tokens(model, params, z, batch, key, temperature)`, both
  # int `[B, T, K]` like `batch['tokens']`: evaluate.py scores greedy and
  # sampled decodes with them (token metrics are not defined without them).

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

  def sample(self, key: jax.Array, raw: jax.Array,
             temperature: float | jax.Array = 1.0) -> jax.Array:
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


@dataclasses.dataclass(frozen=True)
class CategoricalFamily(OutputFamily):
  """MusicVAE's tokens: one softmax per part, cross-entropy, argmax accuracy.

  Batches: `tokens` int `[B, T, K]` (encoder input and decoder target alike;
  -1 marks padding inside a window, as multiperf's per-slot lengths leave it),
  `lengths`, `weights`, and `controls` float `[B, T, C]` for chord-conditioned
  configs (`config.controls`; read by the encoder and every decoder step).
  Model outputs: `logits` `[B, T, sum(part_depths)]`.
  """

  part_depths: tuple[int, ...]
  num_controls: int = 0  # control columns (`TokenSpec.control_depths`)
  reconstruction_is_nll = True

  def example_batch(self, config, batch_size):
    from musicvae_jax import config_base
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
    """Argmax tokens `[B, T, K]` of a decode's logits."""
    return losses.predictions(out['logits'], self.part_depths)

  def free_running_tokens(self, model, params, z, batch, key, temperature):
    """Tokens `[B, T, K]` decoded from `z` with no targets (each step reads
    its own sample; temperature 1e-5 is greedy)."""
    tokens, _ = model.apply({'params': params}, z, temperature, None,
                            batch.get('controls'), rngs={'sample': key},
                            method='sample')
    return tokens

  def mask(self, batch):
    """1 on steps before each length that are not padding (-1 tokens)."""
    return step_mask(batch['lengths'], batch['tokens'].shape[1]) * (
        batch['tokens'][..., 0] >= 0).astype(jnp.float32)

  def reconstruction_loss(self, out, batch, mask):
    return losses.reconstruction_loss(out['logits'], batch['tokens'], mask,
                                      self.part_depths)

  def train_metrics(self, out, batch, mask):
    acc = losses.accuracy_counts(out['logits'], batch['tokens'], mask,
                                 self.part_depths)
    return {
        'accuracy': jnp.sum(acc['correct']) / jnp.maximum(jnp.sum(acc['count']), 1),
        'event_accuracy': (jnp.sum(acc['event_correct'])
                           / jnp.maximum(jnp.sum(acc['event_count']), 1)),
    }

  def eval_sums(self, tf_out, sampled_out, batch, mask, hp):
    sums = {}
    for name, logits in (('teacher_forced', tf_out['logits']),
                         ('sampled', sampled_out['logits'])):
      acc = losses.accuracy_counts(logits, batch['tokens'], mask, self.part_depths)
      for key, value in acc.items():
        sums[f'{name}_{key}'] = value                    # [K]
    # Per-bar teacher-forced accuracy (hierarchical models) and per-class hits.
    pred = losses.predictions(tf_out['logits'], self.part_depths)
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
    from musicvae_jax import steps  # steps imports this module
    return steps.summarise_eval(sums, part_names)

  def sample(self, key, raw, temperature=1.0):
    from musicvae_jax.models.decoders import sample_tokens
    return sample_tokens(key, raw, self.part_depths, temperature)


def _musicvae(config, spec):
  from musicvae_jax.models.vae import MusicVAE
  return MusicVAE.from_config(config, spec)


# config.output_family -> function(config, spec) building the model. A model
# family registers itself here (its module is imported by `make_model`).
MODELS: dict[str, Callable[..., Any]] = {'categorical': _musicvae}
# config.output_family -> module that calls `register_model` when imported.
MODULES: dict[str, str] = {'groove': 'musicvae_jax.models.groove'}


def register_model(name: str, build: Callable[..., Any]) -> None:
  """Registers `build(config, spec) -> flax module` for `config.output_family`."""
  MODELS[name] = build


def make_model(config, spec):
  """The model `config.output_family` names ('categorical' when unset)."""
  import importlib
  name = config.get('output_family', 'categorical') or 'categorical'
  if name not in MODELS and name in MODULES:
    importlib.import_module(MODULES[name])
  if name not in MODELS:
    raise ValueError(f'config.output_family={name!r}: unknown (choose '
                     + ', '.join(repr(k) for k in sorted(set(MODELS) | set(MODULES)))
                     + ')')
  return MODELS[name](config, spec)


# config.output_family -> TrainedModel subclass (generation), registered by the
# module named in TRAINED_MODEL_MODULES when imported. Categorical: TrainedModel.
TRAINED_MODELS: dict[str, Any] = {}
TRAINED_MODEL_MODULES: dict[str, str] = {'groove': 'musicvae_jax.groove_model'}


def trained_model_class(config, default):
  """The TrainedModel class for `config.output_family` (`default` if none)."""
  import importlib
  name = config.get('output_family', 'categorical') or 'categorical'
  if name not in TRAINED_MODELS and name in TRAINED_MODEL_MODULES:
    importlib.import_module(TRAINED_MODEL_MODULES[name])
  return TRAINED_MODELS.get(name, default)


def family_of(model) -> OutputFamily:
  """The model's output family: its `family` attribute, else categorical."""
  family = getattr(model, 'family', None)
  if family is not None:
    return family
  return CategoricalFamily(tuple(model.spec.part_depths),
                           len(getattr(model.spec, 'control_depths', ())))


# The NADE drum decoder (nade-drums_2bar_*): models/nade_vae.py, nade_family.py.
MODULES['nade'] = 'musicvae_jax.nade_family'
TRAINED_MODEL_MODULES['nade'] = 'musicvae_jax.nade_family'
