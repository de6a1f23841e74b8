"""Multitrack measures: Magenta's `MultiInstrumentPerformanceConverter`
(hier-multiperf_vel_1bar_*; Simon et al. 2018, "Learning a Latent Space of
Multitrack Measures").

Per NoteSequence (the rules Magenta's converter applies, in eval mode):
  * split at tempo / time-signature changes; sustain pedal applied to each
    piece; every piece is cut into one-bar subsequences (the hop in seconds
    from the piece's first tempo, 120 qpm without one);
  * each bar is quantised at 24 steps per quarter; a bar that is not 96 steps
    long (not 4/4) discards every window of its piece, as Magenta does;
  * every instrument of the bar becomes a metric performance (note-on,
    note-off, time shift up to 96 steps, 8 velocity bins; note_seq's
    `MetricPerformance`) cut to the bar; notes tied over the bar line are
    ended at it (the track is written out and read back);
  * a bar is kept if it has 2..8 instruments, every track has at most 62
    events (+ program and end token = 64) and the bar at least 8 events;
  * tracks are sorted by (is_drum, program): drums last.

Token layout (depth 490, note_seq `PerformanceOneHotEncoding` then programs):
0-127 note-on, 128-255 note-off, 256-351 time shift 1..96, 352-359 velocity
bin, 360 + program, 488 drum track, 489 end. A window is 8 slots x 64 steps:
`[program token, events..., 489]` then padding, an unused slot `[489]`.
Windows are int16 `[n, 512, 1]`; padding is -1 (an all-zero one-hot row), so
each slot's length is its number of tokens >= 0 (`slot_lengths`).

With `chords=True` (the `_chords` configs) each window also carries a control
column: the triad chord class (note_seq's `TriadChordOneHotEncoding`, 49
classes, 0 = N.C.) of every event: chords are inferred once per piece
(note-seq's `infer_chords_for_sequence` as `data/chord_inference.py` repeats
it, unless the piece has chord symbols),
a slot's program token gets N.C., its end token the last event's chord,
padding -1. A bar whose chords cannot be encoded (or coincide) is dropped, as
in Magenta; a piece where inference fails gives no windows.
Windows are then `[n, 512, 2]` (tokens, chord class).

Not in Magenta (it would crash or reject the whole bar): an instrument the
encoding cannot represent - a program outside 0..127, several programs, or
drum and pitched notes under one instrument - is dropped from its bar and
counted in `stats`; the bar is then judged on the remaining instruments.
A sequence without windows gives `[0, 512, 1]` (Magenta returns a wrongly
shaped empty array).
"""

from __future__ import annotations

import collections
import re

import note_seq
import numpy as np
from note_seq import chords_lib, performance_lib, sequences_lib
from note_seq.protobuf import music_pb2

from musicvae_jax.data import chord_inference
from musicvae_jax.data.chords import triad_class
from musicvae_jax.data.converter_base import Converter

VERSION = 'multiperf-v1'
CHORD_CLASSES = 49
NO_CHORD_CLASS = 0
_TRIAD = note_seq.TriadChordOneHotEncoding()
_CHORD_SYMBOL = music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL
NUM_VELOCITY_BINS = 8
STEPS_PER_QUARTER = 24
QUARTERS_PER_BAR = 4
STEPS_PER_BAR = STEPS_PER_QUARTER * QUARTERS_PER_BAR          # 96
MAX_SHIFT_STEPS = performance_lib.DEFAULT_MAX_SHIFT_QUARTERS * STEPS_PER_QUARTER
NUM_PROGRAMS = 128
PAD = -1

_QUANTIZE_ERRORS = (note_seq.BadTimeSignatureError, note_seq.NonIntegerStepsPerBarError,
                    note_seq.NegativeTimeError)


def performance_encoding() -> note_seq.PerformanceOneHotEncoding:
  """note_seq's event encoding Magenta uses here (360 classes)."""
  return note_seq.PerformanceOneHotEncoding(
      num_velocity_bins=NUM_VELOCITY_BINS, max_shift_steps=MAX_SHIFT_STEPS,
      min_pitch=0, max_pitch=127)


