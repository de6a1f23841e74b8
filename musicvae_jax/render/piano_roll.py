"""NoteSequences -> things a person can see and hear.

* `write_midi`: a standard MIDI file (drums on channel 10, programs kept).
* `piano_roll_image` / `write_piano_roll_png`: a piano-roll picture (Pillow).
* `interpolation_strip`: every step of an interpolation in one picture.
* `synthesize` / `write_wav`: an audio preview from a small built-in
  synthesiser (additive / FM voices, synthetic drums; no sound font), or
  from FluidSynth and a GM SoundFont when the system has them
  (`preview_audio`, `soundfont.py`).
* `write_index_html`: a self-contained page with rolls, players and links.

No JAX here; every input is a `note_seq.NoteSequence` proto. Times are seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import math
import urllib.parse
import wave
from pathlib import Path
from typing import Iterable, Sequence

import note_seq
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# -- MIDI ---------------------------------------------------------------------

# Ticks per quarter note when the sequence does not say: fine enough that a
# round trip moves no time by more than 0.5 ms at tempos of 60 qpm and above.
MIDI_TICKS_PER_QUARTER = 960


def write_midi(ns, path: str | Path) -> None:
  """Writes `ns` as a standard MIDI file at `path`.

  Drum notes (`is_drum`) go to MIDI channel 10 (pretty_midi reads them back
  with `is_drum=True`); every other note keeps its `program`; chord symbols
  (CHORD_SYMBOL annotations) are written as text events. Times before 0
  are written at 0 and every note lasts at least one MIDI tick. `ns` is not
  modified.
  """
  ns = _copy(ns)
  ns.ticks_per_quarter = ns.ticks_per_quarter or MIDI_TICKS_PER_QUARTER
  _name_instruments(ns)
  _clip_midi_times(ns)
  chords = [(a.time, a.text) for a in ns.text_annotations
            if a.annotation_type == note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL]
  if not chords:
    note_seq.sequence_proto_to_midi_file(ns, str(path))
    return
  # Chord symbols (chord models) become MIDI text events, which note-seq drops.
  import pretty_midi
  midi = note_seq.note_sequence_to_pretty_midi(ns)
  midi.text_events.extend(pretty_midi.Text(text, time) for time, text in chords)
  with open(path, 'wb') as f:
    midi.write(f)


def _unnamed_instruments(ns) -> list[Part]:
  named = {info.instrument for info in ns.instrument_infos if info.name}
  return [p for p in _parts(ns.notes) if p.instrument not in named]


def _name_instruments(ns) -> None:
  """Names every unnamed track by its role and General MIDI instrument:
  'melody: Acoustic Grand Piano', 'bass: Electric Bass (finger)', 'drums'
  (in place; shown by DAWs as the track name)."""
  import pretty_midi
  styles, done = _part_styles(_parts(ns.notes)), set()
  for part in _unnamed_instruments(ns):
    if part.instrument in done:
      continue
    done.add(part.instrument)
    role = styles[part][0]
    name = role if part.is_drum else (
        f'{role}: {pretty_midi.program_to_instrument_name(part.program)}')
    ns.instrument_infos.add(instrument=part.instrument, name=name)


def _clip_midi_times(ns) -> None:
  """Moves every time before 0 to 0 and lengthens notes shorter than one tick
  to one tick (in place).

  GrooVAE's micro-timing starts an early first hit a few ms before 0. A note
  whose on and off fall on the same tick is written off-then-on, so players
  (FluidSynth, DAWs) hold it to the end of the file.
  """
  slowest = min([t.qpm for t in ns.tempos if t.qpm > 0] + [120.0])
  tick = 60.0 / (slowest * ns.ticks_per_quarter)   # longest tick, seconds
  for note in ns.notes:
    note.start_time = max(note.start_time, 0.0)
    note.end_time = max(note.end_time, note.start_time + tick)
  for events in (ns.tempos, ns.time_signatures, ns.key_signatures,
                 ns.text_annotations, ns.control_changes, ns.pitch_bends):
    for event in events:
      event.time = max(event.time, 0.0)


def _copy(ns):
  out = type(ns)()
  out.CopyFrom(ns)
  return out


# -- parts, colours, timing ------------------------------------------------------

BACKGROUND = (255, 255, 255)
BLACK_KEY_ROW = (244, 245, 248)
DRUM_BAND = (246, 248, 245)
GRID_BAR = (150, 154, 162)
GRID_BEAT = (222, 224, 230)
GRID_C = (205, 208, 216)
TEXT = (50, 54, 62)
TEXT_SOFT = (120, 124, 132)

MELODY_COLOUR = (37, 99, 235)     # blue
BASS_COLOUR = (234, 88, 12)       # orange
DRUM_COLOUR = (22, 163, 74)       # green
OTHER_COLOURS = [(147, 51, 234), (219, 39, 119), (8, 145, 178), (202, 138, 4),
                 (100, 116, 139), (185, 28, 28), (146, 64, 14), (30, 41, 59),
                 (132, 204, 22)]

DRUM_NAMES = {
    35: 'Kick', 36: 'Kick', 37: 'Stick', 38: 'Snare', 39: 'Clap', 40: 'Snare',
    41: 'Tom L', 42: 'HH cl', 43: 'Tom L', 44: 'HH pd', 45: 'Tom M',
    46: 'HH op', 47: 'Tom M', 48: 'Tom H', 49: 'Crash', 50: 'Tom H',
    51: 'Ride', 52: 'China', 53: 'Ride b', 54: 'Tamb', 55: 'Splash',
    56: 'Cowbell', 57: 'Crash', 59: 'Ride',
}


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


def _beat_and_bar(ns) -> tuple[float, int]:
  """(seconds per beat, beats per bar) from the first tempo and time signature.

  The beat is the time signature's denominator note (a quarter in 4/4, an
  eighth in 6/8); defaults are 120 qpm and 4/4.
  """
  qpm = ns.tempos[0].qpm if ns.tempos and ns.tempos[0].qpm > 0 else 120.0
  numerator, denominator = 4, 4
  if ns.time_signatures:
    ts = ns.time_signatures[0]
    if ts.numerator > 0 and ts.denominator > 0:
      numerator, denominator = ts.numerator, ts.denominator
  return 60.0 / qpm * 4.0 / denominator, numerator


@functools.lru_cache(maxsize=None)
def _font(size: int, bold: bool = False) -> ImageFont.ImageFont:
  """DejaVu Sans if the system has it, else Pillow's built-in font."""
  name = 'DejaVuSans-Bold.ttf' if bold else 'DejaVuSans.ttf'
  try:
    return ImageFont.truetype(name, size)
  except OSError:
    try:
      return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1
      return ImageFont.load_default()


