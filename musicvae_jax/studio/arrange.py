"""Tempo and transpose: how a result is played and saved, not what it is.

The page's tempo (beats per minute) and transpose (semitones) controls ask
for every WAV, MIDI file and piano roll with `?bpm=...&transpose=...`; the
server applies them here, so what is heard, what is downloaded and what a
recipe rebuilds (`reproduce`) are the same notes. Transpose moves pitched
notes only (drums keep their kit pieces); a note moved outside MIDI's 0..127
goes an octave back in. The result keeps its length in bars: at a new tempo
every time (notes, tempo and meter changes, the total time) is scaled.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

from musicvae_jax.studio.errors import StudioError

MIN_BPM, MAX_BPM = 20.0, 300.0
MAX_TRANSPOSE = 24


@dataclasses.dataclass(frozen=True)
class Arrangement:
  """`bpm`: the first tempo to play at (None: the result's own); `transpose`:
  semitones up (down when negative) for pitched notes."""
  bpm: float | None = None
  transpose: int = 0

  @property
  def plain(self) -> bool:
    return self.bpm is None and self.transpose == 0

  def key(self) -> tuple:
    """Part of a media cache key (equal arrangements share rendered bytes)."""
    return (None if self.bpm is None else round(self.bpm, 3), self.transpose)

  def as_json(self) -> dict:
    """For a recipe ('playback'); empty when plain."""
    out = {}
    if self.bpm is not None:
      out['bpm'] = self.bpm
    if self.transpose:
      out['transpose'] = self.transpose
    return out


PLAIN = Arrangement()


def _bpm(value) -> float | None:
  if value in (None, ''):
    return None
  try:
    bpm = float(value)
  except (TypeError, ValueError):
    bpm = math.nan
  if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
    raise StudioError(f'tempo {value!r}: choose {MIN_BPM:g} to {MAX_BPM:g} beats per minute')
  return bpm


def _transpose(value) -> int:
  if value in (None, ''):
    return 0
  try:
    number = float(value)
  except (TypeError, ValueError):
    number = math.nan
  if not (math.isfinite(number) and number == int(number) and abs(number) <= MAX_TRANSPOSE):
    raise StudioError(f'transpose {value!r}: choose a whole number of semitones from '
                      f'-{MAX_TRANSPOSE} to {MAX_TRANSPOSE}')
  return int(number)


def parse(fields: Mapping) -> Arrangement:
  """The arrangement named by `fields` ('bpm', 'transpose': a query string or
  a recipe's 'playback'); one-line StudioError for values out of range."""
  return Arrangement(_bpm(fields.get('bpm')), _transpose(fields.get('transpose')))


def first_qpm(ns) -> float:
  """The tempo `ns` starts at (120 when it names none)."""
  return ns.tempos[0].qpm if ns.tempos and ns.tempos[0].qpm > 0 else 120.0


def shift_pitch(pitch: int, semitones: int) -> int:
  """`pitch + semitones`, moved by octaves back into 0..127."""
  pitch += semitones
  while pitch > 127:
    pitch -= 12
  while pitch < 0:
    pitch += 12
  return pitch


def apply(ns, arrangement: Arrangement):
  """A copy of `ns` at `arrangement.bpm`, pitched notes moved by
  `arrangement.transpose` (`ns` itself when the arrangement is plain)."""
  if arrangement.plain:
    return ns
  from note_seq.protobuf import music_pb2
  out = music_pb2.NoteSequence()
  out.CopyFrom(ns)
  factor = 1.0
  if arrangement.bpm is not None:
    factor = first_qpm(ns) / arrangement.bpm     # seconds now per second before
    for tempo in out.tempos:
      tempo.qpm /= factor
      tempo.time *= factor
    if not out.tempos:
      out.tempos.add(qpm=arrangement.bpm)
    for events in (out.time_signatures, out.key_signatures, out.control_changes,
                   out.pitch_bends, out.text_annotations):
      for event in events:
        event.time *= factor
    for note in out.notes:
      note.start_time *= factor
      note.end_time *= factor
    out.total_time *= factor
  if arrangement.transpose:
    for note in out.notes:
      if not note.is_drum:
        note.pitch = shift_pitch(note.pitch, arrangement.transpose)
  return out
