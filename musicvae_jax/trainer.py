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

from musicvae_jax import (checkpoints, config_base, config_check, errors,
                          input_pipeline, parallel, render, startup, steps,
                          workdir_lock)
from musicvae_jax import evaluate as evaluate_lib
from musicvae_jax import family as family_lib

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

  def config(self, config: ml_collections.ConfigDict) -> None:
    """The run's config as a TEXT entry ('config', step 0), as JSON."""
    if self._writer is None:
      return
    text = config.to_json_best_effort(indent=2, sort_keys=True)
    # Markdown: four-space indent keeps it verbatim.
    self._writer.add_text('config', '\n'.join('    ' + l for l in text.splitlines()), 0)
    self._writer.flush()

  def samples(self, step: int, sequences, sample_rate: int = 16000) -> None:
    """Each NoteSequence as audio ('samples/audio_i') and piano roll
    ('samples/piano_roll_i')."""
    if self._writer is None:
      return
    for i, ns in enumerate(sequences):
      audio = render.preview_audio(ns, sample_rate)
      self._writer.add_audio(f'samples/audio_{i}', audio[:, None], step,
                             sample_rate=sample_rate)
      image = np.asarray(render.piano_roll_image(ns, title=f'step {step}, sample {i}'))
      self._writer.add_image(f'samples/piano_roll_{i}', image, step,
                             dataformats='HWC')
    self._writer.flush()

  def histograms(self, step: int, tree, prefix: str) -> None:
    """One histogram per array of a parameter-shaped tree ('params/encoder/...')."""
    if self._writer is None:
      return
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
      if not getattr(leaf, 'is_fully_addressable', True):
        if not leaf.is_fully_replicated:
          continue  # FSDP-sharded over several hosts: not on this one
        leaf = leaf.addressable_data(0)
      name = '/'.join(str(getattr(k, 'key', k)) for k in path)
      self._writer.add_histogram(f'{prefix}/{name}', np.asarray(leaf, np.float32),
                                 step)
    self._writer.flush()

  def hparams(self, config: ml_collections.ConfigDict, metrics: dict[str, float]) -> None:
    """The scalar config fields with the final metrics (HPARAMS tab; written
    to the 'hparams' sub-run)."""
    if self._writer is None or not metrics:
      return
    hparams = {}
    for key, value in config.items():
      if isinstance(value, (bool, int, float, str)):
        hparams[key] = value
      elif isinstance(value, (tuple, list)):
        hparams[key] = str(tuple(value))
    finals = {f'hparam/{k}': float(v) for k, v in metrics.items()
              if isinstance(v, (int, float)) and math.isfinite(v)}
    self._writer.add_hparams(hparams, finals, name='hparams')

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


class SampleWriter:
  """Every `advanced_every_steps`: a few free-running samples as MIDI in
  `workdir/samples/step_NNNNNNN/`, and as audio and piano rolls in
  TensorBoard, to hear how training is going."""

  def __init__(self, model, converter, folder: Path, seed: int,
               count: int = 4, temperature: float = 0.5):
    self.converter, self.folder, self.seed = converter, folder, seed
    self.count, self.z_size = count, model.z_size
    self._sample = jax.jit(lambda params, z, key: model.apply(
        {'params': params}, z, temperature, rngs={'sample': key},
        method='sample')[0])

  def write(self, params, step: int, writer: MetricWriter | None = None) -> None:
    key = jax.random.fold_in(jax.random.key(self.seed + 2), step)
    z = jax.random.normal(key, (self.count, self.z_size))
    tokens = np.asarray(jax.device_get(self._sample(params, z, key)))
    out = self.folder / f'step_{step:07d}'
    out.mkdir(parents=True, exist_ok=True)
    sequences = [self.converter.to_note_sequence(window) for window in tokens]
    for i, ns in enumerate(sequences):
      render.write_midi(ns, out / f'sample_{i}.mid')
    if writer is not None:
      writer.samples(step, sequences)


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
             summarise) -> dict[str, float]:
  """Runs the eval step over the eval batches and averages the sums
  (`summarise`: the objective's `summarise_eval`)."""
  total = None
  base = jax.random.key(seed + 1)
  for i, batch in enumerate(eval_batches):
    sums = eval_fn(params, batch, jax.random.fold_in(base, i), step)
    total = sums if total is None else jax.tree.map(jnp.add, total, sums)
  if total is None:
    return {}
  return summarise(jax.device_get(total), part_names)


