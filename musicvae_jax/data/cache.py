"""On-disk window cache: a folder of music -> windows, converted once.

Layout of one cache (per input folder and converter fingerprint):
  manifest.json       fingerprint, and per file: size, mtime, status, reason,
                      number of windows
  files/<key>.npy     the file's distinct windows, int16 [n, T, K] (or the
                      converter's `window_dtype`: GrooVAE float32 [n, T, 27])
  summary.json        files seen / used / skipped (with reasons), windows,
                      duplicates removed, and per file the stretches in
                      meters the converter does not read ({'3/4': 2})

A rerun converts only new or changed files (size or mtime differ) and forgets
deleted ones. A cache whose fingerprint differs from the converter's is
rebuilt, never reused. Arrays are plain `.npy` (no pickle).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from musicvae_jax import meters
from musicvae_jax.data import midi_io
from musicvae_jax.data.converter_base import time_signatures_of

MANIFEST = 'manifest.json'


@dataclasses.dataclass
class WindowSet:
  """Windows of a folder, deduplicated across it."""

  windows: np.ndarray        # int16 [N, T, K]
  file_ids: np.ndarray       # int32 [N], index into `files`
  files: list[str]           # relative paths
  summary: dict[str, Any]

  def __len__(self) -> int:
    return len(self.windows)

  def subset(self, file_mask: np.ndarray) -> 'WindowSet':
    keep = file_mask[self.file_ids]
    return WindowSet(self.windows[keep], self.file_ids[keep], self.files,
                     self.summary)


class NoWindowsError(ValueError):
  """A folder gave no windows at all."""


def _key(text: str) -> str:
  return hashlib.sha1(text.encode()).hexdigest()[:16]


def cache_folder(input_dir: Path, cache_root: Path, converter) -> Path:
  fingerprint = json.dumps(converter.fingerprint(), sort_keys=True)
  return cache_root / f'{input_dir.name}-{_key(str(input_dir))}-{_key(fingerprint)}'


def _convert_one(job: tuple[str, str, Any, bool]
                 ) -> tuple[str, str, str, np.ndarray | None, dict[str, int]]:
  """Worker: (relpath, status 'ok'|'skipped', reason, windows, skipped
  meters {'3/4': stretches}). The job carries the converter itself (pickled
  to spawned workers)."""
  path, rel, converter, fast = job
  # Some converters need what only note_seq's reader keeps (sustain pedal).
  fast = fast and not converter.note_seq_reader_only
  skipped: dict[str, int] = {}

  def count(signatures) -> None:
    for name, n in converter.skipped_meters(signatures).items():
      skipped[name] = skipped.get(name, 0) + n

  def windows():
    out = []
    if fast and converter.reads_note_arrays:
      for arrays in midi_io.load_note_arrays(path):
        count(arrays.signatures())
        out.append(converter.fast_windows(arrays))
      return out
    for ns in midi_io.load_note_sequences(path, fast=fast):
      count(time_signatures_of(ns))
      out.append(converter.all_windows(ns))
    return out
  status, reason, found = convert_guarded(windows, converter)
  return rel, status, meter_reason(status, reason, skipped, converter), found, skipped


def meter_reason(status: str, reason: str, skipped: dict[str, int], converter) -> str:
  """A file that gave no windows and has stretches in meters the converter
  does not read is skipped for its meter(s), named: "meter 3/4 not read
  (config.meter='4/4')"; any other reason stands."""
  if status == 'skipped' and reason == 'no windows' and skipped:
    return meters.skip_reason(skipped, converter.meter)
  return reason


def convert_guarded(make_windows, converter) -> tuple[str, str, np.ndarray | None]:
  """(status 'ok'|'skipped', reason, windows `[n, T, K]`) of `make_windows()`, a
  list of window arrays: bad input and converter failures become 'skipped'
  with the reason; windows are made distinct unless the converter keeps
  duplicates."""
  try:
    found = make_windows()
    windows = np.concatenate(found) if found else np.zeros((0,), np.int16)
  except midi_io.BadInputError as error:
    return 'skipped', str(error), None
  except Exception as error:  # a converter bug on odd data must not stop a run
    return 'skipped', f'conversion failed: {type(error).__name__}: {error}'[:200], None
  if len(windows) == 0:
    return 'skipped', 'no windows', None
  return 'ok', '', windows if converter.keep_duplicates else _dedupe_rows(windows)


