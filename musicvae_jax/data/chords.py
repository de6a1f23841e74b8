"""Chord controls: Magenta's triad chord one-hot encoding, chord inference, and
the chord-conditioned melody converter (`cat-mel_2bar_med_chords`). Numpy and
note-seq only.

Chord classes (note-seq's `TriadChordOneHotEncoding`, 49 classes):
  0 = no chord ("N.C."), 1 + root = major, 13 + root = minor,
  25 + root = augmented, 37 + root = diminished (root 0 = C, 1 = C#, ...).

Windows of a chord converter are int16 `[n, T, K + 1]`: the `K` token parts
(`part_depths`) then one control column (`control_depths = (49,)`), the chord
class active at each step. `split_controls` separates them; the pipeline
batches them as `batch['tokens']` and `batch['controls']`.

Magenta's rules (`OneHotMelodyConverter(chord_encoding=TriadChordOneHotEncoding())`,
per piece after splitting at tempo / time-signature changes):
  * notes outside 21..108 (and, with `valid_programs`, of other programs) are
    dropped first; cat-mel_2bar_med_chords keeps every program;
  * the piece is quantised (4/4 only); unless it already carries chord symbols
    (for example from ABC), note-seq's `infer_chords_for_sequence` infers one
    chord per half bar on the whole quantised piece (our identical, faster
    copy, `data/chord_inference.py`); a piece where inference
    fails (`ChordInferenceError`) gives no windows;
  * melodies are extracted as for the plain melody converter, and a window's
    note-offs before its first note become "no event" (note_seq's `Melody`
    does this to every slice Magenta takes); each window's
    step gets the chord active at that step (past the last chord: the last
    chord; a piece without any chord: N.C., class 0);
  * a chord the triad encoding cannot represent (a piece annotated with, say,
    "C7sus") drops the piece, as in Magenta;
  * identical (melody, chords) windows are kept once. Magenta de-duplicates
    through a Python set, so its order, and which 5 survive the cap, depend on
    PYTHONHASHSEED; ours is the order of first appearance (instrument, then
    melody, then window start), and the cap of `max_windows` is applied to
    the file's first windows in that order (eval) or a seeded random subset
    (training), like every other converter here.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Sequence

import note_seq
import numpy as np
from note_seq import chord_symbols_lib, chords_lib, sequences_lib
from note_seq.protobuf import music_pb2

from musicvae_jax.data import chord_inference, converter_base, converters, encodings

VERSION = 'melody-chords-v1'
TRIAD_CLASSES = 49
NO_CHORD_CLASS = 0
NO_CHORD = note_seq.NO_CHORD            # 'N.C.'
_TRIAD = note_seq.TriadChordOneHotEncoding()


class ChordSymbolError(ValueError):
  """A chord symbol the triad encoding cannot represent."""


# -- the encoding (pure functions) ---------------------------------------------
def chord_class(symbol: str) -> int:
  """Chord symbol ('C', 'Am', 'F#dim', 'Bbaug', 'G7' -> G major, 'N.C.') -> class 0..48.

  Raises ChordSymbolError (one line naming the symbol) for anything else.
  """
  text = symbol.strip()
  if text.upper() in ('N.C.', 'NC', 'N.C', 'N'):
    return NO_CHORD_CLASS
  try:
    return int(_TRIAD.encode_event(text))
  except (note_seq.ChordSymbolError, note_seq.ChordEncodingError) as error:
    raise ChordSymbolError(
        f'unknown chord symbol {symbol!r}: use a root A-G with optional #/b and '
        f'a triad quality (C, Am, F#dim, Bbaug; 7ths map to their triad) or '
        f'N.C. ({error})') from None


@functools.lru_cache(maxsize=1024)
def triad_class(figure: str) -> int:
  """note-seq's `TriadChordOneHotEncoding().encode_event(figure)`, memoised:
  parsing a figure costs ~40 us and a piece repeats a few dozen figures on
  every step of every window. Raises what note-seq raises (ChordSymbolError,
  ChordEncodingError; exceptions are not cached)."""
  return int(_TRIAD.encode_event(figure))


def chord_symbol(index: int) -> str:
  """Class 0..48 -> note-seq's figure ('N.C.', 'C', 'C#m', 'Daug', 'Edim')."""
  return _TRIAD.decode_event(int(index))


def transpose_chord_classes(classes: np.ndarray, shifts: np.ndarray) -> np.ndarray:
  """Moves chord roots of `classes [n, ...]` by `shifts [n]` semitones (mod 12).

  No chord (0) stays 0; the triad quality is kept: `1 + 12 q + r -> 1 + 12 q + (r + s) % 12`.
  """
  classes = np.asarray(classes)
  shift = np.asarray(shifts).reshape(-1, *([1] * (classes.ndim - 1)))
  quality, root = np.divmod(classes.astype(np.int64) - 1, 12)
  moved = 1 + 12 * quality + (root + shift) % 12
  return np.where(classes == NO_CHORD_CLASS, classes, moved).astype(classes.dtype)


