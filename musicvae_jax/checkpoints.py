"""Orbax checkpoints of the whole train state, the data iterator position and
the config.

Layout of a workdir:
  config.json                 the run's config (also inside every checkpoint)
  checkpoints/<step>/state    TrainState (params, optimizer, plateau, PRNG key, step)
  checkpoints/<step>/data     data iterator state (JSON)
  checkpoints/<step>/config   config (JSON)

Kept: the newest `keep_latest` checkpoints and, separately, the `keep_best`
with the lowest eval loss. The two are separate preservation policies, so
the newest checkpoint is never deleted for lacking a good metric.

A checkpoint that cannot be restored (truncated, deleted or garbage files) is
moved to `checkpoints/corrupt/<step>-<reason>` (never deleted) and the next
older one is used (`restore_newest_intact`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import jax
import ml_collections
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

from musicvae_jax import config_base
from musicvae_jax.errors import UserError

METRIC = 'eval_loss'
CORRUPT = 'corrupt'


class CheckpointError(UserError):
  """No checkpoint of a workdir could be restored."""


class CheckpointMismatchError(UserError):
  """A checkpoint reads fine but does not fit the model being restored."""


def _chain(error: BaseException) -> list[BaseException]:
  out = []
  while error is not None and error not in out:
    out.append(error)
    error = error.__cause__ or error.__context__
  return out


def _reason(error: BaseException) -> str:
  """A short slug for why a checkpoint did not restore."""
  text = ' '.join(f'{type(e).__name__} {e}' for e in _chain(error))
  if any(w in text for w in ('Truncated', 'OUT_OF_RANGE', 'truncated',
                             'Unexpected end', 'EOF')):
    return 'truncated'
  if isinstance(error, FileNotFoundError) or any(
      w in text for w in ('NOT_FOUND', 'No such file', 'not found', 'does not exist')):
    return 'missing-file'
  if any(isinstance(e, (json.JSONDecodeError, UnicodeDecodeError))
         for e in _chain(error)):
    return 'bad-json'
  return 'unreadable'


def _short(error: BaseException, limit: int = 200) -> str:
  error = _chain(error)[-1]  # the root cause says what is wrong with the file
  text = ' '.join(f'{type(error).__name__}: {error}'.split())
  return text if len(text) <= limit else text[:limit - 3] + '...'


def checkpoint_dir(workdir: str | Path) -> Path:
  return Path(workdir).absolute() / 'checkpoints'


class Checkpointer:
  """Saves and restores runs in `workdir/checkpoints`."""

  def __init__(self, workdir: str | Path, keep_latest: int = 3,
               keep_best: int = 2, async_save: bool = True,
               read_only: bool = False, tidy: bool | None = None,
               report: Callable[[str], None] = print):
    """`tidy`: move damaged checkpoints aside (default: unless read_only);
    `report` gets one line per damaged checkpoint found."""
    policies = [pp.LatestN(n=max(1, keep_latest))]
    if keep_best > 0:
      policies.append(pp.BestN(get_metric_fn=lambda m: m[METRIC], reverse=True,
                               n=keep_best,
                               keep_checkpoints_without_metrics=False))
    options = ocp.CheckpointManagerOptions(
        preservation_policy=pp.AnyPreservationPolicy(policies),
        # best_fn makes orbax write each checkpoint's metrics to disk, so the
        # best checkpoints are still known after a restart.
        best_fn=lambda m: m[METRIC], best_mode='min',
        keep_checkpoints_without_metrics=True,
        enable_async_checkpointing=async_save,
        create=not read_only,
        read_only=read_only,
    )
    self.directory = checkpoint_dir(workdir)
    # Only one process moves folders (all of them skip the same damage).
    self.tidy = ((not read_only and jax.process_index() == 0) if tidy is None
                 else tidy)
    self.report = report
    self._set_aside_bad_metrics()
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def _set_aside_bad_metrics(self) -> None:
    """Unreadable `<step>/metrics` stop orbax from listing any step: move
    them aside (the step itself stays, ranked as having no metrics)."""
    if not self.directory.is_dir():
      return
    for folder in self.directory.iterdir():
      path = folder / 'metrics' / 'metrics'
      if not (folder.name.isdigit() and path.is_file()):
        continue
      try:
        if not isinstance(json.loads(path.read_text()), dict):
          raise ValueError('not a JSON object')
      except (ValueError, UnicodeDecodeError) as error:
        if not self.tidy:
          raise CheckpointError(
              f'{path} is not valid JSON ({_short(error)}); move it away or '
              'run train once to set it aside') from error
        dest = self.directory / CORRUPT / f'{folder.name}-bad-metrics'
        if dest.exists():
          dest = dest.with_name(f'{dest.name}-{time.strftime("%Y%m%d-%H%M%S")}')
        dest.parent.mkdir(parents=True, exist_ok=True)
        (folder / 'metrics').rename(dest)
        self.report(f'checkpoint {folder}: unreadable eval metrics '
                    f'({_short(error)}) moved to {dest}; the checkpoint stays')

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def best_step(self) -> int | None:
    return self.manager.best_step()

  def all_steps(self) -> list[int]:
    return list(self.manager.all_steps())

  def save(self, step: int, state: Any, config: ml_collections.ConfigDict,
           data_state: dict | None = None, eval_loss: float | None = None,
           force: bool = True) -> bool:
    """Saves asynchronously; `eval_loss` ranks it among the best."""
    metrics = None if eval_loss is None else {METRIC: float(eval_loss)}
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=ocp.args.JsonSave(data_state or {}),
        config=ocp.args.JsonSave(json.loads(config_base.to_json(config))),
    )
    return self.manager.save(step, args=args, metrics=metrics, force=force)

  def restore(self, target_state: Any, step: int | None = None):
    """Restores (state, data_state) at `step` (default: latest).

    `target_state` is a state of the right structure (arrays or
    `jax.ShapeDtypeStruct`s, with shardings where sharded).
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f'no checkpoint in {self.directory}')
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
    restored = self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract),
        data=ocp.args.JsonRestore()))
    return restored.state, dict(restored.data or {})

  def saved_config(self, step: int) -> ml_collections.ConfigDict:
    """The config stored inside checkpoint `step`."""
    path = self.directory / str(step) / 'config' / 'metadata'
    return config_base.from_json(path.read_text())

  def _reads_without_target(self, step: int) -> bool:
    """True when `step` restores as stored (so a failure was a mismatch)."""
    try:
      self.manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(), data=ocp.args.JsonRestore()))
      return True
    except Exception:  # pylint: disable=broad-except
      return False

  def move_aside(self, step: int, reason: str) -> Path:
    """Moves `checkpoints/<step>` to `checkpoints/corrupt/<step>-<reason>`."""
    dest = self.directory / CORRUPT / f'{step}-{reason}'
    if dest.exists():
      dest = dest.with_name(f'{dest.name}-{time.strftime("%Y%m%d-%H%M%S")}')
    dest.parent.mkdir(parents=True, exist_ok=True)
    (self.directory / str(step)).rename(dest)
    self.manager.reload()
    return dest

  def restore_newest_intact(
      self, target_state: Any, check: Callable[[int, Any], None] | None = None,
      report: Callable[[str], None] | None = None,
      move_aside: bool | None = None, steps: Iterable[int] | None = None):
    """Restores the newest checkpoint that restores: (step, state, data_state).

    Tries `steps` (default: every step, newest first). Before restoring a
    step, `check(step, saved_config)` may refuse it by raising (that error
    propagates: a config mismatch is not damage). A step that fails to
    restore is reported, moved aside (when `move_aside`) and the next older
    one is tried. Returns None when there is no checkpoint; raises
    CheckpointError when none restores, CheckpointMismatchError when the
    files read fine but do not fit `target_state`.
    """
    report = report or self.report
    move_aside = self.tidy if move_aside is None else move_aside
    order = list(steps) if steps is not None else sorted(self.all_steps(), reverse=True)
    if not order:
      return None
    failed = []
    for step in order:
      folder = self.directory / str(step)
      try:
        saved = self.saved_config(step)
      except Exception as error:  # pylint: disable=broad-except
        saved, failure = None, error
      else:
        if check is not None:
          check(step, saved)
        try:
          state, data_state = self.restore(target_state, step)
          return step, state, data_state
        except Exception as error:  # pylint: disable=broad-except
          failure = error
        if self._reads_without_target(step):
          raise CheckpointMismatchError(
              f'checkpoint {folder} reads fine but does not fit this model '
              f'({_short(failure)}); were its model settings changed?') from failure
      reason = _reason(failure)
      where = str(folder)
      if move_aside:
        where = str(self.move_aside(step, reason))
        report(f'checkpoint {folder} cannot be restored ({reason}: '
               f'{_short(failure)}); moved it to {where}, trying the next older one')
      else:
        report(f'checkpoint {folder} cannot be restored ({reason}: '
               f'{_short(failure)}); trying the next older one')
      failed.append(f'step {step} ({reason})')
    kept = (f'; the damaged ones are in {self.directory / CORRUPT}'
            if move_aside else '')
    raise CheckpointError(
        f'no checkpoint in {self.directory} can be restored: '
        f'{", ".join(failed)}{kept}. Start a new run in another --workdir '
        'or restore the files')

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def resolve_checkpoint(path: str | Path) -> tuple[Path, int]:
  """Finds (workdir, step) for a workdir, its `checkpoints/` or a step folder.

  A workdir or checkpoints folder gives its latest step.
  """
  path = Path(path).expanduser().absolute()
  if not path.exists():
    raise FileNotFoundError(f'ckpt_path {path} does not exist')
  if path.name.isdigit() and path.parent.name == 'checkpoints':
    return path.parent.parent, int(path.name)
  if (path / 'checkpoints').is_dir():
    path = path / 'checkpoints'
  steps = sorted(int(p.name) for p in path.iterdir()
                 if p.is_dir() and p.name.isdigit())
  if path.name != 'checkpoints' or not steps:
    raise FileNotFoundError(
        f'ckpt_path {path} holds no musicvae_jax checkpoint (expected a '
        'workdir, its checkpoints/ folder or a checkpoints/<step> folder)')
  return path.parent, steps[-1]


