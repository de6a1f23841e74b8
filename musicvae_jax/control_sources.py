"""Where a multicontrol model's controls come from, as `generate` and the
studio take them: each of chords, rhythm, contour and register is written
out (data/control_choices.py: a preset, a pattern, a Parsons code, a note),
or names a MIDI file's window whose control column is taken:

    --rhythm=song.mid        the rhythm of song.mid's first window
    --rhythm=song.mid@3      ... of its window 3 (0-based)

`resolve` turns the four choices (plus an optional base window: what is not
chosen comes from it) into the model's control columns `[T, 4]`.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from musicvae_jax.data import control_choices

_MIDI_CHOICE = re.compile(r'^(?P<path>.+\.midi?)(?:@(?P<index>\d+))?$', re.IGNORECASE)
NAMES = ('chords', 'rhythm', 'contour', 'register')


def midi_choice(text: str) -> tuple[str, int] | None:
  """('song.mid', 3) for 'song.mid@3', ('song.mid', 0) for 'song.mid'; None
  for a written choice."""
  match = _MIDI_CHOICE.match(str(text).strip())
  if not match:
    return None
  return match['path'], int(match['index'] or 0)


def resolve(num_steps: int, read_window: Callable[[str, int, str], control_choices.Taken],
            base: control_choices.Taken | None = None, boundaries=None,
            **choices: str) -> tuple[np.ndarray, dict[str, str]]:
  """Control columns `[T, 4]` and what each came from.

  `choices`: chords / rhythm / contour / register, each '' (not chosen: the
  base's, else the default), a written choice, or a MIDI choice, read with
  `read_window(path, index, name)` (which raises one line naming the file).
  """
  unknown = set(choices) - set(NAMES)
  if unknown:
    raise TypeError(f'unknown control {sorted(unknown)[0]!r}: one of {", ".join(NAMES)}')
  picked = {}
  for name in NAMES:
    text = str(choices.get(name) or '').strip()
    source = midi_choice(text) if text else None
    if source:
      picked[name] = read_window(source[0], source[1], name)
    else:
      picked[name] = text or None
  kw = {} if boundaries is None else {'boundaries': tuple(boundaries)}
  return control_choices.build(num_steps, base=base, **picked, **kw)
