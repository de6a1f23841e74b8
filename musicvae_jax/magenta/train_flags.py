"""Magenta's `music_vae_train` flags on `python -m musicvae_jax.train`.

    python -m musicvae_jax.train --config=... --run_dir=/tmp/run/ --mode=train \
        --examples_path=/tmp/music_vae/mel_train_examples.tfrecord \
        --hparams=batch_size=32,learning_rate=0.0005

`FLAGS` is the table: every flag of Magenta's `music_vae_train.py`, what it
does here, and for the flags without a counterpart whether a value other
than Magenta's default is an error or a warning. `train.py` defines the absl
flags; `apply` turns their values into config fields; docs/magenta.md holds
the table (`scripts/magenta_tables.py` writes it from `FLAGS`).

Order: the config file, then `--hparams` (Magenta: hparams override the
config's), then `--examples_path`, `--num_steps`, `--checkpoints_to_keep`
and `--eval_num_batches`, then the `--config.X` overrides, which win over
all of them (each field they take back is reported).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from musicvae_jax.errors import UserError
from musicvae_jax.magenta import hparams as hparams_lib
from musicvae_jax.magenta.hparams import Setting

MODES = ('train', 'eval')
# Magenta's "0 for infinite" checkpoints_to_keep.
KEEP_ALL = 1_000_000


class TrainFlagsError(UserError, ValueError):
  """A Magenta training flag that cannot be honoured (one line, naming it)."""


@dataclasses.dataclass(frozen=True)
class Flag:
  """One flag of Magenta's `music_vae_train.py`.

  `handling`: 'mapped' (it works here, as `here` says), 'error' or 'warn'
  (no counterpart: a value other than `magenta_default` stops the run with
  `why`, or is ignored with `why` as a warning).
  """

  name: str
  magenta_default: Any
  handling: str
  here: str = ''
  why: str = ''


FLAGS: tuple[Flag, ...] = (
    Flag('config', "''", 'mapped',
         "Magenta's config names (`--config=cat-mel_2bar_small`); also a shipped "
         'config `NAME[:VARIANT]` or a file `FILE.py[:VARIANT]` (`train --help` lists them)'),
    Flag('run_dir', None, 'mapped',
         'the same as `--workdir` (give one of them). Magenta writes '
         '`RUN_DIR/train/` and `RUN_DIR/eval/`; here checkpoints go to '
         '`RUN_DIR/checkpoints/`, TensorBoard to `RUN_DIR/tensorboard/`, '
         '`--mode=eval` to `RUN_DIR/eval/`'),
    Flag('mode', "'train'", 'mapped',
         '`train`, or `eval`: scores the newest checkpoint in the run dir on '
         'the eval data once (`--eval_loop`: each new one, as Magenta does, '
         'until the step reaches `num_steps`); without eval data given, on the '
         "run's own eval set"),
    Flag('examples_path', None, 'mapped',
         'TFRecord of NoteSequences (a path, glob or comma list); '
         '`--mode=train`: `config.train_examples_path`, `--mode=eval`: '
         '`config.eval_examples_path`. Read without TensorFlow, windows cached '
         'by the file\'s content. Eval data while training: '
         '`--eval_examples_path` (ours), else `config.eval_dir`, else a '
         'held-out `config.eval_fraction` of the NoteSequences'),
    Flag('hparams', "''", 'mapped',
         "Magenta's hparams, each mapped to config fields (table below); "
         'applied after the config file and before `--config.X`'),
    Flag('num_steps', 200000, 'mapped',
         '`config.num_steps` (default: the config\'s)'),
    Flag('eval_num_batches', None, 'mapped',
         '`config.eval_batches` (default: the config\'s; 0 = all)'),
    Flag('checkpoints_to_keep', 100, 'mapped',
         '`config.keep_latest` (0: keep all); the best `config.keep_best` by '
         'eval loss are kept besides (default: the config\'s)'),
    Flag('eval_dir_suffix', "''", 'mapped',
         '`--mode=eval` writes to `RUN_DIR/eval<suffix>/`'),
    Flag('log', "'INFO'", 'mapped',
         "absl's `--verbosity` (DEBUG, INFO, WARN, ERROR, FATAL); our default "
         'shows warnings and the run\'s own progress'),
    Flag('cache_dataset', True, 'warn',
         why='windows are always cached on disk and held in memory'),
    Flag('keep_checkpoint_every_n_hours', 1, 'warn',
         why='no hourly checkpoints are kept; `--config.keep_best` keeps '
         'the best by eval loss'),
    Flag('tfds_name', None, 'error',
         why='TensorFlow Datasets are not read; give --examples_path '
         '(a TFRecord of NoteSequences) or --config.train_dir (MIDI files)'),
    Flag('master', "''", 'error',
         why='there is no TensorFlow master; several hosts join with '
         'jax.distributed (docs/scaling.md)'),
    Flag('task', 0, 'error',
         why='there are no TensorFlow tasks; several hosts join with '
         'jax.distributed (docs/scaling.md)'),
    Flag('num_ps_tasks', 0, 'error',
         why='there are no parameter servers; parameters are replicated '
         'or sharded over the device mesh (--config.param_sharding)'),
    Flag('num_sync_workers', 0, 'error',
         why='there are no sync replicas; the batch is split over every '
         'device (config.batch_size is global, Magenta divides it by the '
         'workers)'),
)

BY_NAME = {f.name: f for f in FLAGS}
UNSUPPORTED = tuple(f for f in FLAGS if f.handling in ('error', 'warn'))


def _default(flag: Flag):
  """The Python value of Magenta's default (the table writes strings quoted)."""
  value = flag.magenta_default
  if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
    return value[1:-1]
  return value