def _dedupe_rows(windows: np.ndarray) -> np.ndarray:
  """Distinct windows in order of first appearance."""
  flat = windows.reshape(len(windows), -1)
  _, first = np.unique(flat, axis=0, return_index=True)
  return windows[np.sort(first)]


def _stat(path: Path) -> dict[str, int]:
  st = path.stat()
  return {'size': st.st_size, 'mtime_ns': st.st_mtime_ns}


def build_cache(input_dir: str | Path, cache_root: str | Path, converter,
                num_workers: int = 0, fast: bool = False,
                progress: bool = True, on_file=None) -> Path:
  """Converts new or changed files of `input_dir` into the cache; returns it.

  `on_file(done, total)` (optional) is called before the first conversion and
  after each one; an exception it raises (e.g. the studio's cancel) stops the
  conversion: files done so far stay in the cache, the others are converted
  next time.
  """
  input_dir = Path(input_dir).expanduser().absolute()
  folder = cache_folder(input_dir, Path(cache_root).expanduser(), converter)
  fingerprint = converter.fingerprint()
  manifest_path = folder / MANIFEST
  manifest = {'fingerprint': fingerprint, 'files': {}}
  if manifest_path.exists():
    old = json.loads(manifest_path.read_text())
    if old.get('fingerprint') == fingerprint:
      manifest = old
    else:  # settings changed: never reuse
      shutil.rmtree(folder)
  (folder / 'files').mkdir(parents=True, exist_ok=True)

  paths = _list_inputs(input_dir)
  current = {str(p.relative_to(input_dir)): p for p in paths}
  for rel in list(manifest['files']):
    if rel not in current:
      _forget(folder, manifest, rel)
  jobs = []
  for rel, path in current.items():
    try:
      stat = _stat(path)
    except OSError as error:
      manifest['files'][rel] = {'status': 'skipped', 'reason': f'unreadable: {error}'}
      continue
    entry = manifest['files'].get(rel)
    if entry and entry.get('size') == stat['size'] and entry.get('mtime_ns') == stat['mtime_ns']:
      continue
    jobs.append((str(path), rel, converter, fast))
    manifest['files'][rel] = {**stat, 'status': 'pending'}

  try:
    if on_file is not None:
      on_file(0, len(jobs))
    for done, (rel, status, reason, windows, skipped_meters) in enumerate(
        run_jobs(jobs, num_workers, progress), 1):
      entry = manifest['files'][rel]
      entry.update(status=status, reason=reason,
                   windows=0 if windows is None else int(len(windows)))
      entry.pop('skipped_meters', None)
      if skipped_meters:
        entry['skipped_meters'] = skipped_meters
      target = folder / 'files' / f'{_key(rel)}.npy'
      if windows is not None:
        np.save(target, windows.astype(converter.window_dtype),
                allow_pickle=False)
      elif target.exists():
        target.unlink()
      if on_file is not None:
        on_file(done, len(jobs))
  finally:  # stopped early: forget the files not converted yet
    for rel in [r for r, e in manifest['files'].items() if e.get('status') == 'pending']:
      del manifest['files'][rel]
    tmp = manifest_path.with_suffix('.tmp')
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(manifest_path)
  return folder


def _list_inputs(input_dir: Path) -> list[Path]:
  """Music files, and also directories named like one (reported as skipped)."""
  return midi_io.find_files(input_dir) + sorted(
      p for p in input_dir.rglob('*') if p.is_dir() and p.name.lower().endswith(midi_io.SUFFIXES))


def _forget(folder: Path, manifest: dict, rel: str) -> None:
  manifest['files'].pop(rel, None)
  target = folder / 'files' / f'{_key(rel)}.npy'
  if target.exists():
    target.unlink()


def run_jobs(jobs, num_workers: int, progress: bool, worker=None,
             unit: str = 'file'):
  """`worker(job)` (default: a music file's conversion) for each job, in
  `num_workers` spawned processes (0: one per core), results in any order,
  with a progress bar."""
  if not jobs:
    return
  worker = worker or _convert_one
  from tqdm.auto import tqdm
  workers = num_workers or os.cpu_count() or 1
  bar = tqdm(total=len(jobs), unit=unit, desc='converting', disable=not progress,
             mininterval=1.0)
  try:
    if workers == 1 or len(jobs) < 4:
      for job in jobs:
        yield worker(job)
        bar.update()
    else:
      ctx = multiprocessing.get_context('spawn')  # safe beside JAX threads
      with ctx.Pool(workers) as pool:
        for result in pool.imap_unordered(worker, jobs, chunksize=4):
          yield result
          bar.update()
  finally:
    bar.close()


