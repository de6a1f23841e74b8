"""The objective plug-in point: a non-categorical objective trains and
evaluates through the unchanged steps, the categorical objective is what the
steps used before, and `family.get` is the one table from config to family."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import config_base, family, objectives, steps
from musicvae_jax.families.categorical.objective import CategoricalObjective
from musicvae_jax.models import MusicVAE, TokenSpec


@dataclasses.dataclass(frozen=True)
class SquaredErrorObjective(objectives.Objective):
  """A toy objective: float targets `[B, T, D]` scored by squared error."""

  console_keys = ('mse',)

  def example_batch(self, config, batch_size):
    return {'inputs': np.zeros((batch_size, 4, 3), np.float32),
            'targets': np.zeros((batch_size, 4, 3), np.float32),
            'lengths': np.full((batch_size,), 4, np.int32),
            'weights': np.ones((batch_size,), np.float32)}

  def init_variables(self, model, rngs, batch):
    return model.init(rngs, batch['inputs'], batch['targets'])

  def apply(self, model, params, batch, sampling_probability, rngs, train):
    return model.apply({'params': params}, batch['inputs'], batch['targets'],
                       rngs=rngs)

  def decode_sampled(self, model, params, z, batch, rngs):
    return {'outputs': model.apply({'params': params}, z, method='decode')}

  def mask(self, batch):
    return objectives.step_mask(batch['lengths'], batch['targets'].shape[1])

  def reconstruction_loss(self, out, batch, mask):
    err = jnp.sum(jnp.square(out['outputs'] - batch['targets']), -1)
    return jnp.sum(err * mask, -1)

  def train_metrics(self, out, batch, mask):
    mse = jnp.mean(jnp.square(out['outputs'] - batch['targets']))
    return {'accuracy': jnp.zeros(()), 'mse': mse}

  def eval_sums(self, tf_out, sampled_out, batch, mask, hp):
    return {'sq_err': jnp.sum(self.reconstruction_loss(tf_out, batch, mask))}

  def summarise_eval(self, sums, part_names):
    out = objectives.common_eval_averages(sums)
    out['sq_err'] = float(sums['sq_err']) / float(sums['examples'])
    return out


class ToyVAE(nn.Module):
  z_size: int = 2

  def setup(self):
    self.mu = nn.Dense(self.z_size)
    self.sigma = nn.Dense(self.z_size)
    self.out = nn.Dense(3 * 4)

  def decode(self, z):
    return self.out(z).reshape(z.shape[0], 4, 3)

  def __call__(self, inputs, targets):
    code = inputs.reshape(inputs.shape[0], -1)
    mu, sigma = self.mu(code), jax.nn.softplus(self.sigma(code))
    z = mu + sigma * jax.random.normal(self.make_rng('z'), mu.shape)
    return {'outputs': self.decode(z), 'mu': mu, 'sigma': sigma, 'z': z}


def _config():
  config = config_base.base_config()
  config.batch_size = 2
  config.free_bits = 0.0
  config.sampling_schedule = 'none'
  return config


def test_a_continuous_objective_trains_through_the_same_steps():
  config = _config()
  model = ToyVAE()
  objective = SquaredErrorObjective()
  batch = objective.example_batch(config, 2)
  rng = np.random.default_rng(0)
  batch['inputs'] = rng.normal(size=(2, 4, 3)).astype(np.float32)
  batch['targets'] = batch['inputs'] * 0.5
  state = steps.create_train_state(config, model, objective, batch)
  hp = steps.StepConfig.from_config(config)
  tx = steps.make_optimizer(config)
  train = jax.jit(lambda s, b: steps.train_step(s, b, model=model, objective=objective,
                                                tx=tx, hp=hp))
  losses = []
  for _ in range(30):
    state, metrics = train(state, batch)
    losses.append(float(metrics['loss']))
  assert set(metrics) >= {'loss', 'r_loss', 'kl_bits', 'accuracy', 'mse'}
  assert losses[-1] < losses[0]
  sums = steps.eval_step(state.params, batch, jax.random.key(1),
                         state.step, model=model, objective=objective, hp=hp)
  out = objective.summarise_eval(jax.device_get(sums), ('x',))
  assert out['sq_err'] == pytest.approx(out['r_loss_teacher_forced'], rel=1e-5)
  # jit_steps (what the trainer runs) takes the same objective.
  train_jit, eval_jit, _ = steps.jit_steps(config, model, objective)
  state2, metrics2 = train_jit(state, batch)
  assert int(state2.step) == 31 and 'mse' in metrics2
  assert float(eval_jit(state2.params, batch, jax.random.key(1), state2.step)['sq_err']) >= 0


def test_categorical_objective_is_the_old_loss_and_accuracy():
  config = config_base.base_config()
  config_base.make_tiny(config)
  spec = TokenSpec((5,))
  fam = family.get(config)
  assert fam is family.get('categorical')
  assert fam.objective(config, spec) == CategoricalObjective((5,))
  assert isinstance(fam.build_model(config, spec), MusicVAE)
  rng = np.random.default_rng(0)
  tokens = jnp.asarray(rng.integers(0, 5, (2, 32, 1)), jnp.int32)
  logits = jnp.asarray(rng.normal(size=(2, 32, 5)), jnp.float32)
  batch = {'tokens': tokens, 'lengths': jnp.array([32, 20]),
           'weights': jnp.ones(2)}
  objective = fam.objective(config, spec)
  mask = objective.mask(batch)
  assert float(mask.sum()) == 52
  want = -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), tokens, -1)[..., 0]
                  * mask, -1)
  np.testing.assert_allclose(objective.reconstruction_loss({'logits': logits}, batch, mask),
                             want, rtol=1e-6)
  acc = objective.train_metrics({'logits': logits}, batch, mask)['accuracy']
  hits = (jnp.argmax(logits, -1) == tokens[..., 0]) * mask
  assert float(acc) == pytest.approx(float(hits.sum() / 52))


def test_unknown_output_family_names_the_key():
  config = _config()
  config.output_family = 'nope'
  with pytest.raises(ValueError, match="config.output_family='nope'"):
    family.get(config)
  with pytest.raises(ValueError, match='config.output_family'):
    family.build(config)


TOY_FAMILY = '''
"""A family made outside the package: the categorical model with a trained-model
class and declarations of its own."""
from musicvae_jax import family as family_lib
from musicvae_jax.data import converters
from musicvae_jax.families.categorical.objective import CategoricalObjective
from musicvae_jax.models.vae import MusicVAE
from musicvae_jax.trained_model import TrainedModel


class ToyTrainedModel(TrainedModel):
  pass


class ToyFamily:
  name = 'toy'
  description = 'a toy family (tests/test_families.py)'
  encodings = ('melody',)
  magenta_configs = {}
  magentajs = None

  def make_converter(self, config):
    return converters.MelodyConverter(slice_bars=config.slice_bars,
                                      max_windows=config.max_windows_per_sequence)

  def build_model(self, config, spec):
    return MusicVAE.from_config(config, spec)

  def objective(self, config, spec):
    return CategoricalObjective(tuple(spec.part_depths))

  def trained_model_class(self):
    return ToyTrainedModel

  def capabilities(self, config):
    no = family_lib.unsupported('the toy family exports nothing')
    return family_lib.declare(humanize=no, drumify=no, chords=no,
                              export_magentajs=no, convert_magenta=no)


FAMILY = ToyFamily()
'''


def test_a_new_family_is_its_folder_one_table_line_and_a_config(tmp_path, monkeypatch, tiny_run):
  """What design.md's walk-through promises: a family written outside the
  package (its folder), one line in family.FAMILIES and a config with its
  output_family train, resume into its own TrainedModel class, generate and
  refuse what it does not declare; nothing else changes."""
  import sys
  from musicvae_jax import generate, trainer
  from musicvae_jax.errors import UnsupportedCapabilityError
  from musicvae_jax.trained_model import TrainedModel
  package = tmp_path / 'toy_families' / 'toy'
  package.mkdir(parents=True)
  (package.parent / '__init__.py').write_text('')
  (package / '__init__.py').write_text('')
  (package / 'family.py').write_text(TOY_FAMILY)
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.setitem(family.FAMILIES, 'toy', 'toy_families.toy.family')   # the table line
  _, data, _ = tiny_run
  config = config_base.load_config_file('mel_2bar.py:tiny')               # the config
  config.output_family = 'toy'
  config.train_dir, config.eval_fraction = str(data), 0.25
  config.cache_dir, config.num_workers = str(tmp_path / 'cache'), 1
  config.num_steps = 2
  workdir = tmp_path / 'run'
  assert trainer.train_and_evaluate(config, workdir)['step'] == 2
  model = TrainedModel.from_workdir(workdir)
  assert type(model).__name__ == 'ToyTrainedModel' and model.family.name == 'toy'
  generate.generate(model, 'sample', tmp_path / 'out', num_outputs=1)
  assert sorted((tmp_path / 'out').glob('*.mid'))
  with pytest.raises(UnsupportedCapabilityError, match=r'the toy family .* does not support humanize'):
    generate.generate(model, 'humanize', tmp_path / 'out2', input_midi=str(data / 'm0_0.mid'))
  sys.modules.pop('toy_families.toy.family', None)