def _restore_params_from(path: str, state: steps.TrainState,
                         resume_state: bool, config: ml_collections.ConfigDict,
                         report) -> steps.TrainState:
  workdir, step = checkpoints.resolve_checkpoint(path)
  source = checkpoints.Checkpointer(workdir, read_only=True, async_save=False,
                                    report=report)
  try:
    # A whole workdir falls back to its newest intact step; an explicit step
    # folder must restore as it is. Another run's files are never moved.
    explicit = Path(path).expanduser().name.isdigit()
    order = [step] if explicit else sorted(source.all_steps(), reverse=True)
    _, restored, _ = source.restore_newest_intact(
        state, steps=order,
        check=lambda _, saved: config_check.check_init_from(saved, config, path))
  finally:
    source.close()
  if resume_state:
    return restored
  return state.replace(params=restored.params)


def _close_all(*closers) -> None:
  """Calls every closer; re-raises the first failure after trying them all."""
  first = None
  for close in closers:
    try:
      close()
    except Exception as error:  # pylint: disable=broad-except
      first = first or error
  if first is not None:
    raise first


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str | Path) -> dict[str, Any]:
  """Trains `config` in `workdir`, resuming from its newest intact checkpoint.

  One process writes a workdir at a time (`workdir_lock`; a second one gets
  `WorkdirBusyError`). Resuming checks the config against the checkpoint's
  (`config_check`). Returns the last eval metrics (and `step`).
  """
  config_base.validate(config)
  workdir = Path(workdir).expanduser().absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  is_chief = jax.process_index() == 0
  lock = workdir_lock.WorkdirLock(workdir).acquire() if is_chief else None
  try:
    return _train(config, workdir, is_chief)
  finally:
    if lock is not None:
      lock.release()


def _resume_or_start(config, workdir: Path, ckpt, state, batches, is_chief):
  """Restores the newest intact checkpoint (or `ckpt_path`), checks and
  records the config; returns the state to train from."""
  say = (lambda text: print(text, flush=True)) if is_chief else (lambda _: None)
  allowed = {}

  def check(step, saved):  # against the step actually restored
    allowed.clear()
    allowed.update(config_check.check_resume(
        saved, config, f'{workdir} (checkpoint step {step})'))

  restored = ckpt.restore_newest_intact(state, check=check, report=say)
  if restored is not None:
    step, state, data_state = restored
    if data_state:  # a converted Magenta checkpoint has no data position
      batches.set_state(data_state)
    say(f'resumed from {ckpt.directory} at step {int(state.step)}')
    if is_chief:
      history = config_check.record(workdir, 'resume', step, allowed,
                                    machine=startup.machine_summary())
      if allowed:
        say(f'changed settings (saved -> new; kept in {history}):')
        for line in config_check.summary(allowed):
          say(line)
  elif config.ckpt_path:
    state = _restore_params_from(config.ckpt_path, state,
                                 config.ckpt_resume_state, config, say)
    say(f'initialised from {config.ckpt_path}')
    if is_chief:
      config_check.record(workdir, 'start from ckpt_path', 0, config=config,
                          machine=startup.machine_summary())
  elif is_chief:
    config_check.record(workdir, 'start', 0, config=config,
                        machine=startup.machine_summary())
  if is_chief:
    checkpoints.write_config(workdir, config, report=say)
  return state


