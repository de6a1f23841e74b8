"""How closely a multicontrol model's melodies follow their controls (numpy).

Given melodies the model decoded, tokens `[n, T]`, and the controls they
were decoded under, columns `[n, T, 4]` (chord class, rhythm, shape,
register: data/multicontrol.py), `adherence` measures each control on the
melody's own signals, computed as the converter computes them
(melody_controls.melody_control_classes):

  rhythm    onset precision / recall / F1: notes started where the rhythm
            asks for an onset;
  shape     the share of steps whose Parsons class (down / same / up)
            is the requested one (steps with a requested class only);
  register  the share of melodies whose mean-pitch bin is the requested one
            (melodies with a requested bin and a sounding step);
  chords    the share of note onsets whose pitch class is a tone of the
            chord requested at that step (steps with a chord).

`scripts/control_adherence.py` compares these for controls taken from
held-out windows against the same latents decoded under other windows'
controls, so that chance agreement is measured, not assumed.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from musicvae_jax import metrics
from musicvae_jax.data import chords as chords_lib
from musicvae_jax.data import melody_controls

CHORD, RHYTHM, SHAPE, REGISTER = range(4)


@functools.lru_cache(maxsize=64)
def chord_tones(chord_class: int) -> frozenset[int]:
  """Pitch classes of a triad chord class (empty for no chord)."""
  if chord_class == chords_lib.NO_CHORD_CLASS:
    return frozenset()
  from note_seq import chord_symbols_lib
  symbol = chords_lib.chord_symbol(int(chord_class))
  return frozenset(p % 12 for p in chord_symbols_lib.chord_symbol_pitches(symbol))


def adherence(tokens: np.ndarray, controls: np.ndarray,
              boundaries: Sequence[float] = melody_controls.DEFAULT_REGISTER_BOUNDARIES,
              min_pitch: int = 21) -> dict:
  """Agreement of melodies `tokens [n, T]` with `controls [n, T, 4]`."""
  tokens, controls = np.asarray(tokens), np.asarray(controls)
  if tokens.ndim == 3:
    tokens = tokens[..., 0]
  if controls.shape[:2] != tokens.shape or controls.shape[-1] != 4:
    raise ValueError(f'tokens {tokens.shape} and controls {controls.shape}: expected '
                     '[n, T] and [n, T, 4]')
  produced = melody_controls.melody_control_classes(tokens, boundaries, min_pitch)
  wanted_onset = controls[..., RHYTHM] == 0
  made_onset = produced[..., 0] == 0
  rhythm = metrics.f1((wanted_onset & made_onset).sum(), made_onset.sum(), wanted_onset.sum())
  has_shape = controls[..., SHAPE] >= 0
  shape = metrics.ratio((produced[..., 1] == controls[..., SHAPE])[has_shape].sum(),
                        has_shape.sum())
  wanted_bin, made_bin = controls[:, 0, REGISTER], produced[:, 0, 2]
  both = (wanted_bin >= 0) & (made_bin >= 0)
  register = metrics.ratio((wanted_bin == made_bin)[both].sum(), both.sum())
  in_chord = total = 0
  for row, step in zip(*np.nonzero(made_onset)):
    chord = int(controls[row, step, CHORD])
    if chord != chords_lib.NO_CHORD_CLASS:
      pitch = min_pitch + int(tokens[row, step]) - melody_controls.FIRST_PITCH
      in_chord += (pitch % 12) in chord_tones(chord)
      total += 1
  return {'rhythm': rhythm, 'shape_accuracy': shape, 'register_accuracy': register,
          'chord_tone_share': metrics.ratio(in_chord, total),
          'notes_per_window': float(made_onset.sum() / max(len(tokens), 1)),
          'windows': int(len(tokens))}
