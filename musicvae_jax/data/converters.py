"""NoteSequence -> fixed-length token windows, with Magenta's extraction rules.

Melody (Magenta `OneHotMelodyConverter` with `extract_melodies`):
  * the sequence is split at every tempo or time-signature change; a piece is
    used only if it is in the converter's `meter` (default 4/4: it quantises
    to 16 steps per bar, so 4/4 and 2/2, Magenta's rule; '3/4', '6/8', ...
    take their own time signature only, bars of `meters.steps_per_bar`
    steps: meters.py). A window never spans a meter change;
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
import itertools
from typing import Sequence

import note_seq
import numpy as np
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from musicvae_jax import meters
from musicvae_jax.data import encodings
from musicvae_jax.data.converter_base import Converter

VERSION = 'melody-v1'
MEL_2BAR_PROGRAMS = tuple(range(32))


def limit_windows(windows: np.ndarray, max_windows: int,
                  rng: np.random.Generator | None = None) -> np.ndarray:
  """At most `max_windows` of `windows [n, ...]`: the first ones, or a random
  subset (in order) when `rng` is given, as Magenta's converters do."""
  if not max_windows or len(windows) <= max_windows:
    return windows
  if rng is None:
    return windows[:max_windows]
  return windows[np.sort(rng.choice(len(windows), max_windows, replace=False))]


