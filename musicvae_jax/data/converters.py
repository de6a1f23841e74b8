"""NoteSequence -> fixed-length token windows, with Magenta's extraction rules.

Melody (Magenta `OneHotMelodyConverter` with `extract_melodies`):
  * the sequence is split at every tempo or time-signature change; a piece is
    used only if it quantises to 16 steps per bar (4/4, also 2/2);
  * notes outside 21..108, of other programs (`melody_programs`) and drums
    are dropped;
  * per instrument, melodies are read with note_seq's `Melody`: on a step with
    several onsets the highest pitch wins, a new onset ends the sounding note,
    `gap_bars` (1) of silence ends a melody, which is padded to a bar line;
  * melodies shorter than one bar or with fewer than `min_unique_pitches`
    pitch classes (Magenta passes 1) are dropped, longer ones are cut to
    `max_bars` (100);
  * windows of `slice_bars` slide with a one-bar stride; identical windows are
    kept once; at most `max_windows_per_sequence` per sequence (a random
    subset when an `rng` is given, as in Magenta's training, else the first).

Tokens: 0 = NO_EVENT, 1 = NOTE_OFF, 2..89 = MIDI pitches 21..108.
Windows are int16 `[n, T, K]` (K = 1 for melodies).
"""

from __future__ import annotations

import copy
from typing import Sequence

import note_seq
import numpy as np
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from musicvae_jax.data import encodings

VERSION = 'melody-v1'
MEL_2BAR_PROGRAMS = tuple(range(32))