def _shade(colour: tuple, velocity: int) -> tuple:
  """`colour` blended towards white: velocity 127 -> full colour, 1 -> pale."""
  amount = 0.3 + 0.7 * min(max(velocity, 1), 127) / 127.0
  return tuple(int(round(255 - (255 - c) * amount)) for c in colour)


def _darken(colour: tuple, factor: float = 0.7) -> tuple:
  return tuple(int(c * factor) for c in colour)


# -- piano roll -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Layout:
  """Geometry shared by every roll drawn with it (pixels unless noted).

  The plot is `rows` pitch rows (pitch `high` at the top) of `row_height`,
  then, if there are drums, a gap and one row per drum pitch in `drums`.
  """
  low: int
  high: int
  drums: tuple[int, ...]
  duration: float           # seconds shown
  pixels_per_second: float
  row_height: int
  drum_row_height: int
  left: int = 56            # label gutter
  right: int = 12

  @property
  def pitched_height(self) -> int:
    return (self.high - self.low + 1) * self.row_height if self.high >= self.low else 0

  @property
  def drum_gap(self) -> int:
    return 6 if self.drums and self.pitched_height else 0

  @property
  def plot_height(self) -> int:
    return self.pitched_height + self.drum_gap + len(self.drums) * self.drum_row_height

  @property
  def plot_width(self) -> int:
    return int(math.ceil(self.duration * self.pixels_per_second))

  @property
  def width(self) -> int:
    return self.left + self.plot_width + self.right

  def x(self, seconds: float) -> int:
    """Pixel column of a time, clipped to the plot (nothing is drawn over the
    labels, e.g. an early first hit before 0)."""
    seconds = min(max(seconds, 0.0), self.duration)
    return self.left + int(round(seconds * self.pixels_per_second))


def _auto_pitch_range(notes: Sequence, margin: int = 2, min_rows: int = 25) -> tuple[int, int]:
  """(low, high) MIDI pitches covering every pitched note plus `margin`,
  widened symmetrically to at least `min_rows` rows; (0, -1) if no pitched
  notes but drums (no pitched band), else C4..C6 for an empty roll."""
  pitched = [n.pitch for n in notes if not n.is_drum]
  if not pitched:
    return (0, -1) if notes else (60, 84)
  low, high = min(pitched) - margin, max(pitched) + margin
  if high - low + 1 < min_rows:
    extra = min_rows - (high - low + 1)
    low -= extra // 2
    high += extra - extra // 2
  if low < 0:
    low, high = 0, high - low
  if high > 127:
    low, high = max(0, low - (high - 127)), 127
  return low, high


