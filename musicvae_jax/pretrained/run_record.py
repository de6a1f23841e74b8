"""What a training run recorded about itself, for a pretrained model's card.

The trainer writes, in its workdir:

  config_history.jsonl   one line per start / resume: time, step and (since
                         2026-12) `machine`, `startup.machine_summary()`
  tensorboard/events.*   one event file per start or resume; every event
                         carries its wall time and step

Training wall time is the sum, over the event files, of the time between
their first and last event up to the exported step (gaps between a stop and
a resume do not count; evaluation and checkpointing do).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import ml_collections
from tensorboardX.proto import event_pb2  # the trainer's writer's events; no TensorFlow

from musicvae_jax import config_check, config_files
from musicvae_jax.data import tfrecord


def _event_times(path: Path, step: int) -> list[float]:
  """Wall times of the events of one file at steps <= `step`."""
  times = []
  # A killed run's last event may be cut short; TensorBoard skips it too.
  for record in tfrecord.read_records(path, stop_at_truncated_end=True):
    event = event_pb2.Event.FromString(record)
    if event.step <= step and event.wall_time:
      times.append(event.wall_time)
  return times


def wall_seconds(workdir: str | Path, step: int) -> float | None:
  """Seconds of training up to `step` (None without event files)."""
  files = sorted((Path(workdir) / 'tensorboard').glob('events.out.tfevents.*'))
  if not files:
    return None
  total = 0.0
  for path in files:
    times = _event_times(path, step)
    if times:
      total += max(times) - min(times)
  return total


def machines(workdir: str | Path) -> list[str]:
  """The machines config_history.jsonl records, in order, each once."""
  found = [e['machine'] for e in config_check.read_history(workdir) if e.get('machine')]
  return list(dict.fromkeys(found))


def describe_seconds(seconds: float | None) -> str:
  """'2 h 05 min', '14 min 03 s', '42 s' (or 'not recorded')."""
  if seconds is None:
    return 'not recorded'
  seconds = int(round(seconds))
  if seconds >= 3600:
    return f'{seconds // 3600} h {seconds % 3600 // 60:02d} min'
  if seconds >= 60:
    return f'{seconds // 60} min {seconds % 60:02d} s'
  return f'{seconds} s'


def read(workdir: str | Path, step: int) -> dict[str, Any]:
  """The card's `training` record of a run exported at `step`."""
  history = config_check.read_history(workdir)
  seconds = wall_seconds(workdir, step)
  return {
      'steps': int(step),
      'wall_time_seconds': None if seconds is None else round(seconds, 1),
      'wall_time': describe_seconds(seconds),
      'machine': '; '.join(machines(workdir)),
      'started': history[0]['time'] if history else '',
      'resumes': sum(1 for e in history if e.get('event') == 'resume'),
  }


# Fields that say where a run's files were, not how it trained.
_MACHINE_FIELDS = ('cache_dir', 'train_dir', 'eval_dir', 'train_examples_path',
                   'eval_examples_path', 'ckpt_path')


def _flat(config: ml_collections.ConfigDict) -> dict[str, Any]:
  return dict(ml_collections.ConfigDict(config).to_dict().items())


def _flag_value(value: Any) -> str:
  if isinstance(value, (list, tuple)):
    inner = ', '.join(_flag_value(v) for v in value)
    return f'({inner},)' if len(value) == 1 else f'({inner})'
  return repr(value) if isinstance(value, str) and not value else str(value)


def training_overrides(config: ml_collections.ConfigDict, spec: str,
                       steps: int) -> list[str]:
  """`--config.X=V` flags that turn config `spec` (e.g. 'mel_2bar:cpu') into
  the run's `config`, training for `steps` (data folders left out: they are
  the training machine's)."""
  base = _flat(config_files.load(spec))
  run = {**_flat(config), 'num_steps': int(steps)}
  flags = []
  for key, value in run.items():
    if key in _MACHINE_FIELDS or base.get(key) == value:
      continue
    if isinstance(base.get(key), tuple) and tuple(value) == base[key]:
      continue
    flags.append(f'--config.{key}={shlex.quote(_flag_value(value))}')
  return flags


def training_command(config: ml_collections.ConfigDict, spec: str, steps: int,
                     workdir: str) -> str:
  """The `musicvae_jax.train` command that trains this run again."""
  return ' '.join(['python -m musicvae_jax.train', f'--config={spec}',
                   f'--workdir={workdir}', *training_overrides(config, spec, steps)])