def parse_chords(text: str | Sequence[str], num_steps: int,
                 steps_per_bar: int = 16) -> np.ndarray:
  """'C G Am F' -> chord classes per step, int16 `[T]`.

  With exactly `num_steps` symbols there is one per step; otherwise one chord
  per bar, and the result has `len(symbols) * steps_per_bar` steps (a flat
  decoder generates that many; `num_steps` is only used to tell the two
  apart). Symbols are separated by spaces or commas.
  """
  symbols = re.split(r'[\s,]+', text.strip()) if isinstance(text, str) else list(text)
  symbols = [s for s in symbols if s]
  if not symbols:
    raise ChordSymbolError('no chord symbols given')
  classes = np.asarray([chord_class(s) for s in symbols], np.int16)
  if len(classes) == num_steps:
    return classes
  return np.repeat(classes, steps_per_bar)


def chords_to_annotations(ns: music_pb2.NoteSequence, classes: np.ndarray,
                          seconds_per_step: float) -> music_pb2.NoteSequence:
  """Adds CHORD_SYMBOL text annotations (one per chord change) to `ns` in
  place, as Magenta's `from_tensors` does with controls; returns `ns`."""
  figures = [chord_symbol(c) for c in np.asarray(classes).reshape(-1)]
  times = [step * seconds_per_step for step in range(len(figures))]
  chords_lib.add_chords_to_sequence(ns, figures, times)
  return ns


def add_accompaniment(ns: music_pb2.NoteSequence, instrument: int = 1,
                      program: int = 0, velocity: int = 60) -> music_pb2.NoteSequence:
  """Renders the chord annotations as held block chords (note-seq's
  BasicChordRenderer: triad in octave 4, bass in octave 3) on `instrument`."""
  chords_lib.BasicChordRenderer(velocity=velocity, instrument=instrument,
                                program=program).render(ns)
  return ns


# -- windows ------------------------------------------------------------------
def clean_leading_note_offs(tokens: np.ndarray) -> np.ndarray:
  """Melody tokens `[T]` with every NOTE_OFF before the first pitch turned into
  NO_EVENT: what note_seq's `Melody(events=...)` does to a slice, so Magenta's
  windows never start with a note-off. Returns a copy."""
  tokens = np.array(tokens)
  pitched = np.flatnonzero(tokens >= encodings.FIRST_PITCH_TOKEN)
  head = pitched[0] if len(pitched) else len(tokens)
  tokens[:head] = encodings.NO_EVENT
  return tokens


def split_controls(windows: np.ndarray, num_controls: int):
  """`[..., K + C]` windows -> (tokens `[..., K]`, controls `[..., C]` or None)."""
  windows = np.asarray(windows)
  if not num_controls:
    return windows, None
  return windows[..., :-num_controls], windows[..., -num_controls:]


def num_controls(converter) -> int:
  """Control columns a converter's windows carry (0 for most)."""
  return len(converter.control_depths)


class _Steps:
  """What `chords_lib.event_list_chords` reads of an event list."""

  def __init__(self, start: int, length: int):
    self.steps = range(start, start + length)


