"""Files -> NoteSequences. Never raises on bad input except `BadInputError`.

Two MIDI readers build the same NoteSequence:
  * `fast=False`: note_seq's `midi_file_to_note_sequence` (pretty_midi, pure
    Python; the reference);
  * `fast=True`: the `symusic` C++ parser, with ticks turned into seconds the
    way pretty_midi does it (tempo map of the first track, float64).
ABC and MusicXML go through music21 (`music21_io`).
"""

from __future__ import annotations

import os
from pathlib import Path

import note_seq
import numpy as np
from note_seq.protobuf import music_pb2

from musicvae_jax.data.errors import BadInputError

MIDI_SUFFIXES = ('.mid', '.midi')
MUSIC21_SUFFIXES = ('.abc', '.xml', '.musicxml', '.mxl')
SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES
# A file longer than this (seconds) is refused: it is almost surely corrupt
# and would make quantisation allocate without bound.
MAX_SECONDS = 4 * 3600.0

__all__ = ['BadInputError', 'find_files', 'load_note_sequences', 'load_note_sequence']


def find_files(folder: str | Path) -> list[Path]:
  """Music files below `folder` (recursive, suffix case-insensitive), sorted."""
  folder = Path(folder).expanduser()
  if not folder.is_dir():
    raise FileNotFoundError(f'{folder} is not a folder')
  found = []
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    for name in files:
      if name.lower().endswith(SUFFIXES):
        found.append(Path(root) / name)
  return sorted(found)


def _check_file(path: Path) -> None:
  if path.is_dir():
    raise BadInputError('is a directory')
  if not os.access(path, os.R_OK):
    raise BadInputError('not readable (permissions)')
  size = path.stat().st_size
  if size == 0:
    raise BadInputError('empty file')


def _check_sequence(ns: music_pb2.NoteSequence) -> music_pb2.NoteSequence:
  if not ns.notes:
    raise BadInputError('no notes')
  if ns.total_time > MAX_SECONDS:
    raise BadInputError(f'lasts {ns.total_time:.0f} s (over {MAX_SECONDS:.0f} s)')
  return ns


def load_note_sequences(path: str | Path, fast: bool = True) -> list[music_pb2.NoteSequence]:
  """All sequences of a file (an ABC file may hold many tunes)."""
  path = Path(path)
  _check_file(path)
  if path.suffix.lower() in MUSIC21_SUFFIXES:
    from musicvae_jax.data import music21_io
    return [_check_sequence(ns) for ns in music21_io.load_music21_tunes(path)]
  return [load_note_sequence(path, fast)]


def load_note_sequence(path: str | Path, fast: bool = True) -> music_pb2.NoteSequence:
  """One MIDI file as a NoteSequence, or BadInputError with the reason."""
  path = Path(path)
  _check_file(path)
  if path.suffix.lower() in MUSIC21_SUFFIXES:
    return load_note_sequences(path)[0]
  with open(path, 'rb') as f:
    head = f.read(4)
  if head != b'MThd':
    raise BadInputError('not a MIDI file (no MThd header)')
  try:
    ns = _read_symusic(path) if fast else _read_note_seq(path)
  except BadInputError:
    raise
  except Exception as error:  # parsers raise anything on corrupt bytes
    raise BadInputError(f'unreadable MIDI: {type(error).__name__}: {error}'[:200]) from None
  ns.filename = path.name
  return _check_sequence(ns)


def _read_note_seq(path: Path) -> music_pb2.NoteSequence:
  return note_seq.midi_file_to_note_sequence(str(path))


def _tick_to_seconds(tpq: int, tempo_ticks: np.ndarray, tempo_mspq: np.ndarray):
  """A function ticks -> seconds from a tempo map (pretty_midi's arithmetic)."""
  if len(tempo_ticks) == 0 or tempo_ticks[0] != 0:
    tempo_ticks = np.concatenate([[0], tempo_ticks])
    tempo_mspq = np.concatenate([[500000], tempo_mspq])
  scales = 60.0 / ((6e7 / tempo_mspq) * tpq)         # seconds per tick
  # Seconds at each tempo change.
  starts = np.concatenate([[0.0], np.cumsum(np.diff(tempo_ticks) * scales[:-1])])

  def convert(ticks: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(tempo_ticks, ticks, side='right') - 1
    return starts[idx] + (ticks - tempo_ticks[idx]) * scales[idx]

  return convert


def _read_symusic(path: Path) -> music_pb2.NoteSequence:
  import symusic
  score = symusic.Score(str(path), ttype='tick')
  tempos = score.tempos.numpy()
  t_ticks = tempos['time'].astype(np.int64)
  t_mspq = tempos['mspq'].astype(np.float64)
  # pretty_midi keeps the first of several tempo events on one tick... and
  # symusic keeps them all: keep the last one per tick, as pretty_midi does.
  if len(t_ticks):
    last = np.append(t_ticks[1:] != t_ticks[:-1], True)
    t_ticks, t_mspq = t_ticks[last], t_mspq[last]
  to_sec = _tick_to_seconds(score.ticks_per_quarter, t_ticks, t_mspq)

  ns = music_pb2.NoteSequence()
  ns.ticks_per_quarter = score.ticks_per_quarter
  ns.source_info.parser = music_pb2.NoteSequence.SourceInfo.PRETTY_MIDI
  ns.source_info.encoding_type = music_pb2.NoteSequence.SourceInfo.MIDI
  for tick, mspq in zip(t_ticks, t_mspq):
    ns.tempos.add(time=float(to_sec(np.array([tick]))[0]), qpm=6e7 / mspq)
  for sig in score.time_signatures:
    ns.time_signatures.add(time=float(to_sec(np.array([sig.time]))[0]),
                           numerator=sig.numerator, denominator=sig.denominator)
  total = 0.0
  for index, track in enumerate(score.tracks):
    notes = track.notes.numpy()
    if len(notes['time']) == 0:
      continue
    start = to_sec(notes['time'].astype(np.int64))
    end = to_sec((notes['time'] + notes['duration']).astype(np.int64))
    for s, e, p, v in zip(start, end, notes['pitch'], notes['velocity']):
      ns.notes.add(pitch=int(p), velocity=int(v), start_time=float(s),
                   end_time=float(e), instrument=index, program=track.program,
                   is_drum=track.is_drum)
    total = max(total, float(end.max()))
  ns.total_time = total
  return ns
