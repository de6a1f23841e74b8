"""The controls of a multicontrol melody model, chosen one by one (numpy only).

A multicontrol model (configs/mel_2bar_multicontrol.py, magenta.js'
`mel_2bar_multicontrol_*`) follows four control columns, int16 `[T, 4]`
(data/multicontrol.py): chord class, rhythm (0 at an onset, -1 elsewhere),
shape (Parsons class of the step: 0 down, 1 same, 2 up) and register (bin of
the mean pitch). `build` assembles them from what a person picks:

  chords    'C G Am F': spread evenly over the window (one per half bar
            here), or exactly one per step;
  rhythm    a preset (RHYTHMS: 'eighths', 'quarters', 'tresillo', ...) or a
            pattern of `x` (onset) and `.` (none), one character per 16th
            (`|` and spaces ignored), repeated to fill the window when it
            divides it, e.g. 'x..x..x.' for a 3+3+2 bar;
  contour   a preset (CONTOURS: 'arch', 'up', 'down', ...) or a Parsons code
            of `u` (up), `d` (down), `r` (repeat), one letter per move from
            one onset to the next, stretched over the rhythm's moves;
  register  a name (REGISTERS: 'low', 'middle', 'high', 'top') or a MIDI
            pitch (60) or note name ('C4'): the bin of that mean pitch;
and any of them can come from a melody's window instead (`Taken`: the
columns of a MIDI file's window, as the converter computes them).

The shape column is computed as the data's is (melody_controls.shape) from
a melody with the chosen onsets moving as the contour says, so a chosen
contour looks to the model exactly like one read from a melody with that
rhythm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from musicvae_jax.data import chords as chords_lib
from musicvae_jax.data import melody_controls

# Columns of a multicontrol window's controls (after the melody token).
CHORD, RHYTHM, SHAPE, REGISTER = range(4)
ONSET, NO_ONSET = 0, -1
DOWN, SAME, UP = 0, 1, 2

# One bar of 16ths in 4/4 (other meters: the bar's own length, see `_bar`).
RHYTHMS = {
    'sixteenths': 'x',
    'eighths': 'x.',
    'quarters': 'x...',
    'halves': 'x.......',
    'tresillo': 'x..x..x.',
    'dotted': 'x..xx..xx..xx..x',
    'offbeats': '..x.',
    'syncopated': 'x.x..x.x..x.x...',
    'gallop': 'x.xx',
}
# Parsons codes, stretched over however many moves the rhythm has.
CONTOURS = {
    'arch': 'uuuudddd',
    'valley': 'dddduuuu',
    'up': 'u',
    'down': 'd',
    'flat': 'r',
    'zigzag': 'ud',
    'stairs': 'uur',
    'wave': 'uudd',
}
# Names of the register bins of magenta.js' boundaries (50, 63, 70).
REGISTERS = {'low': 0, 'middle': 1, 'high': 2, 'top': 3}
_LETTERS = {'d': DOWN, 'r': SAME, 's': SAME, 'u': UP}
_NOTE_NAME = re.compile(r'^([A-Ga-g])([#b]?)(-?\d)$')
_PITCH_CLASS = {'c': 0, 'd': 2, 'e': 4, 'f': 5, 'g': 7, 'a': 9, 'b': 11}

DEFAULTS = {'chords': 'N.C.', 'rhythm': 'eighths', 'contour': 'arch', 'register': 'middle'}


class ControlChoiceError(ValueError):
  """A choice that names no preset and parses as nothing (one line)."""


@dataclass(frozen=True)
class Taken:
  """A control taken from a melody's window: its control columns `[T, 4]`
  (data/multicontrol.py) and where they came from (for messages and recipes)."""
  columns: np.ndarray
  source: str


# -- chords ---------------------------------------------------------------------
def chord_column(choice, num_steps: int) -> np.ndarray:
  """'C G Am F' -> int16 `[T]` triad chord classes: one symbol per step when
  there are `num_steps` of them, else spread evenly as magenta.js spreads a
  chord progression (step t takes chord floor(t * n / T)): two chords over a
  2-bar window are one per bar, four are one per half bar."""
  symbols = [s for s in re.split(r'[\s,]+', choice.strip())] if isinstance(choice, str) \
      else list(choice)
  symbols = [s for s in symbols if s]
  if not symbols:
    raise ControlChoiceError('chords: no chord symbols given')
  if len(symbols) > num_steps:
    raise ControlChoiceError(f'chords: {len(symbols)} symbols for {num_steps} steps')
  try:
    classes = np.asarray([chords_lib.chord_class(s) for s in symbols], np.int16)
  except chords_lib.ChordSymbolError as error:
    raise ControlChoiceError(str(error)) from None
  return classes[np.arange(num_steps) * len(classes) // num_steps]


# -- rhythm ---------------------------------------------------------------------
def rhythm_column(choice: str, num_steps: int) -> np.ndarray:
  """A preset name or an x/. pattern -> int16 `[T]` (0 at onsets, -1 elsewhere)."""
  text = RHYTHMS.get(choice.strip().lower(), choice)
  pattern = re.sub(r'[\s|]', '', text).lower()
  if not pattern or set(pattern) - {'x', '.'}:
    raise ControlChoiceError(
        f'rhythm {choice!r}: name one of {", ".join(RHYTHMS)} or write a pattern '
        "of x (onset) and . (none), one per 16th, e.g. 'x..x..x.'")
  if num_steps % len(pattern):
    raise ControlChoiceError(f'rhythm {choice!r}: {len(pattern)} steps do not fill the '
                             f'window of {num_steps} steps evenly')
  steps = np.array([ONSET if c == 'x' else NO_ONSET for c in pattern], np.int16)
  return np.tile(steps, num_steps // len(pattern))


def onsets(rhythm: np.ndarray) -> np.ndarray:
  """Steps with an onset of an int16 rhythm column `[T]`."""
  return np.flatnonzero(np.asarray(rhythm) == ONSET)


# -- contour --------------------------------------------------------------------
def parsons_moves(choice: str) -> list[int]:
  """A preset name or a u/d/r Parsons code -> its moves (DOWN / SAME / UP)."""
  text = CONTOURS.get(choice.strip().lower(), choice)
  letters = re.sub(r'[\s*,]', '', text).lower()
  if not letters or set(letters) - set(_LETTERS):
    raise ControlChoiceError(
        f'contour {choice!r}: name one of {", ".join(CONTOURS)} or write a Parsons code '
        "of u (up), d (down) and r (repeat), e.g. 'uudr'")
  return [_LETTERS[c] for c in letters]


def moves_of(columns: np.ndarray) -> list[int]:
  """The moves (onset to onset) of a melody window's control columns `[T, 4]`:
  the shape class at each onset after the first."""
  columns = np.asarray(columns)
  return [int(columns[step, SHAPE]) for step in onsets(columns[:, RHYTHM])[1:]]


def stretch(moves: Sequence[int], count: int) -> list[int]:
  """`count` moves following `moves` evenly (move k of `count` takes
  `moves[k * len(moves) // count]`)."""
  if not moves:
    return [SAME] * count
  return [moves[k * len(moves) // count] for k in range(count)]


def shape_column(rhythm: np.ndarray, moves: Sequence[int]) -> np.ndarray:
  """int16 `[T]` shape classes for onsets `rhythm` moving as `moves`, computed
  as the data's are (melody_controls.shape of a melody with those onsets and
  moves)."""
  rhythm = np.asarray(rhythm)
  starts = onsets(rhythm)
  steps = stretch(list(moves), max(len(starts) - 1, 0))
  pitch, events = 60, np.zeros(len(rhythm), np.int32)
  for k, step in enumerate(starts):
    if k:
      pitch += {DOWN: -1, SAME: 0, UP: 1}[steps[k - 1]]
    events[step] = melody_controls.FIRST_PITCH + pitch - 21
  return melody_controls.as_classes(melody_controls.shape(events))


# -- register -------------------------------------------------------------------
def register_bin(choice, boundaries: Sequence[float] = melody_controls.DEFAULT_REGISTER_BOUNDARIES
                 ) -> int:
  """A name, a MIDI pitch or a note name ('C4' = 60) -> the register bin."""
  text = str(choice).strip().lower()
  if text in REGISTERS and len(boundaries) + 1 == len(REGISTERS):
    return REGISTERS[text]
  match = _NOTE_NAME.match(str(choice).strip())
  if match:
    letter, accidental, octave = match.groups()
    pitch = (int(octave) + 1) * 12 + _PITCH_CLASS[letter.lower()] + {'#': 1, 'b': -1, '': 0}[accidental]
  elif re.fullmatch(r'\d{1,3}', text):
    pitch = int(text)
  else:
    names = ', '.join(REGISTERS) if len(boundaries) + 1 == len(REGISTERS) else 'no names here'
    raise ControlChoiceError(f'register {choice!r}: name one of {names}, or give a '
                             "MIDI pitch (60) or a note name ('C4')")
  if not 0 <= pitch <= 127:
    raise ControlChoiceError(f'register {choice!r}: pitch {pitch} outside 0..127')
  return int(sum(pitch >= b for b in boundaries))


# -- all four -------------------------------------------------------------------
def build(num_steps: int, *, chords=None, rhythm=None,
          contour=None, register=None, base: Taken | None = None,
          boundaries: Sequence[float] = melody_controls.DEFAULT_REGISTER_BOUNDARIES
          ) -> tuple[np.ndarray, dict[str, str]]:
  """The control columns int16 `[T, 4]` of the choices, and a description of
  each (what the log and the studio show).

  Each of `chords`, `rhythm`, `contour`, `register` is a written choice (str;
  `register` also an int pitch), a `Taken` window, or None: then `base`'s
  column when a base window is given, else DEFAULTS. A contour left to `base`
  keeps the base's moves, stretched over the chosen rhythm's onsets.
  Raises ControlChoiceError (a ValueError) with one line.
  """
  columns = np.empty((num_steps, 4), np.int16)
  said = {}

  def pick(name, value):
    if value is None and base is not None:
      return base, f'from {base.source}'
    if value is None:
      return DEFAULTS[name], f'{DEFAULTS[name]} (default)'
    if isinstance(value, Taken):
      return value, f'from {value.source}'
    return value, str(value)

  for taken in (base, chords, rhythm, contour, register):
    if isinstance(taken, Taken) and np.asarray(taken.columns).shape != (num_steps, 4):
      raise ControlChoiceError(f'{taken.source}: controls of shape '
                               f'{np.asarray(taken.columns).shape}, expected ({num_steps}, 4)')

  value, said['chords'] = pick('chords', chords)
  columns[:, CHORD] = (value.columns[:, CHORD] if isinstance(value, Taken)
                       else chord_column(value, num_steps))

  value, said['rhythm'] = pick('rhythm', rhythm)
  columns[:, RHYTHM] = (value.columns[:, RHYTHM] if isinstance(value, Taken)
                        else rhythm_column(value, num_steps))

  value, said['contour'] = pick('contour', contour)
  if isinstance(value, Taken) and np.array_equal(value.columns[:, RHYTHM], columns[:, RHYTHM]):
    columns[:, SHAPE] = value.columns[:, SHAPE]       # its own rhythm: exactly its shape
  else:
    moves = moves_of(value.columns) if isinstance(value, Taken) else parsons_moves(value)
    columns[:, SHAPE] = shape_column(columns[:, RHYTHM], moves)

  value, said['register'] = pick('register', register)
  columns[:, REGISTER] = (value.columns[:, REGISTER] if isinstance(value, Taken)
                          else register_bin(value, boundaries))
  if not onsets(columns[:, RHYTHM]).size:
    raise ControlChoiceError(f'rhythm {said["rhythm"]}: no onset in the window')
  return columns, said


def describe(said: dict[str, str]) -> str:
  """'chords C G, rhythm eighths (default), ...' for a log line; 'chords,
  rhythm, contour and register from X' when all four come from X."""
  values = set(said.values())
  if len(said) > 1 and len(values) == 1 and next(iter(values)).startswith('from '):
    names = list(said)
    return f'{", ".join(names[:-1])} and {names[-1]} {next(iter(values))}'
  return ', '.join(f'{name} {value}' for name, value in said.items())
