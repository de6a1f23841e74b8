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


def new_sequence(qpm: float = 120.0, time_signature=None) -> music_pb2.NoteSequence:
  """An empty NoteSequence at `qpm` in `time_signature` (an object with
  `numerator` and `denominator`, e.g. meters.Meter; 4/4 when None)."""
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=qpm)
  numerator, denominator = ((time_signature.numerator, time_signature.denominator)
                            if time_signature is not None else (4, 4))
  ns.time_signatures.add(numerator=numerator, denominator=denominator)
  ns.ticks_per_quarter = note_seq.STANDARD_PPQ
  return ns


def melody_to_note_sequence(tokens: np.ndarray, steps_per_quarter: int = 4,
                            qpm: float = 120.0, velocity: int = 80,
                            program: int = 0, instrument: int = 0,
                            ns: music_pb2.NoteSequence | None = None,
                            is_drum: bool = False,
                            time_signature=None) -> music_pb2.NoteSequence:
  """Tokens `[T]` -> NoteSequence notes (a NO_EVENT holds, NOTE_OFF ends).

  Appends to `ns` if given (several parts), else makes a new sequence in
  `time_signature` (anything with `numerator` and `denominator`; 4/4 when
  None).
  """
  if ns is None:
    ns = new_sequence(qpm, time_signature)
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


# -- drums ---------------------------------------------------------------------
# Magenta's 9 drum classes (note_seq DEFAULT_DRUM_TYPE_PITCHES); the first pitch
# of each class is the one written back out.
DRUM_CLASS_NAMES = ('kick', 'snare', 'closed_hihat', 'open_hihat', 'low_tom',
                    'mid_tom', 'high_tom', 'crash', 'ride')
DRUM_PITCH_CLASSES = (
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
    (46, 67, 72, 74, 79, 81, 26),
    (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 62, 76, 83),
    (49, 52, 55, 57, 58),
    (51, 53, 59, 82),
)
NUM_DRUM_CLASSES = len(DRUM_PITCH_CLASSES)            # 9
DRUM_CLASSES = 2 ** NUM_DRUM_CLASSES                  # 512 one-hot combinations
DRUM_PITCH_TO_CLASS = {p: c for c, pitches in enumerate(DRUM_PITCH_CLASSES)
                       for p in pitches}
NO_HIT = 0


def drum_classes_to_token(classes) -> int:
  """A set of drum class indices -> token (bit c set for class c)."""
  return int(sum(1 << int(c) for c in set(classes)))


def drum_token_to_classes(token: int) -> list[int]:
  return [c for c in range(NUM_DRUM_CLASSES) if (int(token) >> c) & 1]


def drum_pitches_to_token(pitches) -> int:
  """MIDI drum pitches hit on one step -> token; unknown pitches are ignored
  (Magenta's MultiDrumOneHotEncoding with ignore_unknown_drums)."""
  return drum_classes_to_token(DRUM_PITCH_TO_CLASS[p] for p in pitches
                               if p in DRUM_PITCH_TO_CLASS)


def drum_roll_table() -> np.ndarray:
  """Magenta's drum `roll_input`: float32 [512, 10], row = token, columns =
  the 9 class bits (multi-hot) and a final "no hit" bit."""
  tokens = np.arange(DRUM_CLASSES)[:, None]
  bits = ((tokens >> np.arange(NUM_DRUM_CLASSES)[None, :]) & 1).astype(np.float32)
  no_hit = (tokens == NO_HIT).astype(np.float32)
  return np.concatenate([bits, no_hit], axis=1)


def drum_events_to_tokens(events) -> np.ndarray:
  """note_seq DrumTrack events (frozensets of class indices) -> int16 [T]."""
  return np.asarray([drum_classes_to_token(e) for e in events], np.int16)


def drums_to_note_sequence(tokens: np.ndarray, steps_per_quarter: int = 4,
                           qpm: float = 120.0, velocity: int = 80,
                           instrument: int = 9,
                           ns: music_pb2.NoteSequence | None = None,
                           time_signature=None) -> music_pb2.NoteSequence:
  """Tokens `[T]` -> drum hits (is_drum, one step long, each class's first
  pitch), as Magenta's DrumTrack.to_sequence. Appends to `ns` if given,
  else makes a new sequence in `time_signature` (4/4 when None)."""
  if ns is None:
    ns = new_sequence(qpm, time_signature)
  seconds_per_step = 60.0 / qpm / steps_per_quarter
  tokens = np.asarray(tokens).reshape(-1)
  for step, token in enumerate(tokens.tolist()):
    for c in drum_token_to_classes(token):
      ns.notes.add(pitch=DRUM_PITCH_CLASSES[c][0], velocity=velocity,
                   instrument=instrument, program=0, is_drum=True,
                   start_time=step * seconds_per_step,
                   end_time=(step + 1) * seconds_per_step)
  ns.total_time = max(ns.total_time, len(tokens) * seconds_per_step)
  return ns
