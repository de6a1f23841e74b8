"""Melody control signals as magenta.js computes them (numpy only).

magenta.js' multicontrol, rhythm and shape MusicVAEs (`mel_2bar_multicontrol_*`,
`mel_rhythm_2bar_*`, `mel_shape_2bar_*`) are conditioned on, or model, these
per-step signals of a melody, built by `@magenta/music` (core/melodies.ts,
core/chords.ts and MusicVAE's `controlArgsToTensor`, version 1.23):

  melody events `[T]` ints: 0 = no event (hold or rest), 1 = note off,
      2 + (pitch - min_pitch) = note on (`melody_events`, magenta.js'
      `Melody.fromNoteSequence`);
  rhythm   `[T, 1]`: 1 at steps with a note on, else 0;
  shape    `[T, 3]`: a Parsons code, one-hot down / same / up (0 / 1 / 2): the
      steps after an onset up to and including the next onset carry the
      direction from the one to the next; the steps before the second onset
      take the first direction; the steps after the last onset repeat its
      row; zero or one onset (not on the last step): all "same". One onset on
      the last step leaves every row zero, as magenta.js does;
  register `[T, len(boundaries) + 1]`: one-hot, the same at every step, of the
      bin of the mean pitch weighted by the steps each note sounds (bin i:
      i boundaries at or below the mean); all zero without a sounding step;
  key      `[T, 12]`: one-hot of the key (0 = C major / A minor ... 11);
  chords   `[T, D]`: one chord symbol's encoding per step (the progression's
      chord floor(t * n / T)), by one of three encoders:
        MajorMinorChordEncoder  D = 25: 0 no chord, 1 + root major, 13 + root minor
        TriadChordEncoder       D = 49: ... 25 + root augmented, 37 + root diminished
        PitchChordEncoder       D = 37: [no chord] + one-hot root + the chord's
                                pitch classes + one-hot bass (= the root)
  and the model's control input is the concatenation, in this order, of the
  chords, the key and the extra controls in the order of the model's spec
  (`control_tensor`).

A chord's root, pitch classes and quality come from note-seq's chord symbol
parser; quality is the one of major {0, 4, 7}, minor {0, 3, 7}, augmented
{0, 4, 8}, diminished {0, 3, 6} whose pitch classes (from the root) all
appear in the chord, when exactly one does. magenta.js parses symbols with
tonal instead; both give the same encodings for the triads, sixths,
sevenths, ninths, sus and add chords that tests/test_melody_controls.py
checks against it, and differ on (tonal's reading first): 'C5' (C major
triad / no third: refused by the triad encoders), 'Fm6' (adds B-flat / not),
'C7sus4' (C F G B-flat / refused), 'C11' and 'C13' (different extensions),
'Cmin', 'C/E' and 'Cm(maj7)' (refused by tonal / read).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

NO_EVENT = 0
NOTE_OFF = 1
FIRST_PITCH = 2
NUM_PITCH_CLASSES = 12
NO_CHORD = 'N.C.'
# magenta.js' melody_controls demo bins the register at these pitches (depth 4).
DEFAULT_REGISTER_BOUNDARIES = (50, 63, 70)

_QUALITY_SETS = ((0, 4, 7), (0, 3, 7), (0, 4, 8), (0, 3, 6))  # maj, min, aug, dim
CHORD_ENCODERS = {'MajorMinorChordEncoder': 1 + 2 * NUM_PITCH_CLASSES,
                  'TriadChordEncoder': 1 + 4 * NUM_PITCH_CLASSES,
                  'PitchChordEncoder': 1 + 3 * NUM_PITCH_CLASSES}


class ControlError(ValueError):
  """Input a control encoder cannot represent (one line)."""


# -- melody ---------------------------------------------------------------------------
def melody_events(notes: Iterable[tuple[int, int, int]], num_steps: int,
                  min_pitch: int = 21, max_pitch: int = 108) -> np.ndarray:
  """Events `[num_steps]` int32 of quantised notes `(pitch, start, end)`.

  Notes are taken by start, then highest pitch first; a second note starting
  on the same step is dropped; each note writes its onset at `start` and a
  note off at `end` (dropped when `end` is past the window), so a later
  onset overwrites an earlier note off.
  """
  events = np.zeros(num_steps, np.int32)
  last_start = None
  for pitch, start, end in sorted(notes, key=lambda n: (n[1], -n[0])):
    if start == last_start:
      continue
    if not min_pitch <= pitch <= max_pitch:
      raise ControlError(f'pitch {pitch} outside {min_pitch}..{max_pitch}')
    if 0 <= start < num_steps:
      events[start] = pitch - min_pitch + FIRST_PITCH
    if 0 <= end < num_steps:
      events[end] = NOTE_OFF
    last_start = start
  return events


def _events(events) -> np.ndarray:
  events = np.asarray(events)
  if events.ndim != 1:
    raise ControlError(f'melody events of shape {events.shape}: expected [T]')
  return events


def rhythm(events) -> np.ndarray:
  """`[T]` events -> `[T, 1]` float32: 1 where a note starts."""
  events = _events(events)
  return (events >= FIRST_PITCH).astype(np.float32)[:, None]


def shape(events) -> np.ndarray:
  """`[T]` events -> `[T, 3]` float32 Parsons code (down, same, up)."""
  events = _events(events)
  steps = len(events)
  out = np.zeros((steps, 3), np.float32)
  onsets = np.flatnonzero(events >= FIRST_PITCH)
  for k in range(1, len(onsets)):
    prev, step = onsets[k - 1], onsets[k]
    a, b = events[prev], events[step]
    direction = 0 if b < a else 2 if b > a else 1
    first = 0 if k == 1 else prev + 1      # the first direction reaches back to step 0
    out[first:step + 1, direction] = 1
  last = onsets[-1] if len(onsets) else None
  if last != steps - 1:
    if len(onsets) < 2:
      out[:, 1] = 1
    else:
      out[last + 1:] = out[last]
  return out


def register(events, boundaries: Sequence[float] = DEFAULT_REGISTER_BOUNDARIES,
             min_pitch: int = 21) -> np.ndarray:
  """`[T]` events -> `[T, len(boundaries) + 1]` float32 one-hot register
  (all zero when no note sounds)."""
  events = _events(events)
  out = np.zeros((len(events), len(boundaries) + 1), np.float32)
  total, count, current = 0.0, 0, None
  for event in events:
    if event == NOTE_OFF:
      current = None
    elif event >= FIRST_PITCH:
      current = min_pitch + int(event) - FIRST_PITCH
    if current is not None:
      total += current
      count += 1
  if count:
    mean = total / count
    out[:, sum(mean >= b for b in boundaries)] = 1
  return out


def key(key_index: int, num_steps: int) -> np.ndarray:
  """`[num_steps, 12]` float32 one-hot of key 0..11 (0 = C major / A minor)."""
  if not 0 <= int(key_index) < NUM_PITCH_CLASSES:
    raise ControlError(f'key {key_index}: use 0 (C) .. 11 (B)')
  out = np.zeros((num_steps, NUM_PITCH_CLASSES), np.float32)
  out[:, int(key_index)] = 1
  return out


# -- chords ---------------------------------------------------------------------------
def _chord_parts(symbol: str) -> tuple[int, list[int]]:
  """(root pitch class, pitch classes) of a chord symbol."""
  from note_seq import chord_symbols_lib
  try:
    root = chord_symbols_lib.chord_symbol_root(symbol)
    pitches = sorted({p % 12 for p in chord_symbols_lib.chord_symbol_pitches(symbol)})
  except chord_symbols_lib.ChordSymbolError:
    raise ControlError(f'unrecognised chord symbol {symbol!r}') from None
  return root, pitches


def chord_quality(symbol: str) -> int:
  """0 major, 1 minor, 2 augmented, 3 diminished, 4 other."""
  root, pitches = _chord_parts(symbol)
  relative = {(p - root) % 12 for p in pitches}
  found = [i for i, q in enumerate(_QUALITY_SETS) if set(q) <= relative]
  return found[0] if len(found) == 1 else 4


def encode_chord(symbol: str, encoder: str = 'TriadChordEncoder') -> np.ndarray:
  """`[D]` float32 encoding of one chord symbol ('N.C.': no chord)."""
  if encoder not in CHORD_ENCODERS:
    raise ControlError(f'chord encoder {encoder!r}: use one of {", ".join(CHORD_ENCODERS)}')
  depth = CHORD_ENCODERS[encoder]
  out = np.zeros(depth, np.float32)
  if symbol == NO_CHORD:
    out[0] = 1
    return out
  root, pitches = _chord_parts(symbol)
  if encoder == 'PitchChordEncoder':
    out[1 + root] = 1
    out[[1 + NUM_PITCH_CLASSES + p for p in pitches]] = 1
    out[1 + 2 * NUM_PITCH_CLASSES + root] = 1
    return out
  index = 1 + chord_quality(symbol) * NUM_PITCH_CLASSES + root
  if index >= depth:
    raise ControlError(f'chord {symbol!r} has no class in {encoder}')
  out[index] = 1
  return out


def chord_progression(chords: Sequence[str], num_steps: int,
                      encoder: str = 'TriadChordEncoder') -> np.ndarray:
  """`[num_steps, D]`: step t holds chord `chords[floor(t * n / num_steps)]`."""
  if not len(chords):
    raise ControlError('an empty chord progression')
  encoded = np.stack([encode_chord(c, encoder) for c in chords])
  return encoded[(np.arange(num_steps) * len(chords)) // num_steps]


def control_tensor(num_steps: int, *, chords: Sequence[str] | None = None,
                   chord_encoder: str = 'TriadChordEncoder', key_index: int | None = None,
                   extra: Sequence[tuple[str, np.ndarray]] = ()) -> np.ndarray:
  """The model's control input `[num_steps, C]`: chords, key, then `extra`
  (name, `[num_steps, depth]`) in the order of the model's spec."""
  parts = []
  if chords is not None:
    parts.append(chord_progression(chords, num_steps, chord_encoder))
  if key_index is not None:
    parts.append(key(key_index, num_steps))
  for name, value in extra:
    value = np.asarray(value, np.float32)
    if value.ndim != 2 or value.shape[0] != num_steps:
      raise ControlError(f'control {name!r} of shape {value.shape}: expected '
                         f'[{num_steps}, depth]')
    parts.append(value)
  if not parts:
    raise ControlError('no controls given')
  return np.concatenate(parts, axis=1)


