"""Drum rolls for the NADE drum decoder (Magenta's `DrumsConverter` with
`roll_input=True, roll_output=True`, nade-drums_2bar_reduced / _full).

Extraction is exactly the `drums` encoding's (split at tempo / time-signature
changes, 4/4 only, drum notes of the mapped pitches, drum tracks ending after
one silent bar, 2-bar windows sliding by a bar, identical windows kept once),
only with a choice of pitch classes:

  * 'reduced': Magenta's `REDUCED_DRUM_PITCH_CLASSES`, note_seq's 9 drum types
    (kick, snare, closed / open hi-hat, low / mid / high tom, crash, ride);
  * 'full': Magenta's `FULL_DRUM_PITCH_CLASSES`, 61 classes of one General
    MIDI pitch each.

Windows are int16 `[n, T, D]` of 0/1: bit d is set when class d is hit on the
step (the decoder's multi-label target, Magenta's `roll_output`). The encoder
reads `roll_input_features`: the D bits and a final "no hits" bit (`D + 1`
wide, Magenta's `roll_input`). The decoder reads the previous step's D bits.
Written MIDI hits each class's first pitch, one step long, velocity 80.
"""

from __future__ import annotations

import numpy as np
import note_seq
from note_seq.protobuf import music_pb2

from musicvae_jax import meters
from musicvae_jax.data import converters, encodings

VERSION = 'drum-roll-v1'

REDUCED_DRUM_PITCH_CLASSES = encodings.DRUM_PITCH_CLASSES
# Magenta's data.FULL_DRUM_PITCH_CLASSES: 61 classes, one pitch each, in this order.
FULL_DRUM_PITCH_CLASSES = tuple((p,) for p in (
    36, 35, 38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85, 42, 44,
    54, 68, 69, 70, 71, 73, 78, 80, 46, 67, 72, 74, 79, 81, 45, 29, 41, 61, 64,
    84, 48, 47, 60, 63, 77, 86, 87, 50, 30, 43, 62, 76, 83, 49, 55, 57, 58, 51,
    52, 53, 59, 82))
PITCH_CLASSES = {'reduced': REDUCED_DRUM_PITCH_CLASSES,
                 'full': FULL_DRUM_PITCH_CLASSES}


def pitch_classes(name: str) -> tuple[tuple[int, ...], ...]:
  if name not in PITCH_CLASSES:
    raise ValueError(f"config.drum_pitch_classes={name!r}: use 'reduced' or 'full'")
  return PITCH_CLASSES[name]


def roll_input_features(bits: np.ndarray) -> np.ndarray:
  """Magenta's `roll_input`: `[..., D]` bits -> float32 `[..., D + 1]`, the
  bits and a final bit set when no class is hit (numpy or jax arrays)."""
  bits = (bits > 0).astype(np.float32)
  no_hits = (bits.sum(-1, keepdims=True) == 0).astype(np.float32)
  return np.concatenate([bits, no_hits], axis=-1)


def events_to_roll(events, num_classes: int) -> np.ndarray:
  """DrumTrack events (frozensets of class indices) -> int16 `[T, D]` bits."""
  roll = np.zeros((len(events), num_classes), np.int16)
  for step, event in enumerate(events):
    for c in event:
      roll[step, c] = 1
  return roll


def roll_to_note_sequence(roll: np.ndarray, classes, steps_per_quarter: int = 4,
                          qpm: float = 120.0, velocity: int = 80,
                          instrument: int = 9) -> music_pb2.NoteSequence:
  """Bits `[T, D]` -> drum hits (is_drum, one step long, each class's first
  pitch), as Magenta's `DrumsConverter.from_tensors` with roll output."""
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=qpm)
  ns.time_signatures.add(numerator=4, denominator=4)
  ns.ticks_per_quarter = note_seq.STANDARD_PPQ
  seconds_per_step = 60.0 / qpm / steps_per_quarter
  roll = np.asarray(roll).reshape(-1, len(classes))
  for step, c in zip(*np.nonzero(roll > 0)):
    ns.notes.add(pitch=classes[c][0], velocity=velocity, instrument=instrument,
                 program=0, is_drum=True, start_time=step * seconds_per_step,
                 end_time=(step + 1) * seconds_per_step)
  ns.total_time = len(roll) * seconds_per_step
  return ns


class DrumRollConverter(converters.DrumsConverter):
  """Magenta's DrumsConverter with roll input and output (module docstring)."""

  encoding = 'drum_roll'

  def __init__(self, pitch_class_set: str = 'reduced', slice_bars: int = 2,
               steps_per_quarter: int = 4, max_windows: int = 5,
               max_bars: int = 100, gap_bars: float = 1.0):
    super().__init__(slice_bars=slice_bars, steps_per_quarter=steps_per_quarter,
                     roll_input=True, max_windows=max_windows,
                     max_bars=max_bars, gap_bars=gap_bars)
    self.pitch_class_set = pitch_class_set
    self.classes = pitch_classes(pitch_class_set)
    self.num_classes = len(self.classes)
    self.pitch_to_class = {p: c for c, pitches in enumerate(self.classes)
                           for p in pitches}
    # One binary part per class; the models read the bits as features.
    self.part_depths = (2,) * self.num_classes
    self.input_tables = None

  def fingerprint(self) -> dict:
    out = super().fingerprint()
    out.update(version=VERSION, encoding=self.encoding,
               pitch_classes=self.pitch_class_set)
    return out

  def _class_notes(self, notes) -> list:
    out = []
    for note in notes:
      if note.is_drum and note.pitch in self.pitch_to_class:
        mapped = music_pb2.NoteSequence.Note()
        mapped.CopyFrom(note)
        mapped.pitch = self.pitch_to_class[note.pitch]
        out.append(mapped)
    return out

  def _piece_tracks(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    piece = converters._with_notes(piece, self._class_notes(piece.notes))
    if not piece.notes:
      return []
    quantized = converters._quantize(piece, self.steps_per_quarter,
                                     self.steps_per_bar)
    if quantized is None:
      return []
    tracks = converters.extract_drum_tracks(
        quantized, self.steps_per_bar, self.gap_bars,
        self.max_bars * self.steps_per_bar)
    return [events_to_roll(t, self.num_classes) for t in tracks]

  def _piece_windows(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    windows = []
    for track in self._piece_tracks(piece):
      for end in range(self.seq_len, len(track) + 1, self.steps_per_bar):
        windows.append(track[end - self.seq_len:end])
    return windows

  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 80) -> music_pb2.NoteSequence:
    """Bits `[T, D]` -> drum hits (is_drum, MIDI channel 10)."""
    return roll_to_note_sequence(tokens, self.classes, self.steps_per_quarter,
                                 qpm, velocity)


def make_converter(config) -> DrumRollConverter:
  meters.require_default(config.get('meter', meters.DEFAULT), 'NADE drum roll')
  return DrumRollConverter(
      pitch_class_set=config.get('drum_pitch_classes', 'reduced'),
      slice_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
      max_windows=config.max_windows_per_sequence)
