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

from pathlib import Path
from typing import Any

from tensorboardX.proto import event_pb2  # the trainer's writer's events; no TensorFlow

from musicvae_jax import config_check
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
