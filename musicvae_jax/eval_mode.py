"""`python -m musicvae_jax.train --mode=eval`: score a run's newest checkpoint.

Magenta's `--mode=eval` runs beside training, evaluating each new checkpoint
of `RUN_DIR/train` on the eval data and writing summaries to `RUN_DIR/eval`.
Here `evaluate_newest` restores the newest intact checkpoint of the run
(the config given on the command line must describe the same model:
`config_check.check_resume`), runs the training loop's eval step over the
eval data (`input_pipeline.eval_set`, at most `config.eval_batches`
batches), prints the metrics and appends them to
`RUN_DIR/eval<suffix>/metrics.jsonl` and to TensorBoard in the same folder.
Without eval data on the command line it scores the run's own eval set.
`run(..., loop=True)` waits for each newer checkpoint, as Magenta does, and
stops once it has scored step `config.num_steps`. The run dir is only read:
training may hold it meanwhile.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any, Callable

import jax
import ml_collections

from musicvae_jax import (checkpoints, config_base, config_check, input_pipeline,
                          steps, trainer)
from musicvae_jax import family as family_lib
from musicvae_jax.errors import UserError

POLL_SECONDS = 60.0   # Magenta's eval_interval_secs


class NoCheckpointError(UserError):
  """The run dir holds no checkpoint to evaluate."""


class Evaluator:
  """The model, eval data and jitted eval step of one config, built once."""

  def __init__(self, config: ml_collections.ConfigDict):
    config_base.validate(config)
    self.config = config
    parts = family_lib.build(config)
    self.model, self.objective, self.converter = parts.model, parts.objective, parts.converter
    self.windows = input_pipeline.eval_set(config, parts.converter)
    if not len(self.windows):
      raise UserError('no eval windows: give --examples_path (or '
                      '--eval_examples_path, --config.eval_dir) with --mode=eval')
    example = parts.objective.example_batch(config, config.batch_size)
    self.abstract_state = jax.eval_shape(functools.partial(
        steps.create_train_state, config, parts.model, parts.objective), example)
    _, self.eval_fn, _ = steps.jit_steps(config, parts.model, parts.objective)

  def restore(self, workdir: Path, newer_than: int | None = None):
    """(step, state) of the newest intact checkpoint, None when there is none
    (or none newer than `newer_than`). Never moves files."""
    ckpt = checkpoints.Checkpointer(workdir, read_only=True, async_save=False,
                                    tidy=False)
    try:
      order = sorted((s for s in ckpt.all_steps()
                      if newer_than is None or s > newer_than), reverse=True)
      if not order:
        return None
      where = f'{workdir} (checkpoint step {{}})'
      restored = ckpt.restore_newest_intact(
          self.abstract_state, steps=order,
          check=lambda step, saved: config_check.check_resume(
              saved, self.config, where.format(step)))
    finally:
      ckpt.close()
    if restored is None:
      return None
    step, state, _ = restored
    return step, state

  def metrics(self, state) -> dict[str, float]:
    """The eval metrics of `state` (the training loop's eval)."""
    batches = input_pipeline.eval_batches(self.windows, self.config, self.converter)
    return trainer.evaluate(self.eval_fn, state.params, batches, self.config.seed,
                            state.step, input_pipeline.part_names(self.converter),
                            self.objective.summarise_eval)


DATA_FIELDS = ('train_examples_path', 'eval_examples_path', 'train_dir',
               'eval_dir', 'eval_fraction', 'cache_dir')


def with_run_data(config: ml_collections.ConfigDict, workdir: Path) -> list[str]:
  """Where the command line names no data (no examples path, no folder),
  takes the run's own (its saved `DATA_FIELDS`), so that the run's eval set
  is scored; returns the fields taken."""
  if any(config[f] for f in DATA_FIELDS[:4]) or not (workdir / 'config.json').exists():
    return []
  saved = checkpoints.load_config(workdir)
  taken = [f for f in DATA_FIELDS if saved[f] != config[f]]
  for field in taken:
    config[field] = saved[field]
  return taken


def _record(folder: Path, step: int, values: dict[str, float]) -> None:
  folder.mkdir(parents=True, exist_ok=True)
  with open(folder / 'metrics.jsonl', 'a', encoding='utf-8') as f:
    f.write(json.dumps({'step': step, **values}, sort_keys=True) + '\n')
  writer = trainer.MetricWriter(folder, jax.process_index() == 0)
  try:
    writer.scalars(step, values, 'eval')
  finally:
    writer.close()


def run(config: ml_collections.ConfigDict, workdir: str | Path,
        suffix: str = '', loop: bool = False, poll_seconds: float = POLL_SECONDS,
        report: Callable[[str], None] = print) -> dict[str, Any]:
  """Evaluates the newest checkpoint of `workdir` (with `loop`, each newer
  one until step `config.num_steps`); returns the last `{'step', **metrics}`.
  Raises NoCheckpointError when there is none (without `loop`)."""
  workdir = Path(workdir).expanduser().absolute()
  if not loop and not (workdir / 'checkpoints').is_dir():
    raise NoCheckpointError(
        f'--run_dir={workdir} holds no checkpoint (expected '
        f'{workdir}/checkpoints/<step>/): train first with --mode=train')
  taken = with_run_data(config, workdir)
  if taken:
    report('eval data as the run\'s: ' + ', '.join(
        f'config.{f} = {config[f]!r}' for f in taken))
  evaluator = Evaluator(config)
  folder = workdir / f'eval{suffix}'
  last: dict[str, Any] = {}
  while True:
    found = (evaluator.restore(workdir, last.get('step'))
             if (workdir / 'checkpoints').is_dir() else None)
    if found is not None:
      step, state = found
      values = evaluator.metrics(state)
      report(f'step {step} [eval, {workdir}] '
             f'{trainer.eval_text(values, evaluator.objective.eval_console_keys)}')
      _record(folder, step, values)
      last = {'step': step, **values}
    elif not loop:
      raise NoCheckpointError(f'--run_dir={workdir} holds no checkpoint that '
                              'restores: train first with --mode=train')
    if not loop or last.get('step', -1) >= config.num_steps:
      return last
    time.sleep(poll_seconds)
