"""Bars of an uploaded piece, and the model's window starting at each one.

Magenta's converters (and ours, musicvae_jax/data/) split a NoteSequence at
every tempo and time-signature change (`split_note_sequence_on_time_changes`)
and count bars from the start of each piece, at that piece's own time
signature; windows start on those bar lines and never cross a piece's end.
The studio lays its bars the same way, so the bar a person picks is a bar
the converter would start a window on:

* a bar line at every piece start (each time-signature or tempo change),
  then one per bar of that piece's time signature; a bar cut short by the
  next change (a pickup written as its own short meter, or a change inside
  a bar) is a bar of its own;
* the windows at a bar are what the converter makes of that piece from that
  bar on, for the window's length (`windows_at`), so a file the converter
  takes windows from gives those windows here too. Notes that start up to
  half a quantization step before the bar line belong to it, as the
  converter's quantization rounds them onto the line; a note held over the
  bar line keeps its release inside the window, as in the converter's.

Exact for the converters whose windows slide over one track per piece a bar
at a time (melody, drums, NADE drums); chords inferred from the notes, the
trio and multitrack converters judge a piece as a whole (chord inference,
instrument coverage near its ends, per-bar hops), so a window cut out of it
can differ there. GrooVAE tiles a piece with windows that follow each other:
its windows at every other bar from a piece's start are its own, and the
ones between are cut the same way.

The bars of a decoded window follow the model's meter: its NoteSequence
carries the model's time signature (the converter's `to_note_sequence`),
and `grid` gives the page its bar length and beats.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from note_seq import sequences_lib

EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class Bar:
  """One bar: where it starts (seconds), how long it is, and its place in
  the converter's piece (`piece`, `index` = bars from the piece start)."""
  start: float
  seconds: float         # this bar's length (a last bar of a piece may be short)
  full_seconds: float    # a whole bar of this piece's meter
  piece: int
  index: int
  numerator: int
  denominator: int
  qpm: float


@dataclasses.dataclass
class Layout:
  """A piece cut as the converter cuts it, and its bars (in order)."""
  pieces: list           # NoteSequences, each starting at 0 (the converter's pieces)
  bars: list[Bar]
  piece_bars: list[int]  # bars of each piece, counting a short last one

  def __len__(self) -> int:
    return len(self.bars)


def _meter(piece) -> tuple[float, int, int]:
  qpm = piece.tempos[0].qpm if piece.tempos and piece.tempos[0].qpm > 0 else 120.0
  numerator, denominator = 4, 4
  if piece.time_signatures and piece.time_signatures[0].numerator > 0:
    ts = piece.time_signatures[0]
    numerator, denominator = ts.numerator, max(ts.denominator, 1)
  return qpm, numerator, denominator


def grid(ns) -> dict:
  """The bar grid of a decoded window or upload for the page, from its first
  tempo and time signature (a model's windows carry the model's meter):
  {'meter': '6/8', 'bar_seconds': 3.0, 'beats_per_bar': 2} at 120 qpm.

  Beats are the meter's (meters.py): dotted quarters in 6/8, 9/8 and 12/8,
  else the signature's numerator (3 in 3/4, 4 in 4/4)."""
  qpm, numerator, denominator = _meter(ns)
  beats = numerator // 3 if denominator == 8 and numerator % 3 == 0 and numerator > 3 else numerator
  return {'meter': f'{numerator}/{denominator}',
          'bar_seconds': 60.0 / qpm * 4.0 / denominator * numerator,
          'beats_per_bar': beats}


def layout(ns) -> Layout:
  """The bars of `ns` (see the module docstring)."""
  pieces = sequences_lib.split_note_sequence_on_time_changes(ns)
  starts = [p.subsequence_info.start_time_offset for p in pieces]
  ends = starts[1:] + [ns.total_time]
  bars, counts = [], []
  for i, (piece, start, end) in enumerate(zip(pieces, starts, ends)):
    qpm, numerator, denominator = _meter(piece)
    bar = 60.0 / qpm * 4.0 / denominator * numerator
    count = max(1, int(math.ceil((end - start) / bar - EPS)))
    counts.append(count)
    for k in range(count):
      begin = start + k * bar
      bars.append(Bar(begin, min(bar, end - begin) if k == count - 1 else bar, bar,
                      i, k, numerator, denominator, qpm))
  return Layout(pieces, bars, counts)


def _cut(piece, begin: float, stop: float, lead: float, held: tuple = ()):
  """`piece` with only the notes starting in [begin - lead, stop - lead) and
  the `held` ones, every end cut at `stop`. Times stay the piece's own, so
  every note quantizes to the very step it has in the whole piece, and bar
  lines stay where the converter counts them."""
  part = type(piece)()
  part.CopyFrom(piece)
  del part.notes[:]
  chosen = [n for n in piece.notes if begin - lead <= n.start_time < stop - lead]
  for note in list(held) + chosen:
    copy = part.notes.add()
    copy.CopyFrom(note)
    copy.end_time = max(copy.start_time, min(note.end_time, stop))
  part.total_time = stop
  return part


