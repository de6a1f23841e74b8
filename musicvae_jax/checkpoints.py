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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

from musicvae_jax import config_base

METRIC = 'eval_loss'


def checkpoint_dir(workdir: str | Path) -> Path:
  return Path(workdir).absolute() / 'checkpoints'


class Checkpointer:
  """Saves and restores runs in `workdir/checkpoints`."""

  def __init__(self, workdir: str | Path, keep_latest: int = 3,
               keep_best: int = 2, async_save: bool = True,
               read_only: bool = False):
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
    self.manager = ocp.CheckpointManager(self.directory, options=options)

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


def load_config(workdir: str | Path, step: int | None = None) -> ml_collections.ConfigDict:
  """The config a run was trained with (from `config.json` or a checkpoint)."""
  workdir = Path(workdir)
  if step is None and (workdir / 'config.json').exists():
    return config_base.from_json((workdir / 'config.json').read_text())
  ckpt = checkpoint_dir(workdir)
  step = step if step is not None else max(
      int(p.name) for p in ckpt.iterdir() if p.name.isdigit())
  return config_base.from_json((ckpt / str(step) / 'config' /
                                'metadata').read_text())


def write_config(workdir: str | Path, config: ml_collections.ConfigDict) -> None:
  path = Path(workdir) / 'config.json'
  path.write_text(config_base.to_json(config))