class ChordMelodyConverter(converter_base.Converter):
  """Magenta-exact chord-conditioned melody windows (see the module docstring)."""

  encoding = 'melody'
  part_depths = (encodings.MELODY_CLASSES,)
  control_depths = (TRIAD_CLASSES,)
  input_tables = None

  def __init__(self, slice_bars: int = 2, steps_per_quarter: int = 4,
               valid_programs: Sequence[int] | None = None, max_windows: int = 5,
               max_bars: int = 100, gap_bars: float = 1.0,
               min_unique_pitches: int = 1):
    self.slice_bars = slice_bars
    self.steps_per_quarter = steps_per_quarter
    self.steps_per_bar = 4 * steps_per_quarter
    self.seq_len = slice_bars * self.steps_per_bar
    self.valid_programs = None if valid_programs is None else frozenset(valid_programs)
    self.max_windows = max_windows
    self.max_bars = max_bars
    self.gap_bars = gap_bars
    self.min_unique_pitches = min_unique_pitches

  @property
  def input_depth(self) -> int:
    return sum(self.part_depths)

  def fingerprint(self) -> dict:
    """Every setting that changes the windows (cache key)."""
    return {
        'version': VERSION, 'encoding': self.encoding, 'controls': 'triad_chords',
        'slice_bars': self.slice_bars, 'steps_per_quarter': self.steps_per_quarter,
        'valid_programs': None if self.valid_programs is None else sorted(self.valid_programs),
        'max_windows': self.max_windows, 'max_bars': self.max_bars,
        'gap_bars': self.gap_bars, 'min_unique_pitches': self.min_unique_pitches,
    }

  def _keep(self, note) -> bool:
    if self.valid_programs is not None and note.program not in self.valid_programs:
      return False
    return encodings.MIN_PITCH <= note.pitch <= encodings.MAX_PITCH

  def _piece_windows(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    piece = copy.deepcopy(piece)
    kept = [n for n in piece.notes if self._keep(n)]
    del piece.notes[:]
    piece.notes.extend(kept)
    quantized = converters._quantize(piece, self.steps_per_quarter, self.steps_per_bar)
    if quantized is None:
      return []
    if not any(a.annotation_type == chords_lib.CHORD_SYMBOL
               for a in quantized.text_annotations):
      try:
        chord_inference.infer_chords_for_sequence(quantized)
      except chord_inference.ChordInferenceError:
        return []
    melodies = converters.extract_melody_events(
        quantized, self.steps_per_bar, self.gap_bars,
        self.max_bars * self.steps_per_bar, self.min_unique_pitches)
    slices = []
    for melody in melodies:
      tokens = encodings.melody_events_to_tokens(melody)
      for end in range(self.seq_len, len(tokens) + 1, self.steps_per_bar):
        start = end - self.seq_len
        slices.append((clean_leading_note_offs(tokens[start:end]),
                       melody.start_step + start))
    if not slices:
      return []
    try:
      chord_lists = chords_lib.event_list_chords(
          quantized, [_Steps(start, self.seq_len) for _, start in slices])
      chord_tokens = [[triad_class(c) for c in chords] for chords in chord_lists]
    except (chords_lib.CoincidentChordsError, note_seq.ChordSymbolError,
            note_seq.ChordEncodingError):
      return []
    return [np.stack([tokens, np.asarray(chords, np.int16)], -1).astype(np.int16)
            for (tokens, _), chords in zip(slices, chord_tokens)]

  def all_windows(self, ns: music_pb2.NoteSequence) -> np.ndarray:
    """Every distinct (melody, chords) window `[n, T, 2]`, in order of first appearance."""
    seen, windows = set(), []
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
      for window in self._piece_windows(piece):
        key = window.tobytes()
        if key not in seen:
          seen.add(key)
          windows.append(window)
    if not windows:
      return np.zeros((0, self.seq_len, 2), np.int16)
    return np.stack(windows).astype(np.int16)

  def to_windows(self, ns: music_pb2.NoteSequence,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Up to `max_windows` distinct windows `[n, T, 2]` (random ones with `rng`)."""
    return converters.limit_windows(self.all_windows(ns), self.max_windows, rng)

  def default_controls(self, num_steps: int) -> np.ndarray:
    """Controls when none are given: no chord on every step, int16 `[T, 1]`."""
    return np.full((num_steps, 1), NO_CHORD_CLASS, np.int16)

  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 80, program: int = 0,
                       controls: np.ndarray | None = None,
                       accompaniment: bool = False) -> music_pb2.NoteSequence:
    """Melody tokens `[T]` / `[T, 1]` (or a whole window `[T, 2]`, whose second
    column is the chords) -> a NoteSequence with the melody and, when chords
    are known, CHORD_SYMBOL annotations (Magenta's `from_tensors`) and,
    with `accompaniment`, block chords on instrument 1."""
    tokens = np.asarray(tokens)
    if tokens.ndim == 2 and tokens.shape[-1] == 2 and controls is None:
      tokens, controls = tokens[:, :1], tokens[:, 1:]
    ns = encodings.melody_to_note_sequence(tokens.reshape(-1), self.steps_per_quarter,
                                           qpm, velocity, program)
    if controls is not None:
      chords = np.asarray(controls).reshape(len(tokens.reshape(-1)), -1)[:, 0]
      chords_to_annotations(ns, chords, 60.0 / qpm / self.steps_per_quarter)
      if accompaniment:
        add_accompaniment(ns)
    return ns

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Shifts melody pitches and chord roots by `shifts[n]` semitones.

    Returns (windows, valid [n]); an example whose melody would leave 21..108
    is invalid and comes back unchanged (chords included).
    """
    windows = np.asarray(windows)
    melody, valid = encodings.transpose_melody(windows[..., :1], shifts)
    chords = transpose_chord_classes(windows[..., 1:], np.where(valid, shifts, 0))
    return np.concatenate([melody, chords], -1).astype(windows.dtype), valid
