"""Where a latent map's windows come from, with progress and cancel.

* `eval_set`: the run's own eval data, exactly as training split it
  (`input_pipeline.eval_source` / `train_source`, the same window caches).
  A converted Magenta checkpoint names no data of its own (Magenta trained it
  on data that does not come with it), and neither does a pretrained model
  trained on other data: both are refused in one line instead of reading the
  built-in folk corpus, which they never saw.
* `folder`: the music files of one folder (already checked against the map
  roots), at most `max_files` of them, converted into the window cache under
  `paths.cache_root()`.
* `uploads`: the files uploaded in this session.

Each reports to a `jobs.Job` (`job.report` raises `jobs.Cancelled` when the
person cancels) and returns a `Dataset`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from musicvae_jax import config_check, input_pipeline, paths, pretrained
from musicvae_jax.data import cache, midi_io, pipeline
from musicvae_jax.studio.errors import StudioError

# Directory entries looked at while counting a folder's music files.
MAX_SCAN_ENTRIES = 200_000


@dataclasses.dataclass
class Dataset:
  windows: np.ndarray     # [N, T, ...] converter windows
  labels: list[str]       # the file of each window
  source: str             # how the page names it


def _single_worker(config):
  """A copy of `config` that converts in the calling thread (cancellable
  between files; no process pool inside the server)."""
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.num_workers = 1
  return config


def trained_here(workdir: str) -> bool:
  """True when the workdir's history shows our trainer started it (a
  converted Magenta checkpoint has no `config_history.jsonl`)."""
  if not workdir:
    return False
  return any(entry.get('event', '').startswith('start')
             for entry in config_check.read_history(workdir))


def names_data(config) -> bool:
  """True when the config names its training data (not the folk corpus default)."""
  return not pretrained.ships_eval_data(config)


def eval_set_problem(model, workdir: str) -> str:
  """Why the run's own eval set cannot be mapped ('' when it can): the start
  of a one-line message, the caller says what to do instead."""
  config = model.config
  if model.pretrained:
    if pretrained.ships_eval_data(config):
      return ''
    return pretrained.missing_data_reason(model.pretrained, model.card)
  if names_data(config) or trained_here(workdir):
    return ''
  return (f'{workdir or "this run"} names no training data of its own (a converted '
          'Magenta checkpoint: Magenta trained it on data that does not come with it)')


def _on_file(job, phase: str):
  return lambda done, total: job.report(phase, done, total)


def eval_set(model, workdir: str, job) -> Dataset:
  """The run's own eval windows (see the module docstring)."""
  problem = eval_set_problem(model, workdir)
  if problem:
    raise StudioError(f'{problem}: map a folder of MIDI files instead')
  config = _single_worker(model.config)
  converter = model.converter
  job.report('reading the eval set')

  def windows(source) -> cache.WindowSet:
    if source.kind == 'records':
      return input_pipeline.record_windows(source.path, config, converter, progress=False)
    return cache.load_or_build_windows(
        source.path, input_pipeline.default_cache_dir(config) / 'windows', converter,
        num_workers=1, fast=bool(config.get('fast_midi', False)), progress=False,
        on_file=_on_file(job, 'converting the eval set'))
  try:
    source = input_pipeline.eval_source(config)
    if source is not None:
      data = windows(source)
    else:
      train = windows(input_pipeline.train_source(config))
      data = pipeline.split_by_file(train, config.eval_fraction, config.seed)[1]
  except (ValueError, OSError) as error:  # NoWindowsError, unreadable folders
    raise StudioError(f'the eval set: {error}') from None
  source = "the model's eval tunes" if model.pretrained else "the run's eval set"
  return Dataset(np.asarray(data.windows), [data.files[i] for i in data.file_ids], source)


def count_music_files(folder: Path, limit: int, job) -> int:
  """Music files below `folder`; StudioError as soon as there are more than
  `limit` (or the folder is too large to look through)."""
  count = entries = 0
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    entries += len(dirs) + len(files)
    count += sum(name.lower().endswith(midi_io.SUFFIXES) for name in files)
    if count > limit:
      raise StudioError(
          f'{folder}: more than {limit} music files; map a smaller folder (or start '
          f'the studio with --map_max_files={max(limit * 2, count)})')
    if entries > MAX_SCAN_ENTRIES:
      raise StudioError(f'{folder}: over {MAX_SCAN_ENTRIES} files and folders to look '
                        'through; map a smaller folder')
    job.report('listing files', count, 0)
  return count


def folder(model, path: Path, max_files: int, job) -> Dataset:
  """The windows of the music files below `path` (see the module docstring)."""
  count = count_music_files(path, max_files, job)
  if not count:
    raise StudioError(f'{path}: no MIDI, ABC or MusicXML files')
  config = model.config
  try:
    data = cache.load_or_build_windows(
        path, paths.cache_root() / 'windows', model.converter, num_workers=1,
        fast=bool(config.get('fast_midi', False)), progress=False,
        on_file=_on_file(job, 'converting files'))
  except (ValueError, OSError) as error:
    raise StudioError(str(error)) from None
  return Dataset(np.asarray(data.windows), [data.files[i] for i in data.file_ids], str(path))


def uploads(model, items, job) -> Dataset:
  """The windows of uploaded files: `items` are (name, NoteSequence)."""
  windows, labels = [], []
  for done, (name, ns) in enumerate(items):
    job.report('reading uploads', done, len(items))
    try:
      found = model.converter.all_windows(ns)
    except Exception:  # a file the converter cannot read adds nothing
      continue
    windows.extend(found)
    labels.extend([name] * len(found))
  if not windows:
    raise StudioError('the uploaded files give no windows (upload some MIDI first)')
  return Dataset(np.stack(windows), labels, 'your uploads')
