"""What the render modules share: parts of a sequence, their colours, and
note times clipped into the sequence.

The underscored names are private to the `render` package.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

MELODY_COLOUR = (37, 99, 235)     # blue
BASS_COLOUR = (234, 88, 12)       # orange
DRUM_COLOUR = (22, 163, 74)       # green
OTHER_COLOURS = [(147, 51, 234), (219, 39, 119), (8, 145, 178), (202, 138, 4),
                 (100, 116, 139), (185, 28, 28), (146, 64, 14), (30, 41, 59),
                 (132, 204, 22)]


@dataclasses.dataclass(frozen=True)
class Part:
  """One voice of a sequence: notes sharing (instrument, program, is_drum)."""
  instrument: int
  program: int
  is_drum: bool


def _is_bass(program: int) -> bool:
  return 32 <= program <= 39


def _parts(notes: Iterable) -> list[Part]:
  """Distinct parts in a stable order (pitched by instrument, then drums)."""
  parts = {Part(n.instrument, n.program, n.is_drum) for n in notes}
  return sorted(parts, key=lambda p: (p.is_drum, p.instrument, p.program))


def _part_styles(parts: Sequence[Part]) -> dict[Part, tuple[str, tuple]]:
  """Part -> (legend name, RGB colour): melody blue, bass orange, drums green.

  The first pitched non-bass part is the melody; further parts get names
  from their instrument and program and colours from `OTHER_COLOURS`; so do
  a second drum or bass part (multitrack), so every part has its own colour.
  """
  styles, melody_taken, other = {}, False, 0
  for part in parts:
    if part.is_drum or _is_bass(part.program):
      name, colour = ('drums', DRUM_COLOUR) if part.is_drum else ('bass', BASS_COLOUR)
      if any(c == colour for _, c in styles.values()):
        name = f'{name} {part.instrument} (program {part.program})'
        colour = OTHER_COLOURS[other % len(OTHER_COLOURS)]
        other += 1
      styles[part] = (name, colour)
    elif not melody_taken:
      styles[part] = ('melody', MELODY_COLOUR)
      melody_taken = True
    else:
      colour = OTHER_COLOURS[other % len(OTHER_COLOURS)]
      styles[part] = (f'part {part.instrument} (program {part.program})', colour)
      other += 1
  return styles


def _end_time(ns) -> float:
  """`ns.total_time`, or the last note end if that is later (seconds, >= 0)."""
  return max([ns.total_time, 0.0] + [n.end_time for n in ns.notes])


def _span(note, limit: float) -> tuple[float, float]:
  """(start, end) of `note` in seconds, clipped into [0, limit], end >= start.

  GrooVAE's micro-timing starts an early first hit a few ms before 0.
  """
  start = min(max(note.start_time, 0.0), limit)
  return start, min(max(note.end_time, start), limit)


def _copy(ns):
  """A copy of the NoteSequence `ns` (writers change copies, never `ns`)."""
  out = type(ns)()
  out.CopyFrom(ns)
  return out
