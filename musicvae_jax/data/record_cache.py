"""TFRecord files of NoteSequences (Magenta's `--examples_path`) -> windows,
converted once and cached.

Magenta trains from TFRecords of serialized `note_seq` NoteSequence protos
(`convert_dir_to_note_sequences`). Each record is one NoteSequence and plays
the part a music file plays in `cache.py`: it is converted with the family's
converter (`converter.all_windows`), skipped with a reason when it gives no
windows, and `max_windows_per_sequence` and the held-out eval share count per
record (Magenta's `max_tensors_per_notesequence` is per NoteSequence too).

One cache per (content of the files, converter fingerprint):

  <cache_root>/<stem of the first file>-<content key>-<fingerprint key>/
    manifest.json   fingerprint, the files (path, size), per record:
                    name (`FILE#INDEX`), status, reason, number of windows
    windows.npy     every used record's distinct windows, int16 [N, T, K]
                    (the converter's `window_dtype`)
    record_ids.npy  int32 [N], the record (index into the manifest's list)
    summary.json    as cache.py's

The key is the SHA-256 of the files' bytes (read once per start), so a
rewritten file is converted again whatever its timestamps, and a moved one is
not. A corrupted or truncated file stops the conversion with one line naming
the file and the record (`tfrecord.TFRecordError`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError
from note_seq.protobuf import music_pb2

from musicvae_jax.data import cache, midi_io, tfrecord
from musicvae_jax.data.converter_base import time_signatures_of

MANIFEST = 'manifest.json'


def content_key(paths: list[Path]) -> str:
  """SHA-256 of the files' bytes, in order (16 hex digits)."""
  digest = hashlib.sha256()
  for path in paths:
    with open(path, 'rb') as f:
      digest.update(hashlib.file_digest(f, 'sha256').digest())
  return digest.hexdigest()[:16]


def read_note_sequence(f, path: Path, span: tfrecord.RecordSpan) -> music_pb2.NoteSequence:
  """Record `span` of the open TFRecord `f` as a NoteSequence (TFRecordError
  naming the file and record when it is damaged or not a NoteSequence)."""
  data = tfrecord.read_span(f, path, span)
  try:
    return music_pb2.NoteSequence.FromString(data)
  except DecodeError as error:
    raise tfrecord.TFRecordError(
        f'{path}: record {span.index}: not a NoteSequence ({error}); '
        '--examples_path takes TFRecords of NoteSequences') from None


def _convert_record(job) -> tuple[int, str, str, np.ndarray | None]:
  """Worker: (position, status, reason, windows) of one record."""
  position, path, span, converter = job
  with open(path, 'rb') as f:
    ns = read_note_sequence(f, Path(path), span)
  status, reason, windows = cache.convert_guarded(
      lambda: [converter.all_windows(midi_io.check_sequence(ns))], converter)
  skipped = converter.skipped_meters(time_signatures_of(ns))
  return position, status, cache.meter_reason(status, reason, skipped, converter), windows


def cache_folder(paths: list[Path], cache_root: Path, converter) -> Path:
  fingerprint = json.dumps(converter.fingerprint(), sort_keys=True)
  fingerprint_key = hashlib.sha1(fingerprint.encode()).hexdigest()[:16]
  return cache_root / f'{paths[0].stem}-{content_key(paths)}-{fingerprint_key}'


def build(paths: list[Path], cache_root: str | Path, converter,
          num_workers: int = 0, progress: bool = True) -> Path:
  """Converts the records of `paths` unless their cache exists; returns it."""
  cache_root = Path(cache_root).expanduser()
  folder = cache_folder(paths, cache_root, converter)
  fingerprint = converter.fingerprint()
  if (folder / MANIFEST).exists():
    if json.loads((folder / MANIFEST).read_text()).get('fingerprint') == fingerprint:
      return folder
    shutil.rmtree(folder)
  jobs, names = [], []
  for path in paths:
    for span in tfrecord.index_records(path):
      jobs.append((len(jobs), str(path), span, converter))
      names.append(f'{path.name}#{span.index}')
  results = sorted(cache.run_jobs(jobs, num_workers, progress,
                                  worker=_convert_record, unit='sequence'),
                   key=lambda r: r[0])
  records, arrays, ids = [], [], []
  for (position, status, reason, windows), name in zip(results, names):
    records.append({'name': name, 'status': status, 'reason': reason,
                    'windows': 0 if windows is None else int(len(windows))})
    if windows is not None:
      arrays.append(windows.astype(converter.window_dtype))
      ids.append(np.full(len(windows), position, np.int32))
  tmp = folder.with_name(f'{folder.name}.tmp-{os.getpid()}')
  tmp.mkdir(parents=True, exist_ok=True)
  if arrays:
    np.save(tmp / 'windows.npy', np.concatenate(arrays), allow_pickle=False)
    np.save(tmp / 'record_ids.npy', np.concatenate(ids), allow_pickle=False)
  manifest = {'fingerprint': fingerprint, 'records': records,
              'files': [{'path': str(p.absolute()), 'size': p.stat().st_size}
                        for p in paths]}
  (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
  try:
    tmp.rename(folder)
  except OSError:  # another process built the same cache meanwhile
    shutil.rmtree(tmp, ignore_errors=True)
  return folder


def read(folder: Path, where: str, keep_duplicates: bool = False) -> cache.WindowSet:
  """The WindowSet of a built cache; records play the part of files."""
  manifest = json.loads((folder / MANIFEST).read_text())
  names = [r['name'] for r in manifest['records']]
  skipped = {r['name']: r['reason'] for r in manifest['records'] if r['status'] != 'ok'}
  arrays, ids = [], []
  if (folder / 'windows.npy').exists():
    arrays = [np.load(folder / 'windows.npy', allow_pickle=False)]
    ids = [np.load(folder / 'record_ids.npy', allow_pickle=False)]
  return cache.assemble(names, arrays, ids, skipped, where, keep_duplicates)


def load_or_build_windows(spec: str, cache_root: str | Path, converter,
                          num_workers: int = 0,
                          progress: bool = True) -> cache.WindowSet:
  """The windows of the TFRecord(s) `spec` (a path, glob or comma list, see
  `tfrecord.expand_paths`) for `converter`, converting once."""
  paths = tfrecord.expand_paths(spec)
  folder = build(paths, cache_root, converter, num_workers, progress)
  windows = read(folder, spec, converter.keep_duplicates)
  windows.summary['cache_folder'] = str(folder)
  (folder / 'summary.json').write_text(json.dumps(windows.summary, indent=1))
  return windows