def _train(config: ml_collections.ConfigDict, workdir: Path,
           is_chief: bool) -> dict[str, Any]:
  parts = family_lib.build(config)   # the model and its objective, once per run
  model, objective = parts.model, parts.objective
  data = input_pipeline.load(config, parts.converter)
  mesh = parallel.make_mesh(config.mesh_shape)
  parallel.check_batch_size(config.batch_size, mesh)
  logging.info('mesh: %s, parameters %s', parallel.describe(mesh),
               config.param_sharding)
  example = objective.example_batch(config, config.batch_size)
  state, state_sharding = parallel.create_sharded_state(
      lambda: steps.create_train_state(config, model, objective, example), mesh,
      config.param_sharding)
  startup.print_summary(state.params, data)
  # The train step also returns its gradients (histograms at the advanced
  # interval): one compile, not two.
  train_fn, eval_fn, plateau_fn = steps.jit_steps(
      config, model, objective, state_sharding, parallel.batch_sharding(mesh),
      with_grads=True)

  batches = data.train_batches(config, jax.process_index(), jax.process_count())

  try:
    ckpt = checkpoints.Checkpointer(workdir, config.keep_latest, config.keep_best,
                                    report=lambda t: is_chief and print(t, flush=True))
  except BaseException:
    batches.close()
    raise
  writer = progress = None
  try:
    state = _resume_or_start(config, workdir, ckpt, state, batches, is_chief)
    writer = MetricWriter(workdir / 'tensorboard', is_chief)
    writer.config(config)
    samples = SampleWriter(model, data.converter, workdir / 'samples', config.seed)
    greedy = evaluate_lib.GreedyCheck.maybe(config, model, objective, data.part_names)
    averager = MetricAverager()
    start = int(state.step)
    last_eval: dict[str, Any] = {}
    progress = _progress(start, config.num_steps, is_chief)
    tick = time.perf_counter()
    for step in range(start + 1, config.num_steps + 1):
      do_advanced = step % config.advanced_every_steps == 0
      batch = parallel.global_batch(next(batches), mesh)
      if do_advanced:
        writer.histograms(step, state.params, 'params')  # before the donation
      state, metrics, grads = train_fn(state, batch)
      if do_advanced:
        writer.histograms(step, grads, 'gradients')
      del grads
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
          _report(progress, step, values, config, objective.console_keys)
          writer.scalars(step, values, 'train')
      eval_loss = None
      if do_eval and len(data.eval_windows):
        eval_batches = (parallel.global_batch(b, mesh, replicated_input=True)
                        for b in data.eval_batches(config))
        last_eval = evaluate(eval_fn, state.params, eval_batches,
                             config.seed, state.step, data.part_names,
                             objective.summarise_eval)
        eval_loss = last_eval['loss']
        if config.lr_schedule == 'plateau':
          state = plateau_fn(state, jnp.asarray(eval_loss, jnp.float32))
        _log_eval(progress, step, last_eval, objective.eval_console_keys)
        writer.scalars(step, last_eval, 'eval')
        if greedy is not None:  # greedy decodes from z = mu (evaluate.py)
          greedy_eval = greedy(state.params, data.eval_batches(config))
          _log_greedy(progress, step, greedy_eval)
          writer.scalars(step, greedy_eval, 'eval_greedy')
      if do_ckpt:
        ckpt.save(step, state, config, batches.get_state(), eval_loss)
      if do_advanced and is_chief:
        samples.write(state.params, step, writer)
      if do_log or do_eval or do_ckpt or do_advanced:
        tick = time.perf_counter()  # steps/s excludes eval and saving
      progress.update(1)
    writer.hparams(config, {'step': int(state.step), **last_eval})
  except BaseException as error:
    # The original error is the one to report: close quietly.
    for close in (progress and progress.close, ckpt.close,
                  writer and writer.close, batches.close):
      try:
        if close:
          close()
      except Exception:  # pylint: disable=broad-except
        pass
    _raise_if_disk_full(error, ckpt)
    raise
  # A failed final save surfaces here (orbax saves in the background).
  try:
    _close_all(progress.close, ckpt.close, writer.close, batches.close)
  except Exception as error:  # pylint: disable=broad-except
    _raise_if_disk_full(error, ckpt)
    raise
  return {'step': int(state.step), **last_eval}


class DiskFullError(errors.UserError, OSError):
  """The disk filled up while training wrote its outputs."""


def _raise_if_disk_full(error: BaseException, ckpt) -> None:
  path = errors.disk_full(error)
  if path is None:
    return
  try:
    ckpt.manager.reload()
    kept = ', '.join(str(s) for s in sorted(ckpt.all_steps())) or 'none'
  except Exception:  # pylint: disable=broad-except
    kept = 'unknown'
  raise DiskFullError(
      f'no space left on device while writing {path or ckpt.directory}; the '
      f'complete checkpoints stay intact (steps: {kept}). Free some space and '
      'run the same command to resume') from error


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
  progress.write(f'step {step} [eval] {eval_text(values, extra)}')


def eval_text(values: dict[str, float], extra: tuple[str, ...] = ()) -> str:
  """The console text of eval metrics (`extra`: the objective's own keys)."""
  shown = ('loss', 'r_loss', 'kl_bits', 'accuracy_teacher_forced',
           'accuracy_sampled', 'event_accuracy_teacher_forced',
           'mean_per_class_accuracy', *extra)
  shown += tuple(k for k in values if k.startswith('accuracy_teacher_forced/'))
  text = ' '.join(f'{k}={values[k]:.4g}' for k in shown if k in values)
  bars = [values[k] for k in sorted(values) if k.startswith('bar_accuracy/')]
  if bars:  # hierarchical models: teacher-forced accuracy of each bar
    text += ' bar_accuracy=' + ','.join(f'{v:.2f}' for v in bars)
  return text


def _log_greedy(progress, step: int, values: dict[str, float]) -> None:
  if not values:
    return
  text = ' '.join(f'{k}={v:.4g}' for k, v in values.items() if k != 'windows')
  progress.write(f'step {step} [eval, greedy decode from z = mu, '
                 f'{int(values["windows"])} windows] {text}')