def _make_layout(sequences: Sequence, pixels_per_second: float,
                 pitch_range: tuple[int, int] | None, row_height: int) -> _Layout:
  notes = [n for ns in sequences for n in ns.notes]
  low, high = pitch_range if pitch_range is not None else _auto_pitch_range(notes)
  drums = tuple(sorted({n.pitch for n in notes if n.is_drum}))
  duration = max([_end_time(ns) for ns in sequences] + [1.0])
  return _Layout(low=int(low), high=int(high), drums=drums, duration=duration,
                 pixels_per_second=pixels_per_second, row_height=row_height,
                 drum_row_height=max(row_height, 11))


def _draw_grid(draw: ImageDraw.ImageDraw, ns, layout: _Layout, top: int,
               bar_lines: bool) -> None:
  """Row shading, pitch labels (every C), drum labels, beat and bar lines and
  bar numbers (just above `top`)."""
  x0, x1 = layout.left, layout.left + layout.plot_width
  small = _font(10)
  for pitch in range(layout.low, layout.high + 1):
    y = top + (layout.high - pitch) * layout.row_height
    if pitch % 12 in (1, 3, 6, 8, 10):
      draw.rectangle([x0, y, x1, y + layout.row_height - 1], fill=BLACK_KEY_ROW)
    if pitch % 12 == 0:
      draw.line([(x0, y + layout.row_height - 1), (x1, y + layout.row_height - 1)],
                fill=GRID_C)
      draw.text((x0 - 6, y + layout.row_height / 2), f'C{pitch // 12 - 1}',
                fill=TEXT_SOFT, font=small, anchor='rm')
  drum_top = top + layout.pitched_height + layout.drum_gap
  for i, pitch in enumerate(layout.drums):
    y = drum_top + i * layout.drum_row_height
    if i % 2 == 0:
      draw.rectangle([x0, y, x1, y + layout.drum_row_height - 1], fill=DRUM_BAND)
    draw.text((x0 - 6, y + layout.drum_row_height / 2),
              DRUM_NAMES.get(pitch, f'dr {pitch}'), fill=TEXT_SOFT, font=_font(9),
              anchor='rm')
  bottom = top + layout.plot_height - 1
  if bar_lines:
    beat, beats_per_bar = _beat_and_bar(ns)
    num_beats = int(math.floor(layout.duration / beat + 1e-6))
    for b in range(num_beats + 1):
      x = layout.x(b * beat)
      if b % beats_per_bar:
        draw.line([(x, top), (x, bottom)], fill=GRID_BEAT)
    for b in range(0, num_beats + 1, beats_per_bar):
      x = layout.x(b * beat)
      draw.line([(x, top), (x, bottom)], fill=GRID_BAR)
      if b < num_beats:
        draw.text((x + 3, top - 2), str(b // beats_per_bar + 1), fill=TEXT_SOFT,
                  font=small, anchor='ld')
  draw.rectangle([x0, top, x1, bottom], outline=GRID_BAR)


def _draw_notes(draw: ImageDraw.ImageDraw, ns, layout: _Layout, top: int,
                styles: dict) -> None:
  """Every note as a rectangle: colour per part, fill brightness = velocity.
  Pitched notes outside the layout's pitch range are skipped."""
  drum_top = top + layout.pitched_height + layout.drum_gap
  drum_index = {p: i for i, p in enumerate(layout.drums)}
  min_drum_seconds = 5.0 / layout.pixels_per_second
  for note in sorted(ns.notes, key=lambda n: n.start_time):
    if note.is_drum:
      y0 = drum_top + drum_index[note.pitch] * layout.drum_row_height + 2
      y1 = y0 + layout.drum_row_height - 5
      end = note.start_time + max(note.end_time - note.start_time, min_drum_seconds)
    elif layout.low <= note.pitch <= layout.high:
      y0 = top + (layout.high - note.pitch) * layout.row_height
      y1 = y0 + layout.row_height - 2
      end = note.end_time
    else:
      continue
    colour = styles[Part(note.instrument, note.program, note.is_drum)][1]
    x0 = layout.x(note.start_time) + 1
    x1 = max(x0 + 2, layout.x(end) - 1)
    draw.rectangle([x0, y0, x1, max(y0, y1)], fill=_shade(colour, note.velocity),
                   outline=_darken(colour))


def _legend_entries(styles: dict) -> list[tuple[str, tuple]]:
  seen = []
  for name, colour in styles.values():
    if (name, colour) not in seen:
      seen.append((name, colour))
  return seen


def _legend_width(styles: dict) -> int:
  """Pixels the legend needs (a one-bar multitrack roll is narrower)."""
  font = _font(11)
  return sum(15 + int(font.getlength(name)) + 16 for name, _ in _legend_entries(styles))


def _draw_legend(draw: ImageDraw.ImageDraw, styles: dict, x: int, y: int) -> None:
  """Colour swatch + name for every distinct legend entry, left to right from
  (x, y) (top-left)."""
  font = _font(11)
  for name, colour in _legend_entries(styles):
    draw.rectangle([x, y + 2, x + 10, y + 12], fill=colour, outline=_darken(colour))
    draw.text((x + 15, y + 7), name, fill=TEXT, font=font, anchor='lm')
    x += 15 + int(draw.textlength(name, font=font)) + 16


def _header_height(title: str | None, legend: bool) -> int:
  return (22 if title else 0) + (18 if legend else 0) + 16   # + bar numbers


def _render_roll(ns, layout: _Layout, styles: dict, title: str | None,
                 legend: bool, bar_lines: bool) -> Image.Image:
  """One roll image: optional title, optional legend, bar numbers, plot."""
  top = _header_height(title, legend)
  width = layout.width
  if title:
    width = max(width, layout.left + int(_font(14, True).getlength(title)) + layout.right)
  if legend and styles:
    width = max(width, layout.left + _legend_width(styles))
  image = Image.new('RGB', (width, top + layout.plot_height + 8), BACKGROUND)
  draw = ImageDraw.Draw(image)
  y = 4
  if title:
    draw.text((layout.left, y), title, fill=TEXT, font=_font(14, True))
    y += 22
  if legend and styles:
    _draw_legend(draw, styles, layout.left, y)
  _draw_grid(draw, ns, layout, top, bar_lines)
  _draw_notes(draw, ns, layout, top, styles)
  _draw_drum_timing(draw, ns, layout, top)
  return image


TIMING_EARLY = (200, 60, 40)    # played before the 16th-note grid
TIMING_LATE = (40, 90, 200)     # played after it


def _draw_drum_timing(draw: ImageDraw.ImageDraw, ns, layout: _Layout,
                      top: int) -> None:
  """Micro-timing of drum hits (GrooVAE): a hit off the 16th-note grid gets a
  line from its grid position to its onset along the top of its box (red:
  early, blue: late) and a tick at the grid position."""
  if not layout.drums:
    return
  beat, _ = _beat_and_bar(ns)
  step = beat / 4.0
  drum_top = top + layout.pitched_height + layout.drum_gap
  drum_index = {p: i for i, p in enumerate(layout.drums)}
  for note in ns.notes:
    if not note.is_drum or note.pitch not in drum_index:
      continue
    grid = round(note.start_time / step) * step
    if abs(note.start_time - grid) < 0.02 * step:
      continue
    y = drum_top + drum_index[note.pitch] * layout.drum_row_height + 1
    colour = TIMING_EARLY if note.start_time < grid else TIMING_LATE
    xg, xn = layout.x(grid), layout.x(note.start_time)
    draw.line([(min(xg, xn), y), (max(xg, xn), y)], fill=colour, width=2)
    draw.line([(xg, y - 1), (xg, y + layout.drum_row_height - 5)], fill=colour)


def piano_roll_image(ns, *, pixels_per_second: float = 100.0,
                     pitch_range: tuple[int, int] | None = None,
                     bar_lines: bool = True, title: str | None = None,
                     row_height: int = 8, legend: bool = True) -> Image.Image:
  """A piano-roll picture of `ns`.

  Pitched notes sit on a keyboard grid (high pitches at the top, black-key
  rows shaded, every C labelled); drums get their own band below, one row per
  drum pitch, labelled with GM drum names. Colour = part (melody blue, bass
  orange, drums green, further parts other colours; a legend names them);
  fill brightness = velocity. Bar lines (dark, numbered) and beat lines
  (light) come from the first tempo and time signature. Drum hits off the
  16th-note grid show their timing offset (red early, blue late).

  Args:
    ns: a NoteSequence.
    pixels_per_second: horizontal scale.
    pitch_range: (low, high) MIDI pitches shown, inclusive; None = every
      pitched note plus 2 semitones, at least 25 rows.
    bar_lines: draw the bar / beat grid.
    title: text above the roll.
    row_height: pixels per pitch row (drum rows are at least 11).
    legend: draw the part legend.

  Returns:
    An RGB image about `56 + duration * pixels_per_second + 12` wide and
    `header + rows * row_height (+ drum band) + 8` high, where duration is
    `max(ns.total_time, last note end, 1)` seconds.
  """
  layout = _make_layout([ns], pixels_per_second, pitch_range, row_height)
  styles = _part_styles(_parts(ns.notes))
  return _render_roll(ns, layout, styles, title, legend, bar_lines)


def write_piano_roll_png(ns, path: str | Path, **kwargs) -> None:
  """Saves `piano_roll_image(ns, **kwargs)` as a PNG at `path`."""
  piano_roll_image(ns, **kwargs).save(str(path), format='PNG')


def interpolation_strip(sequences: Sequence, path: str | Path,
                        labels: Sequence[str] | None = None, *,
                        pixels_per_second: float = 100.0, row_height: int = 5,
                        columns: int | None = None,
                        title: str | None = None) -> Image.Image:
  """Every step of an interpolation in one PNG, side by side in a grid.

  All steps share one pitch range, one drum band, one time scale and one
  legend (at the top), so they compare at a glance. Steps run left to right,
  then top to bottom; each carries its label at its left ('A', '1', ..., 'B'
  by default).

  Args:
    sequences: the NoteSequences, in order.
    path: where the PNG goes.
    labels: one string per sequence; default 'A', '1', ..., 'B'.
    pixels_per_second, row_height: as in `piano_roll_image`.
    columns: steps per row; None = as many as keep the picture about 1.6:1
      and at most 2400 px wide (one column for long sequences).
    title: optional text above the grid.

  Returns:
    The image (also written to `path`): `columns` cells wide, each cell
    `40 + 56 + longest duration * pixels_per_second + 12` px.
  """
  sequences = list(sequences)
  if labels is None:
    labels = _default_labels(len(sequences))
  if len(labels) != len(sequences):
    raise ValueError(f'{len(labels)} labels for {len(sequences)} sequences')
  layout = _make_layout(sequences, pixels_per_second, None, row_height)
  styles = _part_styles(_parts(n for ns in sequences for n in ns.notes))
  rolls = [_render_roll(ns, layout, styles, None, False, True) for ns in sequences]
  label_width = 40
  cell_w = label_width + max([r.width for r in rolls] + [layout.width])
  cell_h = max([r.height for r in rolls] + [1])
  columns = columns or _auto_columns(len(rolls), cell_w, cell_h)
  rows = max(1, math.ceil(len(rolls) / columns))
  header = (24 if title else 0) + 20
  strip = Image.new('RGB', (columns * cell_w, header + rows * cell_h + 4), BACKGROUND)
  draw = ImageDraw.Draw(strip)
  y = 4
  if title:
    draw.text((label_width + layout.left, y), title, fill=TEXT, font=_font(14, True))
    y += 24
  _draw_legend(draw, styles, label_width + layout.left, y)
  plot_middle = _header_height(None, False) + layout.plot_height / 2
  for i, (roll, label) in enumerate(zip(rolls, labels)):
    x, y = (i % columns) * cell_w, header + (i // columns) * cell_h
    strip.paste(roll, (x + label_width, y))
    draw.text((x + label_width // 2 + 4, y + plot_middle), str(label), fill=TEXT,
              font=_font(16, True), anchor='mm')
  strip.save(str(path), format='PNG')
  return strip


def _auto_columns(n: int, cell_w: int, cell_h: int, aspect: float = 1.6,
                  max_width: int = 2400) -> int:
  """Columns for n cells whose grid is closest to `aspect` (width / height)
  without exceeding `max_width` pixels (at least 1)."""
  best, best_score = 1, float('inf')
  for c in range(1, max(n, 1) + 1):
    if c > 1 and c * cell_w > max_width:
      break
    score = abs(math.log(c * cell_w / (math.ceil(n / c) * cell_h) / aspect))
    if score < best_score:
      best, best_score = c, score
  return best


def _default_labels(n: int) -> list[str]:
  if n == 1:
    return ['A']
  return ['A'] + [str(i) for i in range(1, n - 1)] + ['B']


# -- audio -------------------------------------------------------------------------

# Every note rings on for this long after its end (the envelope's release), so
# the rendered audio is this much longer than the sequence.
RELEASE_SECONDS = 0.25
# The whole buffer fades out over this long, in case a drum hit is cut off.
_FINAL_FADE_SECONDS = 0.01
_PEAK = 0.89          # about -1 dBFS after normalisation


def audio_length(ns, sample_rate: int = 22050) -> int:
  """Number of samples `synthesize` returns:
  `round(T * sample_rate) + round(RELEASE_SECONDS * sample_rate)` where
  `T = max(ns.total_time, last note end)` (0 for an empty sequence, so an
  empty sequence gives RELEASE_SECONDS of silence)."""
  return (int(round(_end_time(ns) * sample_rate))
          + int(round(RELEASE_SECONDS * sample_rate)))


def _adsr(held: int, sample_rate: int, attack: float, decay: float,
          sustain: float, release: float) -> np.ndarray:
  """Envelope, shape [held + release samples], in [0, 1].

  Linear attack to 1, exponential decay towards `sustain` while held, then a
  raised-cosine fade from the level reached to exactly 0 over `release`.
  """
  t = np.arange(held) / sample_rate
  attack = max(attack, 1.0 / sample_rate)
  on = np.where(t < attack, t / attack,
                sustain + (1.0 - sustain) * np.exp(-(t - attack) / max(decay, 1e-4)))
  level = on[-1] if held else 0.0
  r = max(int(round(release * sample_rate)), 1)
  off = level * 0.5 * (1.0 + np.cos(np.pi * np.arange(1, r + 1) / r))
  return np.concatenate([on, off])


def _harmonics(freq: float, t: np.ndarray, weights: Sequence[float],
               sample_rate: int, decay_per_harmonic: float = 0.0) -> np.ndarray:
  """Sum of sine harmonics k * freq (k = 1..len(weights)) weighted by
  `weights`, harmonic k decaying as exp(-t * k * decay_per_harmonic); those
  above 0.45 * sample_rate are dropped (no aliasing). Shape = t.shape."""
  out = np.zeros_like(t)
  for k, w in enumerate(weights, start=1):
    if w and k * freq < 0.45 * sample_rate:
      partial = np.sin(2 * np.pi * k * freq * t)
      if decay_per_harmonic:
        partial *= np.exp(-t * k * decay_per_harmonic)
      out += w * partial
  return out


def _family(program: int) -> str:
  """GM program (0-127) -> voice family name used by `_pitched_voice`."""
  if _is_bass(program):
    return 'bass'
  if 16 <= program <= 23:
    return 'organ'
  if 24 <= program <= 31 or 104 <= program <= 111:
    return 'pluck'
  if 40 <= program <= 55 or 88 <= program <= 103:
    return 'pad'
  if 56 <= program <= 79:
    return 'wind'
  if 80 <= program <= 87:
    return 'lead'
  return 'piano'


def _pitched_voice(pitch: int, seconds: float, velocity: int, program: int,
                   sample_rate: int) -> np.ndarray:
  """One pitched note, float32 shape [held + release samples], peak about
  velocity / 127. Voice by program family:

  piano: FM (ratio 1) whose brightness and level decay, like a struck string;
  bass: sine + a little 2nd/3rd harmonic, soft-saturated, round;
  organ: drawbar-style harmonics, sustained; pluck: fast-decaying harmonics;
  pad: soft harmonics, slow attack; wind: FM tracking the envelope;
  lead: odd harmonics (square-ish).
  """
  family = _family(program)
  freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
  held = max(int(round(seconds * sample_rate)), 1)
  release = RELEASE_SECONDS if family in ('pad', 'organ', 'wind') else RELEASE_SECONDS * 0.8
  if family == 'piano':
    env = _adsr(held, sample_rate, 0.003, 0.35, 0.35, release)
    t = np.arange(len(env)) / sample_rate
    index = 1.6 * np.exp(-t * 5.0) + 0.15
    modulator = index * np.sin(2 * np.pi * freq * t)
    body = np.sin(2 * np.pi * freq * t + modulator)
    body *= np.exp(-t * (0.8 + freq / 600.0))
  elif family == 'bass':
    env = _adsr(held, sample_rate, 0.006, 0.5, 0.6, release)
    t = np.arange(len(env)) / sample_rate
    body = np.tanh(1.4 * _harmonics(freq, t, [1.0, 0.35, 0.12], sample_rate)) / np.tanh(1.4)
  elif family == 'organ':
    env = _adsr(held, sample_rate, 0.01, 0.1, 0.9, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0.6, 0.35, 0.3, 0, 0.15, 0, 0.1], sample_rate) / 1.6
  elif family == 'pluck':
    env = _adsr(held, sample_rate, 0.002, 0.3, 0.1, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0.5, 0.33, 0.25, 0.2, 0.16], sample_rate, 2.0) / 1.4
  elif family == 'pad':
    env = _adsr(held, sample_rate, 0.08, 0.3, 0.8, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0.5, 0.3, 0.2, 0.12], sample_rate) / 1.5
  elif family == 'wind':
    env = _adsr(held, sample_rate, 0.03, 0.2, 0.75, release)
    t = np.arange(len(env)) / sample_rate
    body = np.sin(2 * np.pi * freq * t + 1.2 * env * np.sin(2 * np.pi * freq * t))
  else:  # lead
    env = _adsr(held, sample_rate, 0.005, 0.2, 0.7, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0, 1 / 3, 0, 1 / 5, 0, 1 / 7], sample_rate) / 1.3
  return (body * env * (velocity / 127.0)).astype(np.float32)


