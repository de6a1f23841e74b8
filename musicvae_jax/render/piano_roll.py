"""NoteSequences -> piano-roll pictures (Pillow).

* `piano_roll_image` / `write_piano_roll_png`: one sequence.
* `interpolation_strip`: every step of an interpolation in one picture.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from musicvae_jax.render.common import _end_time, _part_styles, _parts, Part

BACKGROUND = (255, 255, 255)
BLACK_KEY_ROW = (244, 245, 248)
DRUM_BAND = (246, 248, 245)
GRID_BAR = (150, 154, 162)
GRID_BEAT = (222, 224, 230)
GRID_C = (205, 208, 216)
TEXT = (50, 54, 62)
TEXT_SOFT = (120, 124, 132)

DRUM_NAMES = {
    35: 'Kick', 36: 'Kick', 37: 'Stick', 38: 'Snare', 39: 'Clap', 40: 'Snare',
    41: 'Tom L', 42: 'HH cl', 43: 'Tom L', 44: 'HH pd', 45: 'Tom M',
    46: 'HH op', 47: 'Tom M', 48: 'Tom H', 49: 'Crash', 50: 'Tom H',
    51: 'Ride', 52: 'China', 53: 'Ride b', 54: 'Tamb', 55: 'Splash',
    56: 'Cowbell', 57: 'Crash', 59: 'Ride',
}


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


# -- layout and drawing ----------------------------------------------------------

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


# Grid lines closer than this (pixels) are left out; bar numbers get at least
# BAR_LABEL_PX each (every 2nd, 5th, 10th, ... bar on long rolls).
MIN_GRID_PX = 4
BAR_LABEL_PX = 28


def label_every(bar_px: float) -> int:
  """Label every n-th bar (n in 1, 2, 5, 10, 20, 50, ...) so that labels
  `bar_px` pixels apart per bar do not overlap."""
  every, steps = 1, (2, 2.5, 2)   # 1, 2, 5, 10, 20, 50, 100, ...
  i = 0
  while every * bar_px < BAR_LABEL_PX and every < 10**6:
    every = int(round(every * steps[i % 3]))
    i += 1
  return every


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
    beat_px = layout.x(beat) - layout.x(0)
    if beat_px >= MIN_GRID_PX:   # beat lines only where they do not fill the plot
      for b in range(num_beats + 1):
        if b % beats_per_bar:
          x = layout.x(b * beat)
          draw.line([(x, top), (x, bottom)], fill=GRID_BEAT)
    every = label_every(beat_px * beats_per_bar)
    for b in range(0, num_beats + 1, beats_per_bar):
      bar = b // beats_per_bar
      if beat_px * beats_per_bar >= MIN_GRID_PX or bar % every == 0:
        x = layout.x(b * beat)
        draw.line([(x, top), (x, bottom)], fill=GRID_BAR)
      if b < num_beats and bar % every == 0:
        draw.text((layout.x(b * beat) + 3, top - 2), str(bar + 1), fill=TEXT_SOFT,
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
