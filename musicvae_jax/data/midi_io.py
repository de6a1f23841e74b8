"""Files -> NoteSequences. Never raises on bad input except `BadInputError`.

Two MIDI readers build the same NoteSequence:
  * `fast=False`: note_seq's `midi_file_to_note_sequence` (pretty_midi on mido,
    pure Python; the reference);
  * `fast=True`: `midi_parse.parse_midi`, a numba-compiled byte scanner that
    reproduces pretty_midi's rules exactly (tests compare both on every LMD
    file). `load_note_arrays` gives its result without building protobufs,
    for `MelodyConverter.fast_windows`.
symusic's parser was tried first: it merges and pairs notes differently from
pretty_midi (instrument splitting, note-off pairing, tempo events of every
track), which changed the windows of about a third of the LMD files.
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

__all__ = ['BadInputError', 'check_sequence', 'find_files', 'load_note_sequences',
           'load_note_sequence', 'load_note_arrays']


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
  if not path.exists():
    raise BadInputError('no such file')
  if path.is_dir():
    raise BadInputError('is a directory')
  if not os.access(path, os.R_OK):
    raise BadInputError('not readable (permissions)')
  size = path.stat().st_size
  if size == 0:
    raise BadInputError('empty file')


def check_sequence(ns):
  """Refuses a NoteSequence (or NoteArrays) with no notes or absurd length."""
  if not len(ns.notes if hasattr(ns, 'notes') else ns):
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
    return [check_sequence(ns) for ns in music21_io.load_music21_tunes(path)]
  return [load_note_sequence(path, fast)]


def load_note_sequence(path: str | Path, fast: bool = True) -> music_pb2.NoteSequence:
  """One MIDI file as a NoteSequence, or BadInputError with the reason."""
  path = Path(path)
  _check_file(path)
  if path.suffix.lower() in MUSIC21_SUFFIXES:
    return load_note_sequences(path)[0]
  if fast:
    ns = load_note_arrays(path)[0].to_note_sequence()
    ns.filename = path.name
    return ns
  with open(path, 'rb') as f:
    head = f.read(4)
  if head != b'MThd':
    raise BadInputError('not a MIDI file (no MThd header)')
  _check_division(path)
  try:
    ns = _read_note_seq(path)
  except BadInputError:
    raise
  except Exception as error:  # parsers raise anything on corrupt bytes
    raise BadInputError(f'unreadable MIDI: {type(error).__name__}: {error}'[:200]) from None
  ns.filename = path.name
  return check_sequence(ns)


def load_note_arrays(path: str | Path, fast: bool = True) -> list:
  """All sequences of a file as `midi_parse.NoteArrays` (the fast path).

  MIDI goes through `midi_parse.parse_midi` (with `fast=False`, through
  note_seq); ABC / MusicXML through music21. BadInputError with the reason.
  """
  from musicvae_jax.data.midi_parse import NoteArrays, parse_midi
  path = Path(path)
  _check_file(path)
  if path.suffix.lower() in MUSIC21_SUFFIXES or not fast:
    return [NoteArrays.from_note_sequence(ns) for ns in load_note_sequences(path, fast=False)]
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as error:
    raise BadInputError(f'unreadable: {error}') from None
  arrays = parse_midi(data)
  check_sequence(arrays)
  return [arrays]


def _check_division(path: Path) -> None:
  """SMPTE (negative) or zero time division: refused by both readers alike."""
  with open(path, 'rb') as f:
    head = f.read(14)
  if len(head) == 14:
    division = int.from_bytes(head[12:14], 'big', signed=True)
    if division <= 0:
      raise BadInputError(f'unsupported time division {division} (SMPTE or zero)')


def _read_note_seq(path: Path) -> music_pb2.NoteSequence:
  return note_seq.midi_file_to_note_sequence(str(path))