def check_unsupported(values: dict[str, Any]) -> list[str]:
  """Raises TrainFlagsError for the first 'error' flag given a value other
  than Magenta's default; returns the warnings for 'warn' flags."""
  warnings = []
  for flag in UNSUPPORTED:
    if flag.name not in values or values[flag.name] == _default(flag):
      continue
    shown = f'--{flag.name}={values[flag.name]}'
    if flag.handling == 'error':
      raise TrainFlagsError(f'{shown} has no counterpart here: {flag.why}')
    warnings.append(f'{shown} is ignored: {flag.why}')
  return warnings


def resolve_workdir(workdir: str | None, run_dir: str | None) -> str:
  """The run's folder from `--workdir` or Magenta's `--run_dir` (exactly one)."""
  if workdir and run_dir:
    raise TrainFlagsError('--run_dir and --workdir name the same folder; give '
                          'one of them')
  if not (workdir or run_dir):
    raise TrainFlagsError('give --workdir (or Magenta\'s --run_dir): the folder '
                          'of the run')
  return workdir or run_dir


def apply(config, mode: str = 'train', hparams: str = '',
          examples_path: str | None = None,
          eval_examples_path: str | None = None,
          num_steps: int | None = None, checkpoints_to_keep: int | None = None,
          eval_num_batches: int | None = None,
          overrides: dict[str, Any] | None = None) -> list[Setting]:
  """Applies Magenta's flags to `config` in place, in the order of the
  module docstring; `overrides` are the `--config.X` values (re-applied
  last). Returns what was set. None means "not given"."""
  if mode not in MODES:
    raise TrainFlagsError(f'--mode={mode}: choose train or eval')
  if examples_path and mode == 'eval' and eval_examples_path:
    raise TrainFlagsError('--mode=eval reads --examples_path as the eval data; '
                          'give it or --eval_examples_path, not both')
  if checkpoints_to_keep is not None and checkpoints_to_keep < 0:
    raise TrainFlagsError(f'--checkpoints_to_keep={checkpoints_to_keep}: '
                          'must be >= 0 (0 keeps all)')
  done = hparams_lib.apply_hparams(config, hparams) if hparams else []
  flags = (('--examples_path', f'{mode}_examples_path', examples_path),
           ('--eval_examples_path', 'eval_examples_path', eval_examples_path),
           ('--num_steps', 'num_steps', num_steps),
           ('--checkpoints_to_keep', 'keep_latest',
            None if checkpoints_to_keep is None else checkpoints_to_keep or KEEP_ALL),
           ('--eval_num_batches', 'eval_batches', eval_num_batches))
  for flag, field, value in flags:
    if value is not None and value != '':
      config[field] = value
      done.append(Setting(field, value, flag))
  for field, value in (overrides or {}).items():
    taken = [s for s in done if s.field == field]
    if taken:
      done = [s for s in done if s.field != field]
      done.append(Setting(field, value, f'--config.{field}, over '
                          + ', '.join(s.source for s in taken)))
    config[field] = value
  return done


def markdown_table() -> str:
  """The flags table of docs/magenta.md."""
  lines = ['| Magenta flag | Magenta default | here |', '|---|---|---|']
  for f in FLAGS:
    if f.handling == 'mapped':
      here = f.here
    elif f.handling == 'error':
      here = f'a value other than the default is an error: {f.why}'
    else:
      here = f'ignored, with a warning when set: {f.why}'
    lines.append(f'| `--{f.name}` | `{f.magenta_default}` | {here} |')
  return '\n'.join(lines) + '\n'