def _read_config(path: Path) -> ml_collections.ConfigDict:
  try:
    return config_base.from_json(path.read_text())
  except (ValueError, UnicodeDecodeError, AttributeError, TypeError) as error:
    raise CheckpointError(f'{path} is not a valid config ({_short(error, 120)})'
                          ) from error


def load_config(workdir: str | Path, step: int | None = None) -> ml_collections.ConfigDict:
  """The config a run was trained with (from `config.json` or a checkpoint).

  Raises CheckpointError naming the file when it is not a valid config.
  """
  workdir = Path(workdir)
  if step is None and (workdir / 'config.json').exists():
    return _read_config(workdir / 'config.json')
  ckpt = checkpoint_dir(workdir)
  step = step if step is not None else max(
      int(p.name) for p in ckpt.iterdir() if p.name.isdigit())
  return _read_config(ckpt / str(step) / 'config' / 'metadata')


def write_config(workdir: str | Path, config: ml_collections.ConfigDict,
                 report: Callable[[str], None] = print) -> None:
  """Writes `config.json` (earlier values live in `config_history.jsonl`);
  an unreadable old `config.json` is kept beside it, never lost."""
  path = Path(workdir) / 'config.json'
  if path.exists():
    try:
      json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
      keep = path.with_name(f'config.json.unreadable-{time.strftime("%Y%m%d-%H%M%S")}')
      path.rename(keep)
      report(f'{path} was not valid JSON: kept it as {keep}')
  tmp = path.with_name('config.json.tmp')
  tmp.write_text(config_base.to_json(config))
  tmp.replace(path)