class MelodyConverter:
  """Magenta-exact melody windows (see the module docstring)."""

  encoding = 'melody'
  part_depths = (encodings.MELODY_CLASSES,)
  input_tables = None

  def __init__(self, slice_bars: int = 2, steps_per_quarter: int = 4,
               valid_programs: Sequence[int] | None = MEL_2BAR_PROGRAMS,
               max_windows: int = 5, max_bars: int = 100, gap_bars: float = 1.0,
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
        'version': VERSION, 'encoding': self.encoding,
        'slice_bars': self.slice_bars, 'steps_per_quarter': self.steps_per_quarter,
        'valid_programs': None if self.valid_programs is None else sorted(self.valid_programs),
        'max_windows': self.max_windows, 'max_bars': self.max_bars,
        'gap_bars': self.gap_bars, 'min_unique_pitches': self.min_unique_pitches,
    }

  # -- extraction ------------------------------------------------------------
  def _keep(self, note) -> bool:
    # Drum notes stay, as in Magenta's `is_valid`; `Melody` skips them
    # (filter_drums) after they anchored the melody's first bar.
    if self.valid_programs is not None and note.program not in self.valid_programs:
      return False
    return encodings.MIN_PITCH <= note.pitch <= encodings.MAX_PITCH

  def melodies(self, ns: music_pb2.NoteSequence) -> list[np.ndarray]:
    """All melodies (token arrays, lengths multiple of a bar) of one sequence."""
    out = []
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
      out.extend(self._piece_melodies(piece))
    return out

  def _piece_melodies(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    piece = copy.deepcopy(piece)
    kept = [n for n in piece.notes if self._keep(n)]
    del piece.notes[:]
    piece.notes.extend(kept)
    try:
      quantized = note_seq.quantize_note_sequence(piece, self.steps_per_quarter)
      if note_seq.steps_per_bar_in_quantized_sequence(quantized) != self.steps_per_bar:
        return []
    except (note_seq.BadTimeSignatureError, note_seq.NonIntegerStepsPerBarError,
            note_seq.NegativeTimeError, sequences_lib.MultipleTimeSignatureError,
            sequences_lib.MultipleTempoError):
      return []
    return extract_melodies(quantized, self.steps_per_bar, self.gap_bars,
                            self.max_bars * self.steps_per_bar,
                            self.min_unique_pitches)

  def all_windows(self, ns: music_pb2.NoteSequence) -> np.ndarray:
    """Every distinct window of a sequence, in order of first appearance."""
    seen, windows = set(), []
    for melody in self.melodies(ns):
      for end in range(self.seq_len, len(melody) + 1, self.steps_per_bar):
        window = melody[end - self.seq_len:end]
        key = window.tobytes()
        if key not in seen:
          seen.add(key)
          windows.append(window)
    if not windows:
      return np.zeros((0, self.seq_len, 1), np.int16)
    return np.stack(windows)[..., None].astype(np.int16)

  def fast_windows(self, arrays) -> np.ndarray:
    """`all_windows` on `fast_melody` arrays (a `midi_parse.NoteArrays` or a
    NoteSequence): identical result, no protobufs or per-step Python loops."""
    from musicvae_jax.data import fast_melody
    from musicvae_jax.data.midi_parse import NoteArrays
    if not isinstance(arrays, NoteArrays):
      arrays = NoteArrays.from_note_sequence(arrays)
    found = fast_melody.melodies(
        arrays, self.valid_programs, self.steps_per_quarter, self.gap_bars,
        self.max_bars, self.min_unique_pitches)
    return fast_melody.windows_from_melodies(found, self.seq_len, self.steps_per_bar)

  def to_windows(self, ns: music_pb2.NoteSequence,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Up to `max_windows` distinct windows `[n, T, 1]` (random ones with `rng`)."""
    windows = self.all_windows(ns)
    if self.max_windows and len(windows) > self.max_windows:
      if rng is None:
        windows = windows[:self.max_windows]
      else:
        pick = np.sort(rng.choice(len(windows), self.max_windows, replace=False))
        windows = windows[pick]
    return windows

  # -- decoding and augmentation ---------------------------------------------
  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 80, program: int = 0) -> music_pb2.NoteSequence:
    """Tokens `[T]` or `[T, 1]` -> a NoteSequence at `qpm`."""
    tokens = np.asarray(tokens).reshape(-1)
    return encodings.melody_to_note_sequence(tokens, self.steps_per_quarter, qpm,
                                             velocity, program)

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Shifts pitches by `shifts[n]` semitones.

    Returns (windows, valid [n]); an example with a note leaving 21..108 is
    invalid (Magenta drops it) and is returned unchanged.
    """
    return encodings.transpose_melody(windows, shifts)


def extract_melodies(quantized: music_pb2.NoteSequence, steps_per_bar: int,
                     gap_bars: float, max_steps: int,
                     min_unique_pitches: int) -> list[np.ndarray]:
  """Magenta's `extract_melodies` with the converter's arguments (min_bars=1,
  pad_end=True, highest note wins on polyphony), as token arrays."""
  melodies = []
  for instrument in sorted({n.instrument for n in quantized.notes}):
    start = 0
    while True:
      melody = note_seq.Melody()
      melody.from_quantized_sequence(
          quantized, search_start_step=start, instrument=instrument,
          gap_bars=gap_bars, ignore_polyphonic_notes=True, pad_end=True,
          filter_drums=True)
      # The next search starts at the bar line at or after this melody's end.
      start = melody.end_step + (-melody.end_step) % steps_per_bar
      if not melody:
        break
      if len(melody) < steps_per_bar:
        continue
      if len(melody) > max_steps:
        melody.set_length(max_steps - max_steps % steps_per_bar)
      if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
        continue
      melodies.append(encodings.melody_events_to_tokens(melody))
  return melodies


def make_converter(config) -> MelodyConverter:
  """The converter a config asks for."""
  if config.encoding == 'melody':
    programs = {'mel_2bar': MEL_2BAR_PROGRAMS, 'all': None}
    if config.melody_programs not in programs:
      raise ValueError(f"config.melody_programs={config.melody_programs!r}: "
                       "use 'mel_2bar' or 'all'")
    return MelodyConverter(
        slice_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
        valid_programs=programs[config.melody_programs],
        max_windows=config.max_windows_per_sequence)
  raise ValueError(f'config.encoding={config.encoding!r} has no converter yet')


def converter_from_fingerprint(fingerprint: dict) -> MelodyConverter:
  """Rebuilds a converter from its `fingerprint()` (worker processes)."""
  if fingerprint['encoding'] == 'melody':
    return MelodyConverter(
        slice_bars=fingerprint['slice_bars'],
        steps_per_quarter=fingerprint['steps_per_quarter'],
        valid_programs=fingerprint['valid_programs'],
        max_windows=fingerprint['max_windows'], max_bars=fingerprint['max_bars'],
        gap_bars=fingerprint['gap_bars'],
        min_unique_pitches=fingerprint['min_unique_pitches'])
  raise ValueError(f'no converter for encoding {fingerprint["encoding"]!r}')