def _moved(piece, line: float, stop: float, lead: float):
  """The notes of `piece` starting in [line - lead, stop - lead), moved so
  that `line` is time 0 (earlier starts onto it), ends cut at `stop`; the
  chord symbol and controls in force at `line` come along. For converters
  that tile a piece from its start (GrooVAE's windows follow each other)."""
  part = type(piece)()
  part.CopyFrom(piece)
  for events in (part.notes, part.text_annotations, part.control_changes, part.pitch_bends):
    del events[:]
  for note in piece.notes:
    if line - lead <= note.start_time < stop - lead:
      copy = part.notes.add()
      copy.CopyFrom(note)
      copy.start_time = max(0.0, note.start_time - line)
      copy.end_time = max(copy.start_time, min(note.end_time, stop) - line)
  marks = sorted(piece.text_annotations, key=lambda a: a.time)
  for mark in [a for a in marks if a.time <= line][-1:] + [a for a in marks
                                                           if line < a.time < stop]:
    copy = part.text_annotations.add()
    copy.CopyFrom(mark)
    copy.time = max(0.0, mark.time - line)
  latest = {}
  for change in sorted(piece.control_changes, key=lambda c: c.time):
    if change.time <= line:
      latest[(change.instrument, change.control_number)] = change
    elif change.time < stop:
      latest[(change.instrument, change.control_number, change.time)] = change
  for change in latest.values():
    copy = part.control_changes.add()
    copy.CopyFrom(change)
    copy.time = max(0.0, change.time - line)
  part.total_time = stop - line
  return part


def _held(piece, line: float, lead: float) -> tuple:
  """Notes that start before the bar line at `line` and still sound on it
  (their release falls in the window)."""
  return tuple(n for n in piece.notes
               if n.start_time < line - lead and n.end_time >= line - lead)


def windows_at(converter, bars: Layout, number: int, slice_bars: int,
               steps_per_quarter: int = 4) -> np.ndarray:
  """Every window `[n, T, ...]` the converter starts at bar `number`
  (0-based): none when too few bars are left in its piece, the meter is not
  one the converter reads, or there are no notes it keeps.

  The converter reads the piece from that bar to the window's end, in the
  piece's own times (so every note quantizes to the step it has in the whole
  piece): the windows it ends there are the ones that end at the window's
  end (those of the same part one bar shorter are removed). A note held over
  the bar line stays in the part with its own start, so its release shows
  as in the converter's window. A converter that tiles a piece from its
  start (GrooVAE: windows follow each other) ends none there on most bars;
  it then reads the bars moved to time 0.
  """
  if not 0 <= number < len(bars.bars):
    return np.zeros((0,))
  bar = bars.bars[number]
  if bar.index + slice_bars > bars.piece_bars[bar.piece]:
    return np.zeros((0,))
  piece = bars.pieces[bar.piece]
  lead = 0.5 * 60.0 / bar.qpm / steps_per_quarter   # half a quantization step
  line = bar.index * bar.full_seconds
  stop = line + slice_bars * bar.full_seconds
  held = _held(piece, line, lead) if bar.index else ()
  whole = _windows(converter, _cut(piece, line, stop, lead, held))
  if not len(whole):
    return whole
  earlier = {w.tobytes() for w in _windows(
      converter, _cut(piece, line, stop - bar.full_seconds, lead, held))}
  ending = [w for w in whole if w.tobytes() not in earlier]
  if ending:
    return np.asarray(ending)
  return _windows(converter, _moved(piece, line, stop, lead))


def _windows(converter, part) -> np.ndarray:
  """`converter.all_windows(part)`; none where it refuses the part (odd
  timing, no notes it keeps)."""
  try:
    return converter.all_windows(part)
  except Exception:
    return np.zeros((0,))


def window_at(converter, bars: Layout, number: int, slice_bars: int,
              steps_per_quarter: int = 4) -> np.ndarray | None:
  """The first of `windows_at` (the lowest instrument's), or None."""
  found = windows_at(converter, bars, number, slice_bars, steps_per_quarter)
  return found[0] if len(found) else None


def first_window_bar(converter, bars: Layout, slice_bars: int,
                     steps_per_quarter: int = 4) -> int | None:
  """The first bar (0-based) with a window, scanning the whole piece (pieces
  the converter takes no window from are skipped at once)."""
  for piece_number, piece in enumerate(bars.pieces):
    try:
      if not len(converter.all_windows(piece)):
        continue
    except Exception:
      continue
    for number, bar in enumerate(bars.bars):
      if bar.piece == piece_number and window_at(
          converter, bars, number, slice_bars, steps_per_quarter) is not None:
        return number
  return None
