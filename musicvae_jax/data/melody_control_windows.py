"""A melody's rhythm or shape alone, as windows a MusicVAE models (numpy and
note-seq only): magenta.js' `MelodyRhythmConverter` and `MelodyShapeConverter`
(core/data.ts, both `MelodyControlConverter`s), the data of its
`mel_rhythm_2bar_*` and `mel_shape_2bar_*` checkpoints.

The melody windows are `converters.MelodyConverter`'s (Magenta's melody
extraction and 2-bar windowing, mel_2bar's programs); each is then reduced to
its control signal exactly as @magenta/music computes it
(data/melody_controls.py):

  rhythm  int16 `[n, T, 1]` bits: 1 at a step where a note starts, else 0
          (`MelodyRhythm`, a `[T, 1]` tensor). The converter declares
          `bits`: the model reads each bit as a value and writes one logit
          per step (magenta.js' BooleanDecoder);
  shape   int16 `[n, T, 1]` Parsons code classes 0 down, 1 same, 2 up
          (`MelodyShape`'s one-hot `[T, 3]` rows, a categorical part).
          magenta.js leaves every row zero for a window whose only onset is
          on its last step; such a window has no class to learn and is
          skipped here (`shape_classes` returns None for it).

Windows that reduce to the same rhythm or shape are kept once (the cache's
rule for every converter). Rhythm and shape do not change when a melody is
transposed (`transpose` returns the windows unchanged).

`to_note_sequence` writes what magenta.js' `toNoteSequence` writes: the
rhythm as one-step snare hits (pitch 38, `DEFAULT_DRUM_PITCH_CLASSES[1][0]`)
at the onsets; the shape as one one-step note per step, starting from the
middle of the pitch range (JavaScript's `Math.round((21 + 108) / 2)` = 65)
and moving one semitone down or up per "down" / "up" step, held at the range's
ends.
"""

from __future__ import annotations

import math

import numpy as np

from musicvae_jax import meters
from musicvae_jax.data import encodings, melody_controls
from musicvae_jax.data.converters import MelodyConverter

VERSION = 'melody-control-windows-v1'
SNARE_PITCH = 38            # magenta.js DEFAULT_DRUM_PITCH_CLASSES[1][0]
DRUM_INSTRUMENT = 9
SHAPE_CLASSES = 3           # down, same, up (Parsons code)
DOWN, SAME, UP = 0, 1, 2


# -- pure functions: one melody window ------------------------------------------------
def rhythm_bits(tokens) -> np.ndarray:
  """Melody tokens `[T]` -> int16 `[T]`: 1 where a note starts, else 0."""
  return melody_controls.rhythm(tokens)[:, 0].astype(np.int16)


def shape_classes(tokens) -> np.ndarray | None:
  """Melody tokens `[T]` -> int16 `[T]` Parsons classes (0 down, 1 same,
  2 up), or None where magenta.js' shape has all-zero rows (one onset, on
  the last step)."""
  rows = melody_controls.shape(tokens)
  if (rows.sum(-1) != 1).any():
    return None
  return rows.argmax(-1).astype(np.int16)


def shape_pitches(classes, min_pitch: int = encodings.MIN_PITCH,
                  max_pitch: int = encodings.MAX_PITCH) -> np.ndarray:
  """Parsons classes `[T]` -> int `[T]`: the pitch of magenta.js' note at
  each step, from JavaScript's `Math.round((min + max) / 2)`, one semitone
  down (0) or up (2) per step, held at `min_pitch` / `max_pitch`."""
  pitch = math.floor((min_pitch + max_pitch) / 2 + 0.5)   # Math.round: halves go up
  out = np.empty(len(classes), np.int64)
  for step, code in enumerate(np.asarray(classes).reshape(-1).tolist()):
    if code == DOWN:
      pitch = max(pitch - 1, min_pitch)
    elif code == UP:
      pitch = min(pitch + 1, max_pitch)
    out[step] = pitch
  return out


