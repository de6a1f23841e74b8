"""The training loop: data, jitted steps, evaluation, logging, checkpoints, resume.

`train_and_evaluate(config, workdir)` is the library entry point; the command
line lives in `train.py`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from musicvae_jax import (checkpoints, config_base, families, input_pipeline,
                          parallel, steps)
from musicvae_jax import evaluate as evaluate_lib
from musicvae_jax.models import MusicVAE

_NOT_FINITE = ('loss', 'r_loss', 'kl_loss', 'grad_norm')


class NonFiniteLossError(FloatingPointError):
  """Raised when training produced NaN or Inf; no checkpoint was written."""


class MetricWriter:
  """TensorBoard event files (tensorboardX, no TensorFlow) on process 0."""

  def __init__(self, logdir: Path, enabled: bool):
    self._writer = None
    if enabled:
      from tensorboardX import SummaryWriter
      self._writer = SummaryWriter(str(logdir))

  def scalars(self, step: int, values: dict[str, float], prefix: str) -> None:
    if self._writer is None:
      return
    for key, value in values.items():
      self._writer.add_scalar(f'{prefix}/{key}', value, step)
    self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


class SampleWriter:
  """Every `advanced_every_steps`: a few free-running samples as MIDI in
  `workdir/samples/step_NNNNNNN/`, to hear how training is going."""

  def __init__(self, model: MusicVAE, converter, folder: Path, seed: int,
               count: int = 4, temperature: float = 0.5):
    self.converter, self.folder, self.seed = converter, folder, seed
    self.count, self.z_size = count, model.z_size
    self._sample = jax.jit(lambda params, z, key: model.apply(
        {'params': params}, z, temperature, rngs={'sample': key},
        method='sample')[0])

  def write(self, params, step: int) -> None:
    from musicvae_jax import render
    key = jax.random.fold_in(jax.random.key(self.seed + 2), step)
    z = jax.random.normal(key, (self.count, self.z_size))
    tokens = np.asarray(jax.device_get(self._sample(params, z, key)))
    out = self.folder / f'step_{step:07d}'
    out.mkdir(parents=True, exist_ok=True)
    for i, window in enumerate(tokens):
      render.write_midi(self.converter.to_note_sequence(window),
                        out / f'sample_{i}.mid')


class MetricAverager:
  """Adds step metrics on device; reads them on the host only when asked."""

  def __init__(self):
    self._sum, self._count = None, 0

  def add(self, metrics: dict[str, jax.Array]) -> None:
    self._sum = metrics if self._sum is None else jax.tree.map(
        jnp.add, self._sum, metrics)
    self._count += 1

  def pending(self) -> bool:
    return self._count > 0

  def read(self) -> tuple[dict[str, float], int]:
    """(interval averages, steps averaged); resets the accumulator."""
    host = jax.device_get(self._sum)
    count = self._count
    out = {k: float(v) / count for k, v in host.items()}
    self._sum, self._count = None, 0
    return out, count


def _check_finite(values: dict[str, float], step: int) -> None:
  bad = {k: v for k, v in values.items()
         if k in _NOT_FINITE and not math.isfinite(v)}
  if bad:
    raise NonFiniteLossError(
        f'training diverged before step {step}: {bad}. Nothing was saved '
        'after the last good checkpoint; lower learning_rate or grad_clip, '
        'or resume from that checkpoint.')


def evaluate(eval_fn, params, eval_batches: Iterator[dict], seed: int,
             step: jax.Array, part_names: tuple[str, ...],
             summarise=steps.summarise_eval) -> dict[str, float]:
  """Runs the eval step over the eval batches and averages the sums
  (`summarise`: the output family's `summarise_eval`)."""
  total = None
  base = jax.random.key(seed + 1)
  for i, batch in enumerate(eval_batches):
    sums = eval_fn(params, batch, jax.random.fold_in(base, i), step)
    total = sums if total is None else jax.tree.map(jnp.add, total, sums)
  if total is None:
    return {}
  return summarise(jax.device_get(total), part_names)


def _restore_params_from(path: str, state: steps.TrainState,
                         resume_state: bool) -> steps.TrainState:
  workdir, step = checkpoints.resolve_checkpoint(path)
  source = checkpoints.Checkpointer(workdir, read_only=True, async_save=False)
  restored, _ = source.restore(state, step)
  source.close()
  if resume_state:
    return restored
  return state.replace(params=restored.params)


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str | Path) -> dict[str, Any]:
  """Trains `config` in `workdir`, resuming from its latest checkpoint.

  Returns the last eval metrics (and `step`).
  """
  config_base.validate(config)
  workdir = Path(workdir).expanduser().absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  is_chief = jax.process_index() == 0

  data = input_pipeline.load(config)
  if is_chief:
    print(f'data: {len(data.train_windows)} training windows '
          f'({data.train.summary.get("files_used", "?")} files), '
          f'{len(data.eval_windows)} eval windows', flush=True)
  model = families.make_model(config, data.spec)
  family = families.family_of(model)
  mesh = parallel.make_mesh(config.mesh_shape)
  parallel.check_batch_size(config.batch_size, mesh)
  logging.info('mesh: %s, parameters %s', parallel.describe(mesh),
               config.param_sharding)
  example = input_pipeline.example_batch(config, data.spec)
  state, state_sharding = parallel.create_sharded_state(
      lambda: steps.create_train_state(config, model, example), mesh,
      config.param_sharding)
  train_fn, eval_fn, plateau_fn = steps.jit_steps(
      config, model, data.spec, state_sharding, parallel.batch_sharding(mesh))

  batches = data.train_batches(config, jax.process_index(), jax.process_count())

  ckpt = checkpoints.Checkpointer(workdir, config.keep_latest, config.keep_best)
  if ckpt.latest_step() is not None:
    state, data_state = ckpt.restore(state)
    if data_state:  # a converted Magenta checkpoint has no data position
      batches.set_state(data_state)
    if is_chief:
      print(f'resumed from {ckpt.directory} at step {int(state.step)}', flush=True)
  elif config.ckpt_path:
    state = _restore_params_from(config.ckpt_path, state,
                                 config.ckpt_resume_state)
    if is_chief:
      print(f'initialised from {config.ckpt_path}', flush=True)
  if is_chief:
    checkpoints.write_config(workdir, config)

  writer = MetricWriter(workdir / 'tensorboard', is_chief)
  samples = SampleWriter(model, data.converter, workdir / 'samples', config.seed)
  greedy = evaluate_lib.GreedyCheck.maybe(config, model, data.part_names)
  averager = MetricAverager()
  start = int(state.step)
  last_eval: dict[str, Any] = {}
  progress = _progress(start, config.num_steps, is_chief)
  tick = time.perf_counter()
  try:
    for step in range(start + 1, config.num_steps + 1):
      state, metrics = train_fn(state, parallel.global_batch(next(batches), mesh))
      averager.add(metrics)
      boundary = step == config.num_steps
      do_log = step % config.log_every_steps == 0 or boundary
      do_eval = step % config.eval_every_steps == 0 or boundary
      do_ckpt = step % config.checkpoint_every_steps == 0 or boundary or do_eval
      if do_log or do_ckpt:
        values, count = averager.read()
        _check_finite(values, step)
        values['steps_per_second'] = count / (time.perf_counter() - tick)
        values['learning_rate'] = float(steps.current_learning_rate(state, config))
        if do_log:
          _report(progress, step, values, config, family.console_keys)
          writer.scalars(step, values, 'train')
      eval_loss = None
      if do_eval and len(data.eval_windows):
        eval_batches = (parallel.global_batch(b, mesh, replicated_input=True)
                        for b in data.eval_batches(config))
        last_eval = evaluate(eval_fn, state.params, eval_batches,
                             config.seed, state.step, data.part_names,
                             family.summarise_eval)
        eval_loss = last_eval['loss']
        if config.lr_schedule == 'plateau':
          state = plateau_fn(state, jnp.asarray(eval_loss, jnp.float32))
        _log_eval(progress, step, last_eval, family.eval_console_keys)
        writer.scalars(step, last_eval, 'eval')
        if greedy is not None:  # greedy decodes from z = mu (evaluate.py)
          greedy_eval = greedy(state.params, data.eval_batches(config))
          _log_greedy(progress, step, greedy_eval)
          writer.scalars(step, greedy_eval, 'eval_greedy')
      if do_ckpt:
        ckpt.save(step, state, config, batches.get_state(), eval_loss)
      do_advanced = step % config.advanced_every_steps == 0
      if do_advanced and is_chief:
        samples.write(state.params, step)
      if do_log or do_eval or do_ckpt or do_advanced:
        tick = time.perf_counter()  # steps/s excludes eval and saving
      progress.update(1)
  finally:
    progress.close()
    ckpt.close()
    writer.close()
    batches.close()
  return {'step': int(state.step), **last_eval}