# -- as class columns (how windows carry controls here) -------------------------------
def as_classes(dense) -> np.ndarray:
  """One-hot rows `[T, D]` -> int16 classes `[T]`, -1 for an all-zero row
  (the model's one-hot of -1 is that zero row again, so nothing is lost).
  Depth 1 (rhythm): 0 where the value is 1, -1 where it is 0."""
  dense = np.asarray(dense)
  ones = dense.sum(-1)
  if not np.isin(dense, (0, 1)).all() or (ones > 1).any():
    raise ControlError('controls with more than one 1 per step (a pitch chord encoding) '
                       'have no class column')
  return np.where(ones == 1, dense.argmax(-1), -1).astype(np.int16)


MELODY_CONTROL_NAMES = ('rhythm', 'shape', 'register')


def melody_control_depths(boundaries: Sequence[float] = DEFAULT_REGISTER_BOUNDARIES):
  """Depths of the rhythm, shape and register columns."""
  return (1, 3, len(boundaries) + 1)


def melody_control_classes(tokens, boundaries: Sequence[float] = DEFAULT_REGISTER_BOUNDARIES,
                           min_pitch: int = 21) -> np.ndarray:
  """Melody tokens `[n, T]` -> int16 `[n, T, 3]`: the rhythm, shape and
  register of each window as class columns (`as_classes`)."""
  tokens = np.asarray(tokens)
  if tokens.ndim != 2:
    raise ControlError(f'melody tokens of shape {tokens.shape}: expected [n, T]')
  out = np.empty(tokens.shape + (3,), np.int16)
  for i, events in enumerate(tokens):
    out[i, :, 0] = as_classes(rhythm(events))
    out[i, :, 1] = as_classes(shape(events))
    out[i, :, 2] = as_classes(register(events, boundaries, min_pitch))
  return out
