"""Token encodings and their inverses (numpy only).

Melody: 90 classes, 0 = NO_EVENT (the sounding note or rest continues),
1 = NOTE_OFF, 2..89 = MIDI pitches 21..108 (Magenta's MelodyOneHotEncoding).
"""

from __future__ import annotations

import note_seq
import numpy as np
from note_seq.protobuf import music_pb2

NO_EVENT = 0
NOTE_OFF = 1
MIN_PITCH = 21
MAX_PITCH = 108
FIRST_PITCH_TOKEN = 2
MELODY_CLASSES = FIRST_PITCH_TOKEN + MAX_PITCH - MIN_PITCH + 1  # 90


def melody_events_to_tokens(melody: note_seq.Melody) -> np.ndarray:
  """note_seq Melody events (-2 no event, -1 off, pitches) -> int16 tokens `[T]`."""
  events = np.asarray(list(melody), np.int64)
  tokens = np.where(events == note_seq.MELODY_NO_EVENT, NO_EVENT,
                    np.where(events == note_seq.MELODY_NOTE_OFF, NOTE_OFF,
                             events - MIN_PITCH + FIRST_PITCH_TOKEN))
  return tokens.astype(np.int16)


def melody_to_note_sequence(tokens: np.ndarray, steps_per_quarter: int = 4,
                            qpm: float = 120.0, velocity: int = 80,
                            program: int = 0, instrument: int = 0,
                            ns: music_pb2.NoteSequence | None = None,
                            is_drum: bool = False) -> music_pb2.NoteSequence:
  """Tokens `[T]` -> NoteSequence notes (a NO_EVENT holds, NOTE_OFF ends).

  Appends to `ns` if given (several parts), else makes a new 4/4 sequence.
  """
  if ns is None:
    ns = music_pb2.NoteSequence()
    ns.tempos.add(qpm=qpm)
    ns.time_signatures.add(numerator=4, denominator=4)
    ns.ticks_per_quarter = note_seq.STANDARD_PPQ
  seconds_per_step = 60.0 / qpm / steps_per_quarter
  pitch, start = None, 0

  def close(end_step):
    if pitch is not None:
      ns.notes.add(pitch=pitch, velocity=velocity, program=program,
                   instrument=instrument, is_drum=is_drum,
                   start_time=start * seconds_per_step,
                   end_time=end_step * seconds_per_step)

  for step, token in enumerate(np.asarray(tokens).reshape(-1).tolist()):
    if token == NO_EVENT:
      continue
    close(step)
    if token == NOTE_OFF:
      pitch = None
    else:
      pitch, start = token - FIRST_PITCH_TOKEN + MIN_PITCH, step
  close(len(tokens))
  ns.total_time = max(ns.total_time, len(tokens) * seconds_per_step)
  return ns


def transpose_melody(windows: np.ndarray, shifts: np.ndarray):
  """Transposes pitch tokens of `windows [n, T, K]` by `shifts [n]` semitones.

  Returns (transposed windows, valid bool [n]). An example whose notes would
  leave 21..108 is invalid and comes back unchanged.
  """
  windows = np.asarray(windows)
  shift = np.asarray(shifts).reshape(-1, *([1] * (windows.ndim - 1)))
  is_pitch = windows >= FIRST_PITCH_TOKEN
  moved = np.where(is_pitch, windows + shift, windows)
  ok = ~is_pitch | ((moved >= FIRST_PITCH_TOKEN) & (moved < MELODY_CLASSES))
  valid = ok.reshape(len(windows), -1).all(axis=1)
  out = np.where(valid.reshape(shift.shape), moved, windows)
  return out.astype(windows.dtype), valid