_ENCODING = performance_encoding()
NUM_EVENT_CLASSES = _ENCODING.num_classes                    # 360
FIRST_PROGRAM_TOKEN = NUM_EVENT_CLASSES                      # 360 + program
DRUM_TOKEN = FIRST_PROGRAM_TOKEN + NUM_PROGRAMS              # 488
END_TOKEN = DRUM_TOKEN + 1                                   # 489
DEPTH = END_TOKEN + 1                                        # 490
NOTE_ON_TOKENS = (0, 128)
NOTE_OFF_TOKENS = (128, 256)


def slot_lengths(windows: np.ndarray, num_slots: int) -> np.ndarray:
  """Per-slot lengths `[n, num_slots]` (int32) of windows `[n, T]` or
  `[n, T, K]` padded with -1 (part 0 is read)."""
  windows = np.asarray(windows)
  if windows.ndim == 3:
    windows = windows[..., 0]
  n, steps = windows.shape
  return (windows.reshape(n, num_slots, steps // num_slots) >= 0).sum(-1).astype(np.int32)


def _first_bar(track, steps: int):
  """The events of `track` up to `steps` (Magenta's `split_performance`, first
  segment): note-offs exactly at the boundary stay, anything else there and
  later goes."""
  out = performance_lib.MetricPerformance(
      steps_per_quarter=track.steps_per_quarter, num_velocity_bins=NUM_VELOCITY_BINS,
      program=track.program, is_drum=track.is_drum)
  step = 0
  for event in track:
    if event.event_type == performance_lib.PerformanceEvent.TIME_SHIFT:
      take = min(event.event_value, steps - step)
      if take > 0:
        out.append(performance_lib.PerformanceEvent(event.event_type, take))
        step += take
      if take < event.event_value:
        break
    elif step < steps or event.event_type == performance_lib.PerformanceEvent.NOTE_OFF:
      out.append(event)
    else:
      break
  return out


def _clip_tied_notes(segment, steps: int):
  """Writes a segment out and reads it back, so notes held past its end end
  there (Magenta's `clip_tied_notes`). Program and is_drum now come from the
  written notes (an empty segment reads back as drums, as in Magenta)."""
  sequence = segment.to_sequence()
  quantized = note_seq.quantize_note_sequence(sequence, segment.steps_per_quarter)
  out = performance_lib.MetricPerformance(
      quantized_sequence=quantized, start_step=0,
      num_velocity_bins=NUM_VELOCITY_BINS)
  out.set_length(steps)
  return out


class MultiPerformanceConverter(Converter):
  """Magenta-exact multitrack windows (see the module docstring)."""

  encoding = 'multiperf'
  part_depths = (DEPTH,)
  input_tables = None
  # The cache reads files with note_seq (the fast reader drops the sustain
  # pedal) and keeps repeated bars (Magenta does not de-duplicate them).
  note_seq_reader_only = True
  keep_duplicates = True

  def __init__(self, max_num_instruments: int = 8, max_events_per_instrument: int = 64,
               min_num_instruments: int = 2, min_total_events: int = 8,
               hop_size_bars: int = 1, max_windows: int = 0, chords: bool = False):
    if hop_size_bars != 1:
      raise ValueError(f'hop_size_bars={hop_size_bars}: only 1-bar windows are supported')
    self.max_num_instruments = max_num_instruments
    self.max_events_per_instrument = max_events_per_instrument
    self.min_num_instruments = min_num_instruments
    self.min_total_events = min_total_events
    self.hop_size_bars = hop_size_bars
    self.max_windows = max_windows
    self.chords = bool(chords)
    self.control_depths = (CHORD_CLASSES,) if self.chords else ()
    self.num_slots = max_num_instruments
    self.slot_steps = max_events_per_instrument
    self.seq_len = self.num_slots * self.slot_steps
    self.steps_per_quarter = STEPS_PER_QUARTER
    self.steps_per_bar = STEPS_PER_BAR
    self.stats: collections.Counter = collections.Counter()

  @property
  def input_depth(self) -> int:
    return DEPTH

  def fingerprint(self) -> dict:
    """Every setting that changes the windows (cache key)."""
    return {
        'version': VERSION, 'encoding': self.encoding,
        'max_num_instruments': self.max_num_instruments,
        'max_events_per_instrument': self.max_events_per_instrument,
        'min_num_instruments': self.min_num_instruments,
        'min_total_events': self.min_total_events,
        'hop_size_bars': self.hop_size_bars, 'max_windows': self.max_windows,
        'velocity_bins': NUM_VELOCITY_BINS, 'steps_per_quarter': STEPS_PER_QUARTER,
        'chords': self.chords,
    }

  # -- extraction ------------------------------------------------------------
  def _empty(self) -> np.ndarray:
    return np.zeros((0, self.seq_len, 1 + self.chords), np.int16)

  def all_windows(self, ns: music_pb2.NoteSequence) -> np.ndarray:
    """Every window `[n, 512, 1]` (with chords `[n, 512, 2]`) of a sequence,
    in order (one per kept bar)."""
    windows = []
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
      windows.extend(self._piece_windows(piece))
    if not windows:
      return self._empty()
    return np.stack(windows).astype(np.int16)

  def to_windows(self, ns: music_pb2.NoteSequence,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """All windows (Magenta's stock max_tensors_per_notesequence is None)."""
    from musicvae_jax.data.converters import limit_windows
    return limit_windows(self.all_windows(ns), self.max_windows, rng)

  def _piece_windows(self, piece: music_pb2.NoteSequence) -> list[np.ndarray]:
    piece = note_seq.apply_sustain_control_changes(piece)
    if self.chords and not self._add_chords(piece):
      return []
    qpm = piece.tempos[0].qpm if piece.tempos else note_seq.DEFAULT_QUARTERS_PER_MINUTE
    hop_seconds = 60.0 * QUARTERS_PER_BAR * self.hop_size_bars / qpm
    windows = []
    for bar in note_seq.split_note_sequence(piece, hop_seconds):
      try:
        quantized = note_seq.quantize_note_sequence(bar, STEPS_PER_QUARTER)
        if note_seq.steps_per_bar_in_quantized_sequence(quantized) != STEPS_PER_BAR:
          self.stats['pieces_not_4_4'] += 1
          return []
      except _QUANTIZE_ERRORS:
        self.stats['pieces_not_quantizable'] += 1
        return []
      window = self._bar_window(quantized)
      if window is not None:
        windows.append(window)
    return windows

  def _add_chords(self, piece: music_pb2.NoteSequence) -> bool:
    """Infers chords on the whole piece (in place) unless it has some;
    False when the piece cannot be used (as Magenta)."""
    if any(ta.annotation_type == _CHORD_SYMBOL for ta in piece.text_annotations):
      return True
    try:
      quantized = note_seq.quantize_note_sequence(piece, STEPS_PER_QUARTER)
      if note_seq.steps_per_bar_in_quantized_sequence(quantized) != STEPS_PER_BAR:
        self.stats['pieces_not_4_4'] += 1
        return False
      chord_inference.infer_chords_for_sequence(quantized)
    except _QUANTIZE_ERRORS + (chord_inference.ChordInferenceError,
                               sequences_lib.MultipleTimeSignatureError,
                               sequences_lib.MultipleTempoError):
      self.stats['pieces_chord_inference_failed'] += 1
      return False
    for ta in quantized.text_annotations:
      if ta.annotation_type == _CHORD_SYMBOL:
        piece.text_annotations.add(time=ta.time, text=ta.text,
                                   annotation_type=_CHORD_SYMBOL)
    return True

  def _chord_classes(self, quantized, chunks) -> list[list[int]] | None:
    """Per track: the chord class of [program token, events..., end token]."""
    try:
      per_track = chords_lib.event_list_chords(quantized, chunks)
      out = []
      for chords in per_track:
        classes = [NO_CHORD_CLASS] + [triad_class(c) for c in chords]
        out.append(classes + classes[-1:])
      return out
    except chords_lib.CoincidentChordsError:
      self.stats['bars_dropped_coincident_chords'] += 1
    except (note_seq.ChordSymbolError, note_seq.ChordEncodingError):
      self.stats['bars_dropped_chord_symbol'] += 1
    return None

  def _tracks(self, quantized: music_pb2.NoteSequence) -> list:
    """One performance per representable instrument, cut to the bar."""
    tracks = []
    # Iterate a set exactly as Magenta does: ties in the sort below keep this order.
    for instrument in set(note.instrument for note in quantized.notes):
      track = performance_lib.MetricPerformance(
          quantized, start_step=0, num_velocity_bins=NUM_VELOCITY_BINS,
          instrument=instrument)
      if track.is_drum is None or (not track.is_drum and not (
          track.program is not None and 0 <= track.program < NUM_PROGRAMS)):
        self.stats['instruments_dropped_unrepresentable'] += 1
        continue
      track.set_length(self.hop_size_bars * STEPS_PER_BAR)
      tracks.append(track)
    return tracks

  def _bar_window(self, quantized: music_pb2.NoteSequence) -> np.ndarray | None:
    """The window `[512]` of one quantised bar, or None if the bar is dropped."""
    if any(not 0 <= n.pitch <= 127 for n in quantized.notes):
      self.stats['bars_dropped_pitch_range'] += 1
      return None
    tracks = self._tracks(quantized)
    if not self.min_num_instruments <= len(tracks) <= self.max_num_instruments:
      self.stats['bars_dropped_num_instruments'] += 1
      return None
    tracks.sort(key=lambda t: (t.is_drum, t.program or 0))
    steps = self.hop_size_bars * STEPS_PER_BAR
    room = self.max_events_per_instrument - 2
    chunks, total = [], 0
    for track in tracks:
      chunk = _clip_tied_notes(_first_bar(track, steps), steps)
      if len(chunk) > room:
        self.stats['bars_dropped_too_many_events'] += 1
        return None
      if not chunk.is_drum and not 0 <= chunk.program < NUM_PROGRAMS:
        self.stats['bars_dropped_program'] += 1
        return None
      total += len(chunk)
      chunks.append(chunk)
    if total < self.min_total_events:
      self.stats['bars_dropped_too_few_events'] += 1
      return None
    columns = 1 + self.chords
    window = np.full((self.num_slots, self.slot_steps, columns), PAD, np.int16)
    window[:, 0] = END_TOKEN
    if self.chords:
      classes = self._chord_classes(quantized, chunks)
      if classes is None:
        return None
      window[:, 0, 1] = NO_CHORD_CLASS
    for slot, chunk in enumerate(chunks):
      program = DRUM_TOKEN if chunk.is_drum else FIRST_PROGRAM_TOKEN + chunk.program
      tokens = [program] + [_ENCODING.encode_event(e) for e in chunk] + [END_TOKEN]
      window[slot, :len(tokens), 0] = tokens
      if self.chords:
        window[slot, :len(tokens), 1] = classes[slot]
    self.stats['windows'] += 1
    return window.reshape(self.seq_len, columns)

  # -- decoding and augmentation ---------------------------------------------
  def chord_controls(self, chords) -> np.ndarray:
    """'Am' (one chord for the bar) -> int chord classes `[512, 1]`, the
    control of every event (Magenta's multitrack notebook conditions a bar
    on one chord). ValueError, one line, for several chords or a bad symbol."""
    from musicvae_jax.data import chords as chords_lib
    symbols = re.split(r'[\s,]+', chords.strip()) if isinstance(chords, str) else list(chords)
    symbols = [s for s in symbols if s]
    if len(symbols) != self.hop_size_bars:
      raise ValueError(f'a {self.hop_size_bars}-bar multitrack model takes '
                       f'{self.hop_size_bars} chord, not {len(symbols)} ({chords!r})')
    return np.full((self.seq_len, 1), chords_lib.chord_class(symbols[0]), np.int32)

  def to_note_sequence(self, tokens: np.ndarray, qpm: float = 120.0,
                       velocity: int = 100, controls: np.ndarray | None = None,
                       accompaniment: bool = False) -> music_pb2.NoteSequence:
    """Tokens `[512]` or `[512, K]` -> a NoteSequence (a chord column, or
    `controls [512, 1]`, adds chord symbols at the events' times, as
    Magenta's `from_tensors`; `accompaniment` also plays them).

    Slot s becomes instrument s with its slot's program (drum slots: is_drum,
    MIDI channel 10); each slot is read up to its end token, the first
    program token wins (program 0 without one), further ones are skipped,
    as Magenta's `from_tensors`.
    """
    tokens = np.asarray(tokens)
    chord_column = None
    if tokens.ndim == 2:
      if tokens.shape[1] > 1:
        chord_column = tokens[:, 1].reshape(self.num_slots, self.slot_steps)
      tokens = tokens[:, 0]
    if controls is not None:
      chord_column = np.asarray(controls).reshape(self.num_slots, self.slot_steps, -1)[..., 0]
    slots = tokens.reshape(self.num_slots, self.slot_steps)
    timed_chords = []
    seconds_per_step = 60.0 / (STEPS_PER_QUARTER * qpm)
    ns = music_pb2.NoteSequence()
    ns.tempos.add(qpm=qpm)
    ns.time_signatures.add(numerator=4, denominator=4)
    ns.ticks_per_quarter = note_seq.STANDARD_PPQ
    for instrument, slot in enumerate(slots.tolist()):
      slot = [t for t in slot if t >= 0]
      if END_TOKEN in slot:
        slot = slot[:slot.index(END_TOKEN)]
      programs = [t for t in slot if t >= NUM_EVENT_CLASSES]
      is_drum = bool(programs) and programs[0] == DRUM_TOKEN
      program = 0 if not programs or is_drum else programs[0] - FIRST_PROGRAM_TOKEN
      track = performance_lib.MetricPerformance(
          steps_per_quarter=STEPS_PER_QUARTER, num_velocity_bins=NUM_VELOCITY_BINS,
          program=program, is_drum=is_drum)
      kept = [i for i, token in enumerate(slot) if token < NUM_EVENT_CLASSES]
      for i in kept:
        track.append(_ENCODING.decode_event(slot[i]))
      if chord_column is not None:
        classes = [int(chord_column[instrument, i]) for i in kept]
        timed_chords += [(step * seconds_per_step, _TRIAD.decode_event(max(c, 0)))
                         for step, c in zip(track.steps, classes) if step < STEPS_PER_BAR]
      track.set_length(self.hop_size_bars * STEPS_PER_BAR)
      part = track.to_sequence(velocity=velocity, instrument=instrument, qpm=qpm)
      ns.notes.extend(part.notes)
    ns.total_time = max([n.end_time for n in ns.notes],
                        default=self.hop_size_bars * STEPS_PER_BAR * seconds_per_step)
    if timed_chords:
      times, chords = zip(*sorted(timed_chords))
      chords_lib.add_chords_to_sequence(ns, chords, times)
      if accompaniment:   # block chords on a 9th instrument
        from musicvae_jax.data import chords as chord_controls
        chord_controls.add_accompaniment(ns, instrument=self.num_slots)
    return ns

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Shifts the note-on / note-off pitches of pitched slots by `shifts[n]`
    semitones (drum slots stay; chord roots move too). Returns (windows,
    valid [n]); an example with a pitch leaving 0..127 is invalid and comes
    back unchanged."""
    windows = np.asarray(windows)
    n = len(windows)
    tokens = windows[..., 0].reshape(n, self.num_slots, self.slot_steps).astype(np.int32)
    pitched = (tokens[..., :1] != DRUM_TOKEN)
    shift = np.asarray(shifts).reshape(n, 1, 1)
    out, ok = tokens, np.ones(tokens.shape, bool)
    for lo, hi in (NOTE_ON_TOKENS, NOTE_OFF_TOKENS):
      hit = pitched & (tokens >= lo) & (tokens < hi)
      moved = tokens + shift
      ok &= ~hit | ((moved >= lo) & (moved < hi))
      out = np.where(hit, moved, out)
    valid = ok.reshape(n, -1).all(axis=1)
    out = np.where(valid[:, None, None], out, tokens)
    result = windows.copy()
    result[..., 0] = out.reshape(n, -1).astype(windows.dtype)
    if windows.shape[-1] > 1:   # chord roots move with the notes
      chord = windows[..., 1].astype(np.int32)
      moved = np.where(chord > 0, (chord - 1) // 12 * 12 + (chord - 1 + shift[:, 0]) % 12 + 1,
                       chord)
      result[..., 1] = np.where(valid[:, None], moved, chord).astype(windows.dtype)
    return result, valid
