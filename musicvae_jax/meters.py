"""Meters (time signatures) a config reads, and the grid of each (pure).

A config's `meter` field ('4/4' by default, Magenta's only meter) picks which
stretches of the data become windows: windows are whole bars of that meter
on a 16th-note grid (`steps_per_quarter` = 4), so a bar has

    steps_per_bar = numerator * (4 / denominator) * steps_per_quarter

steps. The grid of each meter this package reads (docs/meters.md):

    meter  steps  beats x steps per beat   takes the data's
    4/4    16     4 quarters x 4           4/4 and 2/2 (any 4 quarters a bar: Magenta's rule)
    2/4     8     2 quarters x 4           2/4
    3/4    12     3 quarters x 4           3/4
    6/8    12     2 dotted quarters x 6    6/8
    9/8    18     3 dotted quarters x 6    9/8
    12/8   24     4 dotted quarters x 6    12/8

3/4 and 6/8 both have 12 steps a bar but group them differently (3 x 4
against 2 x 6), so a 3/4 model never reads a jig, nor a 6/8 model a waltz.
Pieces in any other meter are skipped, and counted per file with the meter
named (data/cache.py).
"""

from __future__ import annotations

import dataclasses

DEFAULT = '4/4'
# Meter -> (beats per bar, the beat in quarters): the grid written down above.
SUPPORTED = {
    '4/4': (4, 1.0),
    '2/4': (2, 1.0),
    '3/4': (3, 1.0),
    '6/8': (2, 1.5),
    '9/8': (3, 1.5),
    '12/8': (4, 1.5),
}


@dataclasses.dataclass(frozen=True)
class Meter:
  """A time signature: `numerator` beats of a 1/`denominator` note."""
  numerator: int
  denominator: int

  @property
  def name(self) -> str:
    return f'{self.numerator}/{self.denominator}'

  @property
  def quarters_per_bar(self) -> float:
    return self.numerator * 4.0 / self.denominator


def parse(text: str, key: str = 'meter') -> Meter:
  """'3/4' -> Meter(3, 4); ValueError naming `config.<key>` for a meter this
  package does not read (the choices listed)."""
  name = str(text).replace(' ', '')
  if name not in SUPPORTED:
    raise ValueError(f'config.{key}={text!r}: meters read are '
                     + ', '.join(SUPPORTED))
  numerator, denominator = name.split('/')
  return Meter(int(numerator), int(denominator))


def require_default(meter: str, reader: str) -> None:
  """ValueError naming `config.meter` unless it is 4/4: for the converters
  that read 4/4 only (`reader` names them: 'chord-conditioned melody')."""
  if parse(meter).name != DEFAULT:
    raise ValueError(f'config.meter={meter!r}: the {reader} converter reads '
                     f'{DEFAULT} only')


def steps_per_bar(meter: str, steps_per_quarter: int = 4) -> int:
  """Grid steps in one bar of `meter` ('6/8' at 4 steps a quarter: 12).

  ValueError naming `config.steps_per_quarter` when a bar is not a whole
  number of steps (9/8 at 1 step a quarter)."""
  steps = parse(meter).quarters_per_bar * steps_per_quarter
  if steps != int(steps):
    raise ValueError(f'config.steps_per_quarter={steps_per_quarter!r}: a {meter} '
                     f'bar would be {steps} steps (not whole)')
  return int(steps)


def beats(meter: str, steps_per_quarter: int = 4) -> tuple[int, int]:
  """(beats per bar, steps per beat) of `meter`: '6/8' -> (2, 6) at 4 steps
  a quarter, '3/4' -> (3, 4)."""
  count, beat_quarters = SUPPORTED[parse(meter).name]
  return count, int(beat_quarters * steps_per_quarter)


def accepts(meter: str, numerator: int, denominator: int) -> bool:
  """Whether a config reading `meter` takes a piece in numerator/denominator.

  4/4 keeps Magenta's rule, four quarter notes a bar (4/4, 2/2): the same
  as its converters' check of 16 steps per bar. Every other meter takes its
  own time signature only (a 3/4 model reads no 6/8 piece, nor 6/4 a 3/4).
  """
  wanted = parse(meter)
  if denominator <= 0:
    return False
  if wanted.name == DEFAULT:
    return numerator * 4 == 4 * denominator
  return (numerator, denominator) == (wanted.numerator, wanted.denominator)


def meters_in_force(times, numerators, denominators, total_time: float
                    ) -> list[tuple[int, int]]:
  """The meter of each stretch between time-signature changes, in order,
  as `split_note_sequence_on_time_changes` cuts them: 4/4 before the first
  signature when it comes after 0, repeats of the meter in force ignored,
  signatures at or after `total_time` ignored. Empty when `total_time` <= 0.

  >>> meters_in_force([0.0, 4.0, 6.0], [3, 3, 6], [4, 4, 8], 10.0)
  [(3, 4), (6, 8)]
  """
  if total_time <= 0:
    return []
  changes = sorted(zip(times, numerators, denominators), key=lambda c: c[0])
  current, found = (4, 4), []
  start = 0.0
  for time, numerator, denominator in changes:
    if not time < total_time:
      continue
    value = (int(numerator), int(denominator))
    if value == current:
      continue
    if time > start:
      found.append(current)
    current, start = value, time
  found.append(current)
  return found


def skipped_meters(meter: str, times, numerators, denominators,
                   total_time: float) -> dict[str, int]:
  """Stretches of a sequence (see `meters_in_force`) in a meter a config
  reading `meter` does not take: {'3/4': 2} (meter name -> stretches)."""
  counts: dict[str, int] = {}
  for numerator, denominator in meters_in_force(times, numerators, denominators,
                                                total_time):
    if not accepts(meter, numerator, denominator):
      name = f'{numerator}/{denominator}'
      counts[name] = counts.get(name, 0) + 1
  return counts


def skip_reason(counts: dict[str, int], meter: str) -> str:
  """The one-line reason of a file that gave no window because of its
  meters: "meter 3/4 not read (config.meter='4/4')". Files sharing a
  reason are counted together in a cache summary."""
  names = ', '.join(sorted(counts))
  word = 'meters' if len(counts) > 1 else 'meter'
  return f'{word} {names} not read (config.meter={meter!r})'