def read_cache(folder: Path, input_dir: str, keep_duplicates: bool = False) -> WindowSet:
  """Loads a built cache, deduplicating windows across the whole folder
  (unless `keep_duplicates`: Magenta's multitrack converter keeps repeats)."""
  manifest = json.loads((folder / MANIFEST).read_text())
  files = sorted(manifest['files'])
  arrays, ids, skipped, meter_skips = [], [], {}, {}
  for index, rel in enumerate(files):
    entry = manifest['files'][rel]
    if entry.get('skipped_meters'):
      meter_skips[rel] = entry['skipped_meters']
    if entry['status'] != 'ok':
      skipped[rel] = entry.get('reason', '')
      continue
    windows = np.load(folder / 'files' / f'{_key(rel)}.npy', allow_pickle=False)
    arrays.append(windows)
    ids.append(np.full(len(windows), index, np.int32))
  return assemble(files, arrays, ids, skipped, input_dir, keep_duplicates,
                  meter_skips)


def assemble(files: list[str], arrays: list[np.ndarray], ids: list[np.ndarray],
             skipped: dict[str, str], input_dir: str,
             keep_duplicates: bool = False,
             meter_skips: dict[str, dict[str, int]] | None = None) -> WindowSet:
  """One WindowSet from each used file's windows `[n, T, K]` and file ids
  `[n]` (indices into `files`), distinct across files unless
  `keep_duplicates`; NoWindowsError naming `input_dir` when none.

  `meter_skips` (file -> {meter: stretches}) are the stretches of each file
  in meters the converter does not read, whether or not the file gave other
  windows: the summary keeps them per file and counts files per meter."""
  meter_skips = meter_skips or {}
  if not arrays:
    raise NoWindowsError(
        f'{input_dir} gave no windows: {len(files)} files seen, {len(skipped)} '
        f'skipped ({_reason_counts(skipped)})')
  windows = np.concatenate(arrays)
  file_ids = np.concatenate(ids)
  flat = windows.reshape(len(windows), -1)
  _, first = np.unique(flat, axis=0, return_index=True)
  keep = np.arange(len(windows)) if keep_duplicates else np.sort(first)
  summary = {
      'input_dir': str(input_dir),
      'files_seen': len(files),
      'files_used': len(files) - len(skipped),
      'files_skipped': len(skipped),
      'skipped': skipped,
      'skip_reasons': _reason_counts(skipped),
      'skipped_meters': meter_skips,
      'skipped_meter_files': meter_file_counts(meter_skips),
      'windows_extracted': int(len(windows)),
      'duplicates_removed': int(len(windows) - len(keep)),
      'windows': int(len(keep)),
  }
  return WindowSet(windows[keep], file_ids[keep], files, summary)


def meter_file_counts(meter_skips: dict[str, dict[str, int]]) -> dict[str, int]:
  """Files with a stretch in each skipped meter: {'3/4': 12, '6/8': 3}."""
  counts: dict[str, int] = {}
  for per_file in meter_skips.values():
    for name in per_file:
      counts[name] = counts.get(name, 0) + 1
  return dict(sorted(counts.items()))


def _reason_counts(skipped: dict[str, str]) -> dict[str, int]:
  counts: dict[str, int] = {}
  for reason in skipped.values():
    short = reason.split(':')[0]
    counts[short] = counts.get(short, 0) + 1
  return counts


def load_or_build_windows(input_dir: str | Path, cache_root: str | Path, converter,
                          num_workers: int = 0, fast: bool = False,
                          progress: bool = True, on_file=None) -> WindowSet:
  """The windows of a folder for `converter` (the family's, see
  `family.Family.make_converter`), converting what the cache lacks; `fast`
  reads MIDI with the fast parser (config.fast_midi); `on_file` as in
  `build_cache`."""
  folder = build_cache(input_dir, cache_root, converter, num_workers, fast, progress,
                       on_file)
  windows = read_cache(folder, str(input_dir),
                       converter.keep_duplicates)
  windows.summary['cache_folder'] = str(folder)
  (folder / 'summary.json').write_text(json.dumps(windows.summary, indent=1))
  return windows