class MelodyConverter(Converter):
  """Magenta-exact melody windows (see the module docstring)."""

  encoding = 'melody'
  reads_note_arrays = True
  part_depths = (encodings.MELODY_CLASSES,)
  input_tables = None

  def __init__(self, slice_bars: int = 2, steps_per_quarter: int = 4,
               valid_programs: Sequence[int] | None = MEL_2BAR_PROGRAMS,
               max_windows: int = 5, max_bars: int = 100, gap_bars: float = 1.0,
               min_unique_pitches: int = 1, meter: str = meters.DEFAULT):
    self.slice_bars = slice_bars
    self.steps_per_quarter = steps_per_quarter
    self.meter = meters.parse(meter).name
    self.steps_per_bar = meters.steps_per_bar(self.meter, steps_per_quarter)
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
        **meter_fingerprint(self.meter),
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
    quantized = _quantize(piece, self.steps_per_quarter, self.steps_per_bar, self.meter)
    if quantized is None:
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
        self.max_bars, self.min_unique_pitches, self.meter)
    return fast_melody.windows_from_melodies(found, self.seq_len, self.steps_per_bar)

  def to_windows(self, ns: music_pb2.NoteSequence,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Up to `max_windows` distinct windows `[n, T, 1]` (random ones with `rng`)."""
    return limit_windows(self.all_windows(ns), self.max_windows, rng)

  # -- decoding and augmentation ---------------------------------------------
  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 80, program: int = 0) -> music_pb2.NoteSequence:
    """Tokens `[T]` or `[T, 1]` -> a NoteSequence at `qpm`, in the
    converter's meter (its time signature)."""
    tokens = np.asarray(tokens).reshape(-1)
    return encodings.melody_to_note_sequence(tokens, self.steps_per_quarter, qpm,
                                             velocity, program,
                                             time_signature=meters.parse(self.meter))

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
  return [encodings.melody_events_to_tokens(m) for m in extract_melody_events(
      quantized, steps_per_bar, gap_bars, max_steps, min_unique_pitches)]


def extract_melody_events(quantized: music_pb2.NoteSequence, steps_per_bar: int,
                          gap_bars: float, max_steps: int,
                          min_unique_pitches: int) -> list[note_seq.Melody]:
  """`extract_melodies` as note_seq Melody objects (they know their start step)."""
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
      melodies.append(melody)
  return melodies


# -- drums and trio (issue #7) ------------------------------------------------
_QUANTIZE_ERRORS = (note_seq.BadTimeSignatureError, note_seq.NonIntegerStepsPerBarError,
                    note_seq.NegativeTimeError, sequences_lib.MultipleTimeSignatureError,
                    sequences_lib.MultipleTempoError)
DRUMS_VERSION = 'drums-v1'
TRIO_VERSION = 'trio-v1'
TRIO_MEL_PROGRAMS = range(0, 32)    # piano, chromatic percussion, organ, guitar
TRIO_BASS_PROGRAMS = range(32, 40)
TRIO_BASS_OUTPUT_PROGRAM = 33       # electric bass (finger), as Magenta writes it
TRIO_PART_NAMES = ('melody', 'bass', 'drums')


def meter_fingerprint(meter: str) -> dict:
  """The meter's entry in a converter's fingerprint: none for 4/4, so that
  the caches of 4/4 converters made before meters existed stay valid."""
  return {} if meter == meters.DEFAULT else {'meter': meter}


def _quantize(piece: music_pb2.NoteSequence, steps_per_quarter: int,
              steps_per_bar: int, meter: str = meters.DEFAULT
              ) -> music_pb2.NoteSequence | None:
  """Quantised piece, or None unless it has `steps_per_bar` steps per bar
  and is in a time signature `meter` takes (`meters.accepts`)."""
  try:
    quantized = note_seq.quantize_note_sequence(piece, steps_per_quarter)
    if note_seq.steps_per_bar_in_quantized_sequence(quantized) != steps_per_bar:
      return None
  except _QUANTIZE_ERRORS:
    return None
  signature = quantized.time_signatures[:1]
  numerator, denominator = ((signature[0].numerator, signature[0].denominator)
                            if signature else (4, 4))
  if not meters.accepts(meter, numerator, denominator):
    return None
  return quantized


def _with_notes(quantized: music_pb2.NoteSequence, notes) -> music_pb2.NoteSequence:
  """A copy of a quantised sequence holding only `notes` (copied)."""
  out = music_pb2.NoteSequence()
  out.CopyFrom(quantized)
  del out.notes[:]
  out.notes.extend(notes)
  return out


def _drum_class_notes(notes) -> list:
  """Drum notes of Magenta's 9 classes, with the pitch replaced by the class."""
  out = []
  for note in notes:
    if note.is_drum and note.pitch in encodings.DRUM_PITCH_TO_CLASS:
      mapped = music_pb2.NoteSequence.Note()
      mapped.CopyFrom(note)
      mapped.pitch = encodings.DRUM_PITCH_TO_CLASS[note.pitch]
      out.append(mapped)
  return out


def extract_drum_tracks(quantized: music_pb2.NoteSequence, steps_per_bar: int,
                        gap_bars: float, max_steps: int | None,
                        min_bars: int = 1) -> list[note_seq.DrumTrack]:
  """Magenta's `extract_drum_tracks` with pad_end=True (its DrumsConverter's
  arguments): a track spans every drum instrument, ends after `gap_bars` of
  silence, is dropped when shorter than `min_bars`, cut to `max_steps`."""
  tracks, start = [], 0
  while True:
    track = note_seq.DrumTrack()
    track.from_quantized_sequence(quantized, search_start_step=start,
                                  gap_bars=gap_bars, pad_end=True)
    start = track.end_step + (start - track.end_step) % steps_per_bar
    if not track:
      break
    if len(track) < steps_per_bar * min_bars:
      continue
    if max_steps is not None and len(track) > max_steps:
      track.set_length(max_steps - max_steps % steps_per_bar)
    tracks.append(track)
  return tracks


class _WindowedConverter(Converter):
  """What the drums and trio converters share with MelodyConverter's interface."""

  encoding = ''
  part_depths: tuple[int, ...] = ()
  input_tables = None

  @property
  def input_depth(self) -> int:
    return sum(self.part_depths)

  def _empty(self) -> np.ndarray:
    return np.zeros((0, self.seq_len, len(self.part_depths)), np.int16)

  def _piece_windows(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    raise NotImplementedError

  def all_windows(self, ns: music_pb2.NoteSequence) -> np.ndarray:
    """Every distinct window `[n, T, K]` of a sequence, in order of first appearance."""
    seen, windows = set(), []
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
      for window in self._piece_windows(piece):
        key = window.tobytes()
        if key not in seen:
          seen.add(key)
          windows.append(window)
    if not windows:
      return self._empty()
    return np.stack(windows).astype(np.int16)

  def to_windows(self, ns: music_pb2.NoteSequence,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Up to `max_windows` distinct windows (random ones with `rng`)."""
    return limit_windows(self.all_windows(ns), self.max_windows, rng)


class DrumsConverter(_WindowedConverter):
  """Magenta's `DrumsConverter` (cat-drums_2bar_small): windows of drum hits.

  * split at tempo / time-signature changes, pieces in the converter's
    `meter` only (default 4/4, as the melody converter);
  * notes of `is_drum` instruments whose pitch is in one of the 9 classes
    (kick, snare, closed / open hi-hat, low / mid / high tom, crash, ride;
    note_seq's pitch lists) are kept, as their class;
  * drum tracks (all drum instruments together) end after `gap_bars` (1) of
    silence, are padded to a bar line, dropped under one bar, cut to
    `max_bars` (100); windows of `slice_bars` slide by one bar, identical
    windows are kept once, at most `max_windows` per sequence.

  Tokens: 0..511, bit c set when class c is hit on the step (0 = no hit).
  With `roll_input` the encoder reads Magenta's 10-wide roll (9 class bits and
  a "no hit" bit, the `drum_roll` input table); the decoder always reads
  one-hots. `roll_input` changes no window, so it is not in the fingerprint.
  """

  encoding = 'drums'
  part_depths = (encodings.DRUM_CLASSES,)

  def __init__(self, slice_bars: int = 2, steps_per_quarter: int = 4,
               roll_input: bool = True, max_windows: int = 5,
               max_bars: int = 100, gap_bars: float = 1.0,
               meter: str = meters.DEFAULT):
    self.slice_bars = slice_bars
    self.steps_per_quarter = steps_per_quarter
    self.meter = meters.parse(meter).name
    self.steps_per_bar = meters.steps_per_bar(self.meter, steps_per_quarter)
    self.seq_len = slice_bars * self.steps_per_bar
    self.roll_input = roll_input
    self.input_tables = ('drum_roll',) if roll_input else None
    self.max_windows = max_windows
    self.max_bars = max_bars
    self.gap_bars = gap_bars

  def fingerprint(self) -> dict:
    return {
        'version': DRUMS_VERSION, 'encoding': self.encoding,
        'slice_bars': self.slice_bars, 'steps_per_quarter': self.steps_per_quarter,
        'max_windows': self.max_windows, 'max_bars': self.max_bars,
        'gap_bars': self.gap_bars, **meter_fingerprint(self.meter),
    }

  def drum_tracks(self, ns: music_pb2.NoteSequence) -> list[np.ndarray]:
    """All drum tracks (token arrays, lengths multiple of a bar) of a sequence."""
    out = []
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
      out.extend(self._piece_tracks(piece))
    return out

  def _piece_tracks(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    piece = _with_notes(piece, _drum_class_notes(piece.notes))
    if not piece.notes:
      return []
    quantized = _quantize(piece, self.steps_per_quarter, self.steps_per_bar, self.meter)
    if quantized is None:
      return []
    tracks = extract_drum_tracks(quantized, self.steps_per_bar, self.gap_bars,
                                 self.max_bars * self.steps_per_bar)
    return [encodings.drum_events_to_tokens(t) for t in tracks]

  def _piece_windows(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    windows = []
    for track in self._piece_tracks(piece):
      for end in range(self.seq_len, len(track) + 1, self.steps_per_bar):
        windows.append(track[end - self.seq_len:end, None])
    return windows

  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 80) -> music_pb2.NoteSequence:
    """Tokens `[T]` or `[T, 1]` -> drum hits (is_drum, MIDI channel 10), in
    the converter's meter."""
    return encodings.drums_to_note_sequence(np.asarray(tokens).reshape(-1),
                                            self.steps_per_quarter, qpm, velocity,
                                            time_signature=meters.parse(self.meter))

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Drums do not transpose: (windows, all valid)."""
    return windows, np.ones(len(windows), bool)


class TrioConverter(_WindowedConverter):
  """Magenta's `TrioConverter` (hierdec-trio_16bar): melody, bass and drums.

  Per piece (split at tempo / time-signature changes, in the converter's
  `meter` only (default 4/4, as the melody converter), at most `max_bars`
  bars):
  * each instrument gets a type from its notes: drums (`is_drum`), melody
    (programs 0-31), bass (32-39); other programs, or mixed types, exclude it;
    a piece needs all three types;
  * each instrument is encoded over the whole piece: melodies and bass lines
    as one melody each (no gap limit, highest note wins, pitches 21..108),
    drums as one drum track of the 9 classes;
  * an instrument "covers" the bars its notes touch; coverage gaps of up to
    `gap_bars` (2) bars are filled, and within `gap_bars` of the piece's start
    or end an instrument counts as present if any of its group is;
  * for every (melody, bass, drums) combination, each `slice_bars` window
    (one-bar stride) covered by all three becomes a window `[T, 3]`.
  Identical windows are kept once, at most `max_windows` per sequence.
  """

  encoding = 'trio'
  part_depths = (encodings.MELODY_CLASSES, encodings.MELODY_CLASSES,
                 encodings.DRUM_CLASSES)
  part_names = TRIO_PART_NAMES
  MEL, BASS, DRUMS, INVALID = 1, 2, 3, 4

  def __init__(self, slice_bars: int = 16, steps_per_quarter: int = 4,
               max_windows: int = 5, gap_bars: int = 2, max_bars: int = 1024,
               meter: str = meters.DEFAULT):
    self.slice_bars = slice_bars
    self.steps_per_quarter = steps_per_quarter
    self.meter = meters.parse(meter).name
    self.steps_per_bar = meters.steps_per_bar(self.meter, steps_per_quarter)
    self.seq_len = slice_bars * self.steps_per_bar
    self.max_windows = max_windows
    self.gap_bars = gap_bars
    self.max_bars = max_bars

  def fingerprint(self) -> dict:
    return {
        'version': TRIO_VERSION, 'encoding': self.encoding,
        'slice_bars': self.slice_bars, 'steps_per_quarter': self.steps_per_quarter,
        'max_windows': self.max_windows, 'max_bars': self.max_bars,
        'gap_bars': self.gap_bars, **meter_fingerprint(self.meter),
    }

  def _type(self, note) -> int:
    if note.is_drum:
      return self.DRUMS
    if note.program in TRIO_MEL_PROGRAMS:
      return self.MEL
    if note.program in TRIO_BASS_PROGRAMS:
      return self.BASS
    return self.INVALID

  def _melody_part(self, quantized, instrument: int, total_steps: int):
    notes = [n for n in quantized.notes if n.instrument == instrument
             and encodings.MIN_PITCH <= n.pitch <= encodings.MAX_PITCH]
    melody = note_seq.Melody()
    melody.from_quantized_sequence(
        _with_notes(quantized, notes), instrument=instrument,
        gap_bars=float('inf'), ignore_polyphonic_notes=True, pad_end=True,
        filter_drums=True)
    if len(melody) < self.steps_per_bar:
      return None
    melody.set_length(len(melody) + melody.start_step, from_left=True)
    melody.set_length(total_steps)
    return encodings.melody_events_to_tokens(melody)

  def _drum_part(self, quantized, instrument: int, total_steps: int):
    notes = _drum_class_notes(n for n in quantized.notes if n.instrument == instrument)
    tracks = extract_drum_tracks(_with_notes(quantized, notes), self.steps_per_bar,
                                 float('inf'), None)
    if not tracks:
      return None
    track = tracks[0]
    track.set_length(len(track) + track.start_step, from_left=True)
    track.set_length(total_steps)
    return encodings.drum_events_to_tokens(track)

  def _piece_windows(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    quantized = _quantize(piece, self.steps_per_quarter, self.steps_per_bar, self.meter)
    if quantized is None or not quantized.notes:
      return []
    spb = self.steps_per_bar
    total_bars = min(int(np.ceil(quantized.total_quantized_steps / spb)),
                     self.max_bars)
    types: dict[int, int] = {}
    coverage = np.zeros((total_bars, 128), bool)
    for note in quantized.notes:
      i = note.instrument
      if i > 127:
        continue
      kind = self._type(note)
      types[i] = kind if types.get(i, kind) == kind else self.INVALID
      start_bar = note.quantized_start_step // spb
      end_bar = int(np.ceil(note.quantized_end_step / spb))
      if start_bar < total_bars:
        coverage[start_bar:min(end_bar, total_bars), i] = True
    by_type = {t: sorted(i for i, k in types.items() if k == t)
               for t in (self.MEL, self.BASS, self.DRUMS)}
    if not all(by_type.values()):
      return []

    total_steps = total_bars * spb
    encoded = {}
    for kind, encode in ((self.MEL, self._melody_part), (self.BASS, self._melody_part),
                         (self.DRUMS, self._drum_part)):
      for i in by_type[kind]:
        tokens = encode(quantized, i, total_steps)
        if tokens is None:
          coverage[:, i] = False
        else:
          encoded[i] = tokens

    gap = self.gap_bars
    original = coverage.copy()
    for j in range(total_bars):
      coverage[j] = original[max(0, j - gap):min(total_bars, j + gap) + 1].any(axis=0)

    windows = []
    for group in itertools.product(by_type[self.MEL], by_type[self.BASS],
                                   by_type[self.DRUMS]):
      if not all(i in encoded for i in group):
        continue
      group = list(group)
      covered = coverage[:, group].all(axis=1)
      # Near either end, an instrument counts as present if any of the group is.
      if gap > 0:
        covered[:gap] = coverage[:gap, group].any()
        covered[-gap:] = coverage[-gap:, group].any()
      for j in range(total_bars - self.slice_bars + 1):
        if covered[j:j + self.slice_bars].all():
          start, stop = j * spb, (j + self.slice_bars) * spb
          windows.append(np.stack([encoded[i][start:stop] for i in group], -1))
    return windows

  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 80) -> music_pb2.NoteSequence:
    """Tokens `[T, 3]` -> melody (instrument 0, piano), bass (instrument 1,
    program 33) and drums (instrument 9, is_drum: MIDI channel 10)."""
    tokens = np.asarray(tokens).reshape(-1, 3)
    spq = self.steps_per_quarter
    ns = encodings.melody_to_note_sequence(tokens[:, 0], spq, qpm, velocity,
                                           program=0, instrument=0,
                                           time_signature=meters.parse(self.meter))
    encodings.melody_to_note_sequence(tokens[:, 1], spq, qpm, velocity,
                                      program=TRIO_BASS_OUTPUT_PROGRAM,
                                      instrument=1, ns=ns)
    encodings.drums_to_note_sequence(tokens[:, 2], spq, qpm, velocity,
                                     instrument=9, ns=ns)
    return ns

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Transposes the melody and bass parts; drums stay. Returns (windows,
    valid [n]); an invalid example comes back unchanged."""
    windows = np.asarray(windows)
    pitched, valid = encodings.transpose_melody(windows[..., :2], shifts)
    out = windows.copy()
    out[..., :2] = np.where(valid[:, None, None], pitched, windows[..., :2])
    return out, valid
