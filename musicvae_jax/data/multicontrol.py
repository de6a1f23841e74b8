"""Melody windows with magenta.js' multicontrol signals: chords, rhythm,
shape and register (numpy and note-seq only).

Windows are int16 `[n, T, 1 + 4]`: the melody tokens, then four control
columns with `control_depths = (49, 1, 3, 4)`:
  chords    the triad chord class of each step, exactly as
            `chords.ChordMelodyConverter` infers it (Magenta's rules);
  rhythm    0 where a note starts, -1 elsewhere (the model one-hots it to
            [1] / [0]: magenta.js' `MelodyRhythm`);
  shape     the Parsons code class (0 down, 1 same, 2 up; -1 for magenta.js'
            all-zero rows), `MelodyShape`;
  register  the bin of the window's mean sounding pitch at `boundaries`
            (-1 without a sounding step), `MelodyRegister`.
The model's one-hots of these columns, concatenated, are the control tensor
magenta.js builds for `{chordProgression, extraControls: {rhythm, shape,
register}}` with a TriadChordEncoder (data/melody_controls.py).
Rhythm and shape are properties of the melody's own notes, so a model learns
to follow them; transposing a window shifts its chords and recomputes its
register.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from musicvae_jax.data import chords, melody_controls

VERSION = 'melody-multicontrol-v1'


class MultiControlMelodyConverter(chords.ChordMelodyConverter):
  """Chord-conditioned melody windows plus rhythm, shape and register columns."""

  def __init__(self, *args,
               boundaries: Sequence[float] = melody_controls.DEFAULT_REGISTER_BOUNDARIES,
               **kw):
    super().__init__(*args, **kw)
    self.boundaries = tuple(boundaries)
    self.control_depths = ((chords.TRIAD_CLASSES,)
                           + melody_controls.melody_control_depths(self.boundaries))

  def fingerprint(self) -> dict:
    return {**super().fingerprint(), 'version': VERSION, 'controls': 'multicontrol',
            'register_boundaries': list(self.boundaries)}

  def with_melody_controls(self, windows: np.ndarray) -> np.ndarray:
    """`[n, T, 2]` (tokens, chords) -> `[n, T, 5]`."""
    windows = np.asarray(windows)
    extra = melody_controls.melody_control_classes(windows[..., 0], self.boundaries)
    return np.concatenate([windows[..., :2], extra], -1).astype(np.int16)

  def all_windows(self, ns) -> np.ndarray:
    """Every distinct window `[n, T, 5]`, in order of first appearance."""
    return self.with_melody_controls(super().all_windows(ns))

  def default_controls(self, num_steps: int) -> np.ndarray:
    """No chord, no onset, a flat contour, no register: int16 `[T, 4]`."""
    row = np.array([chords.NO_CHORD_CLASS, -1, 1, -1], np.int16)
    return np.tile(row, (num_steps, 1))

  def to_note_sequence(self, tokens, qpm: float = 120.0, velocity: int = 80,
                       program: int = 0, controls=None, accompaniment: bool = False):
    """As `ChordMelodyConverter`; a whole window `[T, 5]` keeps its chords."""
    tokens = np.asarray(tokens)
    if tokens.ndim == 2 and tokens.shape[-1] == 5 and controls is None:
      tokens, controls = tokens[:, :1], tokens[:, 1:]
    chord_column = None if controls is None else np.asarray(controls).reshape(
        len(tokens.reshape(-1)), -1)[:, :1]
    return super().to_note_sequence(tokens, qpm, velocity, program, chord_column,
                                    accompaniment)

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Shifts melody and chords by `shifts[n]`; the register follows.
    Returns (windows, valid [n]) as `ChordMelodyConverter.transpose`."""
    windows = np.asarray(windows)
    moved, valid = super().transpose(windows[..., :2], shifts)
    return self.with_melody_controls(moved).astype(windows.dtype), valid