def _highpass(x: np.ndarray, times: int = 1) -> np.ndarray:
  """Crude high-pass: first difference, `times` times (same shape)."""
  for _ in range(times):
    x = np.diff(x, prepend=0.0)
  return x


def _drum_voice(pitch: int, velocity: int, sample_rate: int,
                rng: np.random.Generator) -> np.ndarray:
  """One GM drum hit (channel-10 pitch), float32 shape [samples], ending at 0.

  Kick: falling sine sweep; snare: noise + tone; clap: noise bursts; hats:
  high-passed noise (closed short, open long); toms: falling sine at a
  pitch-dependent frequency; cymbals / ride: high-passed noise + inharmonic
  partials; cowbell: two square-ish tones; anything else: a short click.
  """
  def length(seconds):
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    return t, rng.standard_normal(n)

  if pitch in (35, 36):
    t, noise = length(0.35)
    phase = 2 * np.pi * (48 * t + 110 / 28 * (1 - np.exp(-28 * t)))
    sound = np.sin(phase) * np.exp(-t * 9) + 0.15 * noise * np.exp(-t * 200)
  elif pitch in (38, 40, 37):
    t, noise = length(0.22 if pitch != 37 else 0.06)
    sound = (0.55 * _highpass(noise) / 2 * np.exp(-t * 18)
             + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30))
  elif pitch == 39:
    t, noise = length(0.2)
    bursts = sum(np.exp(-np.maximum(t - d, 0) * 60) * (t >= d) for d in (0, 0.01, 0.02))
    sound = 0.5 * _highpass(noise) / 2 * bursts
  elif pitch in (42, 44, 46, 22, 26):
    open_hat = pitch in (46, 26)
    t, noise = length(0.45 if open_hat else 0.08)
    sound = 0.35 * _highpass(noise, 2) / 4 * np.exp(-t * (7 if open_hat else 55))
  elif pitch in (41, 43, 45, 47, 48, 50):
    t, noise = length(0.4)
    base = 80.0 * 2.0 ** ((pitch - 41) / 9.0)
    phase = 2 * np.pi * (base * t + base * 0.6 / 12 * (1 - np.exp(-12 * t)))
    sound = 0.8 * np.sin(phase) * np.exp(-t * 8) + 0.1 * noise * np.exp(-t * 60)
  elif pitch in (49, 52, 55, 57, 51, 53, 59):
    ride = pitch in (51, 53, 59)
    t, noise = length(0.8)
    metal = np.zeros_like(t)
    for f in ((3150, 4430, 5710) if ride else (2390, 3730, 6070)):
      metal += np.sin(2 * np.pi * f * t)
    sound = (0.25 * _highpass(noise, 2) / 4 + (0.12 if ride else 0.05) * metal)
    sound *= np.exp(-t * (5 if ride else 3.5))
  elif pitch in (54, 56):
    t, noise = length(0.25)
    square = lambda f: np.tanh(4 * np.sin(2 * np.pi * f * t))
    sound = 0.3 * (square(540) + square(800)) * np.exp(-t * 14)
  else:
    t, noise = length(0.05)
    sound = 0.4 * _highpass(noise) / 2 * np.exp(-t * 80)
  # 1 ms fade in and 5 ms fade out: no clicks.
  n = len(sound)
  fade = np.ones(n)
  a, r = min(n, max(1, sample_rate // 1000)), min(n, max(1, sample_rate // 200))
  fade[:a] *= np.linspace(0, 1, a)
  fade[n - r:] *= np.linspace(1, 0, r)
  return (sound * fade * (velocity / 127.0)).astype(np.float32)


def synthesize(ns, sample_rate: int = 22050) -> np.ndarray:
  """Renders `ns` to mono audio with the built-in synthesiser.

  Returns:
    float32 array, shape [audio_length(ns, sample_rate)] =
    [round(T * sample_rate) + round(RELEASE_SECONDS * sample_rate)] with
    T = max(ns.total_time, last note end): the sequence plus a
    RELEASE_SECONDS tail in which the last notes die away. Peak-normalised to
    0.89 (about -1 dBFS), so always within [-1, 1]; all zeros if there are no
    notes. Deterministic (drum noise uses a fixed seed). Note times are
    clipped into [0, T]: a note starting before 0 (GrooVAE's early first hit)
    starts at 0; a zero-length note is a short blip.
  """
  out = np.zeros(audio_length(ns, sample_rate), np.float32)
  rng = np.random.default_rng(0)
  end_time = _end_time(ns)
  for note in ns.notes:
    if note.velocity <= 0:
      continue
    begin, end = _span(note, end_time)
    start = int(round(begin * sample_rate))
    if note.is_drum:
      sound = _drum_voice(note.pitch, note.velocity, sample_rate, rng)
    else:
      sound = _pitched_voice(note.pitch, end - begin, note.velocity, note.program,
                             sample_rate)
    stop = min(len(out), start + len(sound))
    out[start:stop] += sound[:stop - start]
  fade = min(len(out), int(_FINAL_FADE_SECONDS * sample_rate))
  if fade:
    out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
  peak = float(np.max(np.abs(out))) if len(out) else 0.0
  if peak > 0:
    out *= np.float32(_PEAK / peak)
  return out


def preview_audio(ns, sample_rate: int = 22050) -> np.ndarray:
  """Audio for previews: FluidSynth with a GM SoundFont when the system has
  both (see `soundfont.find`), else `synthesize`. Same shape and peak as
  `synthesize`: float32 `[audio_length(ns, sample_rate)]`, peak 0.89."""
  from musicvae_jax.render import soundfont
  engine = soundfont.find()
  if engine is None:
    return synthesize(ns, sample_rate)
  out = soundfont.synthesize(ns, sample_rate, engine, audio_length(ns, sample_rate))
  peak = float(np.max(np.abs(out))) if len(out) else 0.0
  if peak > 0:
    out *= np.float32(_PEAK / peak)
  return out


def write_wav(ns, path: str | Path, sample_rate: int = 22050) -> None:
  """Writes `preview_audio(ns, sample_rate)` as a 16-bit PCM mono WAV file."""
  audio = preview_audio(ns, sample_rate)
  pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype('<i2')
  with wave.open(str(path), 'wb') as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(sample_rate)
    f.writeframes(pcm.tobytes())


# -- page ----------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
       margin: 0; background: #f4f5f7; color: #1f2430; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.5em; font-weight: 650; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid #dfe2e8; border-radius: 8px;
        padding: 14px 16px; margin: 0 0 16px; }
.card h2 { font-size: 1.05em; margin: 0 0 4px; }
.caption { color: #5b6270; font-size: 0.92em; margin: 0 0 8px; }
.roll { overflow-x: auto; }
.roll img { display: block; max-width: none; }
.top img { display: block; max-width: 100%; height: auto; }
.controls { display: flex; align-items: center; gap: 14px; margin-top: 8px; }
.controls audio { flex: 1; max-width: 520px; }
.controls a { color: #2563eb; text-decoration: none; font-weight: 600;
              white-space: nowrap; }
.controls a:hover { text-decoration: underline; }
"""


def _url(path: str) -> str:
  """A relative path as an escaped attribute value (spaces etc. %-quoted)."""
  return html.escape(urllib.parse.quote(str(path), safe="/:#?&=@%+~-_.!*'(),;"))


def write_index_html(out_dir: str | Path, items: Sequence[dict], title: str,
                     top_image: str | None = None) -> Path:
  """Writes `out_dir/index.html` and returns its path.

  A self-contained page (inline CSS, no scripts, no external assets): the
  optional `top_image` (e.g. the interpolation strip), then per item a card
  with its title, optional caption, piano roll, an `<audio controls>` player
  and a MIDI download link. All text is HTML-escaped.

  Args:
    out_dir: folder of the page (created if missing).
    items: dicts with `title`, `midi`, `png`, `wav` (paths relative to
      out_dir) and optionally `caption`.
    title: page title and heading.
    top_image: optional path (relative to out_dir) of an image shown first.
  """
  esc = html.escape
  parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<title>{esc(title)}</title><style>{_STYLE}</style></head>',
           f'<body><main><h1>{esc(title)}</h1>']
  if top_image:
    parts.append(f'<div class="card top"><img src="{_url(top_image)}" '
                 f'alt="all steps"></div>')
  for item in items:
    name = esc(str(item['title']))
    caption = item.get('caption')
    parts += [
        '<section class="card">', f'<h2>{name}</h2>',
        f'<p class="caption">{esc(str(caption))}</p>' if caption else '',
        f'<div class="roll"><img src="{_url(item["png"])}" '
        f'alt="piano roll of {name}" loading="lazy"></div>',
        '<div class="controls">',
        f'<audio controls preload="none" src="{_url(item["wav"])}"></audio>',
        f'<a href="{_url(item["midi"])}" download>&#x2B07; MIDI</a>',
        '</div></section>']
  parts.append('</main></body></html>')
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  path = out_dir / 'index.html'
  path.write_text('\n'.join(p for p in parts if p) + '\n', encoding='utf-8')
  return path