# -- converters -----------------------------------------------------------------------
class _MelodyControlConverter(MelodyConverter):
  """Melody windows reduced to one control signal per step (a subclass says
  which: `signal(tokens [T]) -> [T] or None`)."""

  part_depths: tuple[int, ...] = ()
  view = ''

  def signal(self, tokens) -> np.ndarray | None:
    raise NotImplementedError

  def fingerprint(self) -> dict:
    return {**super().fingerprint(), 'version': VERSION, 'encoding': self.encoding,
            'view': self.view}

  def from_melody_windows(self, melody_windows) -> np.ndarray:
    """Melody windows `[n, T, 1]` -> distinct signal windows int16 `[m, T, 1]`
    in order of first appearance (windows with no signal are left out)."""
    seen, out = set(), []
    for tokens in np.asarray(melody_windows)[..., 0]:
      found = self.signal(tokens)
      if found is None or found.tobytes() in seen:
        continue
      seen.add(found.tobytes())
      out.append(found)
    if not out:
      return np.zeros((0, self.seq_len, 1), np.int16)
    return np.stack(out)[..., None].astype(np.int16)

  def all_windows(self, ns) -> np.ndarray:
    return self.from_melody_windows(super().all_windows(ns))

  def fast_windows(self, arrays) -> np.ndarray:
    return self.from_melody_windows(super().fast_windows(arrays))

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Rhythm and shape do not move with the pitches: (windows, all valid)."""
    del shifts
    windows = np.asarray(windows)
    return windows, np.ones(len(windows), bool)


class MelodyRhythmConverter(_MelodyControlConverter):
  """A melody's onsets: bits `[n, T, 1]` (module docstring)."""

  encoding = 'melody_rhythm'
  view = 'rhythm'
  part_depths = (2,)
  bits = True

  def signal(self, tokens) -> np.ndarray:
    return rhythm_bits(tokens)

  def to_note_sequence(self, tokens, qpm: float = 120.0, velocity: int = 80,
                       program: int = 0):
    """Bits `[T]` or `[T, 1]` -> one-step snare hits (pitch 38, drums) at the
    steps holding 1, at `qpm`."""
    del program
    bits = np.asarray(tokens).reshape(-1)
    ns = encodings.new_sequence(qpm, meters.parse(self.meter))
    seconds_per_step = 60.0 / qpm / self.steps_per_quarter
    for step in np.flatnonzero(bits > 0).tolist():
      ns.notes.add(pitch=SNARE_PITCH, velocity=velocity, instrument=DRUM_INSTRUMENT,
                   is_drum=True, start_time=step * seconds_per_step,
                   end_time=(step + 1) * seconds_per_step)
    ns.total_time = len(bits) * seconds_per_step
    return ns


class MelodyShapeConverter(_MelodyControlConverter):
  """A melody's contour: Parsons classes `[n, T, 1]` (module docstring)."""

  encoding = 'melody_shape'
  view = 'shape'
  part_depths = (SHAPE_CLASSES,)

  def signal(self, tokens) -> np.ndarray | None:
    return shape_classes(tokens)

  def to_note_sequence(self, tokens, qpm: float = 120.0, velocity: int = 80,
                       program: int = 0):
    """Classes `[T]` or `[T, 1]` -> a one-step note per step moving as the
    contour says (`shape_pitches`), at `qpm`."""
    pitches = shape_pitches(np.asarray(tokens).reshape(-1))
    ns = encodings.new_sequence(qpm, meters.parse(self.meter))
    seconds_per_step = 60.0 / qpm / self.steps_per_quarter
    for step, pitch in enumerate(pitches.tolist()):
      ns.notes.add(pitch=pitch, velocity=velocity, program=program,
                   start_time=step * seconds_per_step,
                   end_time=(step + 1) * seconds_per_step)
    ns.total_time = len(pitches) * seconds_per_step
    return ns