def _progress(start: int, total: int, enabled: bool):
  from tqdm.auto import tqdm
  return tqdm(total=total, initial=start, disable=not enabled, unit='step',
              dynamic_ncols=True, mininterval=1.0)


def _report(progress, step: int, values: dict[str, float], config,
            extra: tuple[str, ...] = ()) -> None:
  shown = ('loss', 'r_loss', 'kl_bits', 'beta', 'accuracy', 'event_accuracy',
           *extra, 'sampling_probability', 'learning_rate', 'grad_norm',
           'steps_per_second')
  progress.set_postfix(loss=f'{values["loss"]:.3f}',
                       acc=f'{values["accuracy"]:.3f}', refresh=False)
  text = ' '.join(f'{k}={values[k]:.4g}' for k in shown if k in values)
  progress.write(f'step {step}/{config.num_steps} [train, mean of the last '
                 f'{config.log_every_steps} steps] {text}')


def _log_eval(progress, step: int, values: dict[str, float],
              extra: tuple[str, ...] = ()) -> None:
  shown = ('loss', 'r_loss', 'kl_bits', 'accuracy_teacher_forced',
           'accuracy_sampled', 'event_accuracy_teacher_forced',
           'mean_per_class_accuracy', *extra)
  shown += tuple(k for k in values if k.startswith('accuracy_teacher_forced/'))
  text = ' '.join(f'{k}={values[k]:.4g}' for k in shown if k in values)
  progress.write(f'step {step} [eval] {text}')


def _log_greedy(progress, step: int, values: dict[str, float]) -> None:
  if not values:
    return
  text = ' '.join(f'{k}={v:.4g}' for k, v in values.items() if k != 'windows')
  progress.write(f'step {step} [eval, greedy decode from z = mu, '
                 f'{int(values["windows"])} windows] {text}')
