"""GrooVAE data: Magenta's `GrooveConverter`, window for window (no JAX).

Per 16th-note step and drum class a window holds (Magenta's 27-vector):
  hits        1 if the class is hit on the step, else 0;
  velocities  MIDI velocity / 127 of that hit (the loudest note when several
              notes of one class start on the same step), 0 when no hit;
  offsets     2 * (quantized onset - true onset) / step length, in [-1, 1]
              (positive: the note was played EARLY), 0 when no hit. The step
              length comes from the piece's own tempo, so offsets are
              tempo-aware.
Rows are `[hits (9) | velocities (9) | offsets (9)]`, classes in the order of
`ROLAND_DRUM_PITCH_CLASSES` (kick, snare, closed hh, open hh, low / mid / high
tom, crash, ride) for training and `REDUCED_DRUM_PITCH_CLASSES` (Magenta's
`inference_pitch_classes`, note_seq's drum map covering every GM drum pitch)
for inference (encoding a user's beat, decoding to MIDI).

Drum reduction (Magenta's converter was written for the drum-only Groove MIDI
Dataset; it fails on any pitch outside its map and does not split at time
changes): every input is first split at tempo / time-signature changes, each
piece keeps only `is_drum` notes whose pitch the class map knows, and empty
pieces are dropped. Each piece is quantized at 4 steps per quarter; a piece
whose bars are not 16 steps (any time signature other than 4/4 or 2/2, e.g.
3/4 or 6/8) gives no windows, exactly as Magenta's `to_tensors` returns
nothing for it. Windows are `split_bars` bars long with a hop of `split_bars`
bars (Magenta's default hop), the last bar padded with empty steps; Magenta
does not apply `max_tensors_per_notesequence` here and neither do we.

The window stored in the cache is the decoder TARGET `[T, 27]` float32. The
encoder input is made from it when batches are built (`make_batch`), by the
config's input transformations (Magenta applies them per step, so applying
them per window is the same), in Magenta's order:
  note dropout   per window: p ~ U(0, max_note_dropout_probability), each note
                 dropped with probability max(0.2, 1 - velocity) * p (from a
                 numpy Generator seeded by (seed, batch number, row): resumed
                 runs draw the same masks; Magenta uses the global numpy RNG);
  tapify         all of a step collapses onto the open hi-hat channel (3): the
                 hit, velocity and offset of the step's loudest (after
                 dropout; first on ties) class;
  humanize       input velocities and offsets set to 0 (hits kept);
  fixed velocities  input velocities set to 0;
  add_instruments   the listed classes removed from the input;
and `hits_as_controls` passes the target hits `[T, 9]` as controls.
"""

from __future__ import annotations

import copy
from typing import Sequence

import note_seq
import numpy as np
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from musicvae_jax import meters
from musicvae_jax.data.converter_base import Converter
from musicvae_jax.data.errors import BadInputError

VERSION = 'groove-v1'

# Magenta data.ROLAND_DRUM_PITCH_CLASSES (training).
ROLAND_DRUM_PITCH_CLASSES = (
    (36,), (38, 37, 40), (42, 22, 44), (46, 26), (43, 58), (47, 45), (50, 48),
    (49, 52, 55, 57), (51, 53, 59))
# Magenta data.REDUCED_DRUM_PITCH_CLASSES = note_seq DEFAULT_DRUM_TYPE_PITCHES (inference).
REDUCED_DRUM_PITCH_CLASSES = tuple(
    tuple(p) for p in note_seq.drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES)
DRUM_NAMES = ('kick', 'snare', 'closed_hihat', 'open_hihat', 'low_tom',
              'mid_tom', 'high_tom', 'crash', 'ride')
TAP_CLASS = 3        # tapify: everything on the open hi-hat channel (Magenta)
OUTPUT_QPM = 120.0   # Magenta's from_tensors writes 120 qpm


def class_map(classes: Sequence[Sequence[int]]) -> dict[int, int]:
  return {pitch: c for c, pitches in enumerate(classes) for pitch in pitches}


def reduce_to_drums(ns: music_pb2.NoteSequence, classes: Sequence[Sequence[int]]
                    ) -> list[music_pb2.NoteSequence]:
  """The drum reduction: split at time changes, keep `is_drum` notes with a
  mapped pitch, drop pieces left empty. Returns the non-empty pieces."""
  return [piece for _, piece in reduce_to_drums_indexed(ns, classes)]


def reduce_to_drums_indexed(ns, classes):
  """[(piece index, piece)] of `reduce_to_drums`; the index counts the
  non-empty pieces only (the goldens' `window_piece`)."""
  known = class_map(classes)
  out = []
  for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
    kept = [n for n in piece.notes if n.is_drum and n.pitch in known]
    if not kept:
      continue
    piece = copy.deepcopy(piece)
    del piece.notes[:]
    piece.notes.extend(kept)
    out.append((len(out), piece))
  return out


def features(quantized: music_pb2.NoteSequence, known: dict[int, int],
             num_drums: int, steps_per_bar: int) -> np.ndarray:
  """Magenta's (hit, velocity, offset) matrices of a quantized piece:
  float64 `[total_steps, 3 * num_drums]` (whole bars)."""
  notes = list(quantized.notes)
  qpm = quantized.tempos[0].qpm if quantized.tempos else 120.0
  step_length = 60.0 / qpm / quantized.quantization_info.steps_per_quarter
  max_start = max(n.quantized_start_step for n in notes)
  total = steps_per_bar * int(np.ceil((max_start + 1) / steps_per_bar))
  hits = np.zeros((total, num_drums))
  vels = np.zeros((total, num_drums))
  offs = np.zeros((total, num_drums))
  chosen: dict[tuple[int, int], object] = {}
  for note in notes:   # the loudest note per (step, class); the first on ties
    key = (int(note.quantized_start_step), known[note.pitch])
    if key not in chosen or note.velocity > chosen[key].velocity:
      chosen[key] = note
  for (step, drum), note in chosen.items():
    hits[step, drum] = 1.0
    vels[step, drum] = note.velocity / 127.0
    quantized_onset = step_length * note.quantized_start_step
    offs[step, drum] = (quantized_onset - note.start_time) / step_length * 2
  return np.concatenate([hits, vels, offs], axis=1)


class GrooveConverter(Converter):
  """Magenta's GrooveConverter (continuous outputs, no split instruments).

  Windows (cache / targets): float32 `[n, T, 3 * num_drums]`.
  """

  encoding = 'groove'
  input_tables = None
  window_dtype = np.float32
  makes_batches = True

  def __init__(self, split_bars: int = 2, steps_per_quarter: int = 4,
               quarters_per_bar: int = 4, humanize: bool = False,
               tapify: bool = False, add_instruments: Sequence[int] = (),
               hits_as_controls: bool = False, fixed_velocities: bool = False,
               max_note_dropout_probability: float | None = None,
               pitch_classes=ROLAND_DRUM_PITCH_CLASSES,
               inference_pitch_classes=REDUCED_DRUM_PITCH_CLASSES,
               inference: bool = False, seed: int = 0):
    if len(pitch_classes) != len(inference_pitch_classes):
      raise ValueError('training and inference need the same number of drum '
                       f'classes, got {len(pitch_classes)} and '
                       f'{len(inference_pitch_classes)}')
    self.split_bars = split_bars
    self.steps_per_quarter = steps_per_quarter
    self.quarters_per_bar = quarters_per_bar
    self.steps_per_bar = steps_per_quarter * quarters_per_bar
    self.seq_len = split_bars * self.steps_per_bar
    self.humanize = humanize
    self.tapify = tapify
    self.add_instruments = tuple(int(i) for i in (add_instruments or ()))
    self.hits_as_controls = hits_as_controls
    self.fixed_velocities = fixed_velocities
    self.max_note_dropout_probability = max_note_dropout_probability
    self.train_classes = tuple(tuple(c) for c in pitch_classes)
    self.infer_classes = tuple(tuple(c) for c in inference_pitch_classes)
    self.inference = inference
    self.seed = seed
    self.num_drums = len(self.train_classes)
    self.output_depth = 3 * self.num_drums
    self.control_depth = self.num_drums if hits_as_controls else 0
    # The model's "token spec" is one block of this width (see input_pipeline.token_spec).
    self.part_depths = (self.output_depth,)

  @property
  def input_depth(self) -> int:
    return self.output_depth

  @property
  def pitch_classes(self) -> tuple[tuple[int, ...], ...]:
    """Magenta's `pitch_classes`: inference classes in inference mode."""
    return self.infer_classes if self.inference else self.train_classes

  def for_inference(self) -> 'GrooveConverter':
    """A copy in Magenta's 'infer' mode (reduced drum map in and out)."""
    other = copy.copy(self)
    other.inference = True
    return other

  def fingerprint(self) -> dict:
    """Every setting that changes the cached windows (cache key). The input
    transformations are applied at batch time, so they are not part of it."""
    return {
        'version': VERSION, 'encoding': self.encoding,
        'split_bars': self.split_bars, 'steps_per_quarter': self.steps_per_quarter,
        'quarters_per_bar': self.quarters_per_bar,
        'pitch_classes': [list(c) for c in self.train_classes],
        'inference_pitch_classes': [list(c) for c in self.infer_classes],
    }

  # -- extraction ------------------------------------------------------------
  def piece_features(self, ns: music_pb2.NoteSequence) -> list[tuple[int, np.ndarray]]:
    """[(piece index, float64 [steps, 27])] of every 4/4 drum piece."""
    out = []
    known = class_map(self.pitch_classes)
    for index, piece in reduce_to_drums_indexed(ns, self.pitch_classes):
      try:
        quantized = sequences_lib.quantize_note_sequence(piece, self.steps_per_quarter)
        if (note_seq.steps_per_bar_in_quantized_sequence(quantized)
            != self.steps_per_bar):
          continue
      except (note_seq.BadTimeSignatureError, note_seq.NonIntegerStepsPerBarError,
              note_seq.NegativeTimeError, sequences_lib.MultipleTimeSignatureError,
              sequences_lib.MultipleTempoError):
        continue
      out.append((index, features(quantized, known, self.num_drums,
                                  self.steps_per_bar)))
    return out

  def windows_with_pieces(self, ns: music_pb2.NoteSequence
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(targets float32 [n, T, 27], piece index [n]) in Magenta's order."""
    found, pieces = [], []
    for index, full in self.piece_features(ns):
      for start in range(0, len(full) - self.seq_len + 1, self.seq_len):
        found.append(full[start:start + self.seq_len])
        pieces.append(index)
    if not found:
      return (np.zeros((0, self.seq_len, self.output_depth), np.float32),
              np.zeros((0,), np.int32))
    return np.stack(found).astype(np.float32), np.asarray(pieces, np.int32)

  def all_windows(self, ns: music_pb2.NoteSequence) -> np.ndarray:
    """Every window (decoder targets) of a sequence, in Magenta's order.

    Raises BadInputError when the sequence has no drum note with a mapped
    pitch (the cache counts the file as skipped with that reason).
    """
    if not any(n.is_drum and n.pitch in class_map(self.pitch_classes)
               for n in ns.notes):
      has_drums = any(n.is_drum for n in ns.notes)
      raise BadInputError('no drum notes with a mapped pitch' if has_drums
                          else 'no drum notes (no MIDI channel 10 track)')
    return self.windows_with_pieces(ns)[0]

  # -- input transformations (batch time) ------------------------------------
  def encoder_inputs(self, targets: np.ndarray,
                     rngs: Sequence[np.random.Generator] | None = None
                     ) -> np.ndarray:
    """Encoder inputs from targets `[n, T, 27]` by the configured
    transformations; `rngs` (one per window) drive note dropout."""
    d = self.num_drums
    targets = np.asarray(targets, np.float64)
    hit, vel, off = targets[..., :d], targets[..., d:2 * d], targets[..., 2 * d:]
    in_hit, in_vel, in_off = hit.copy(), vel.copy(), off.copy()
    if self.max_note_dropout_probability is not None:
      if rngs is None:
        raise ValueError('note dropout needs one numpy Generator per window')
      keep = np.stack([note_dropout_keep(r, v, self.max_note_dropout_probability)
                       for r, v in zip(rngs, in_vel)])
      in_hit, in_vel, in_off = in_hit * keep, in_vel * keep, in_off * keep
    if self.tapify:
      loudest = np.argmax(in_vel, axis=-1)[..., None]          # [n, T, 1]
      tap_hit = np.take_along_axis(hit, loudest, -1)[..., 0]
      tap_vel = np.take_along_axis(vel, loudest, -1)[..., 0]
      tap_off = np.take_along_axis(off, loudest, -1)[..., 0]
      in_hit, in_vel, in_off = (np.zeros_like(in_hit), np.zeros_like(in_vel),
                                np.zeros_like(in_off))
      in_hit[..., TAP_CLASS], in_vel[..., TAP_CLASS] = tap_hit, tap_vel
      in_off[..., TAP_CLASS] = tap_off
    if self.humanize:
      in_vel = np.zeros_like(in_vel)
      in_off = np.zeros_like(in_off)
    if self.fixed_velocities:
      in_vel = np.zeros_like(in_vel)
    if self.add_instruments:
      for block in (in_hit, in_vel, in_off):
        block[..., list(self.add_instruments)] = 0.0
    return np.concatenate([in_hit, in_vel, in_off], -1).astype(np.float32)

  def controls(self, targets: np.ndarray) -> np.ndarray | None:
    """hits_as_controls: the target hits `[n, T, 9]` (else None)."""
    if not self.hits_as_controls:
      return None
    return np.asarray(targets[..., :self.num_drums], np.float32)

  def make_batch(self, targets: np.ndarray, weights: np.ndarray | None = None,
                 row_seeds: Sequence[Sequence[int]] | None = None
                 ) -> dict[str, np.ndarray]:
    """A batch: `inputs`, `targets` float32 [B, T, 27], (`controls` [B, T, 9]),
    `lengths`, `weights`. `row_seeds[i]` seeds window i's note dropout."""
    targets = np.asarray(targets, np.float32)
    rngs = None
    if self.max_note_dropout_probability is not None:
      seeds = row_seeds if row_seeds is not None else [(i,) for i in range(len(targets))]
      rngs = [np.random.default_rng([self.seed, 77, *s]) for s in seeds]
    batch = {
        'inputs': self.encoder_inputs(targets, rngs),
        'targets': targets,
        'lengths': np.full((len(targets),), targets.shape[1], np.int32),
        'weights': (np.ones((len(targets),), np.float32) if weights is None
                    else np.asarray(weights, np.float32)),
    }
    controls = self.controls(targets)
    if controls is not None:
      batch['controls'] = controls
    return batch

  def transpose(self, windows: np.ndarray, shifts: np.ndarray):
    """Drums are never transposed (Magenta has no augmenter here)."""
    return windows, np.ones(len(windows), bool)

  # -- back to music -----------------------------------------------------------
  def to_note_sequence(self, window: np.ndarray, qpm: float = OUTPUT_QPM,
                       velocity: int | None = None) -> music_pb2.NoteSequence:
    """Magenta's `from_tensors` for one window `[T, 27]`: a note for every hit
    > 0.5 at its class's first pitch (inference map in inference mode),
    velocity round(v * 127) clipped to 0..127, onset (step - offset / 2) *
    step length, one step long; drums on instrument 9. `qpm` 120 as Magenta
    unless given; `velocity` (ignored) keeps the other converters' signature."""
    del velocity
    window = np.asarray(window, np.float64).reshape(-1, self.output_depth)
    d = self.num_drums
    ns = music_pb2.NoteSequence()
    ns.tempos.add(qpm=qpm)
    ns.ticks_per_quarter = note_seq.constants.STANDARD_PPQ
    step_length = 60.0 / qpm / self.steps_per_quarter
    classes = self.pitch_classes
    for i, row in enumerate(window):
      for j in range(d):
        if row[j] > 0.5:
          note = ns.notes.add()
          note.instrument = 9
          note.is_drum = True
          note.pitch = classes[j][0]
          note.velocity = int(np.clip(int(np.round(row[d + j] * 127)), 0, 127))
          offset = float(np.clip(row[2 * d + j] / 2, -0.5, 0.5))
          note.start_time = (i - offset) * step_length
          note.end_time = note.start_time + step_length
    ns.total_time = max([n.end_time for n in ns.notes], default=0.0)
    return ns


def note_dropout_keep(rng: np.random.Generator, velocities: np.ndarray,
                      max_probability: float) -> np.ndarray:
  """Magenta's note dropout keep mask for one window's velocities `[T, 9]`:
  p ~ U(0, max); drop each cell with probability max(0.2, 1 - v) * p."""
  p = rng.uniform(0.0, max_probability)
  weights = np.maximum(0.2, 1.0 - velocities)
  return 1.0 - rng.binomial(1, weights * p)


def converter_from_config(config, inference: bool = False) -> GrooveConverter:
  """The converter a groove config describes (`groove_*` fields)."""
  meters.require_default(config.get('meter', meters.DEFAULT), 'GrooVAE')
  return GrooveConverter(
      split_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
      humanize=bool(config.groove_humanize), tapify=bool(config.groove_tapify),
      add_instruments=tuple(config.groove_add_instruments),
      hits_as_controls=bool(config.groove_hits_as_controls),
      fixed_velocities=bool(config.groove_fixed_velocities),
      max_note_dropout_probability=(
          float(config.groove_max_note_dropout_probability)
          if config.groove_max_note_dropout_probability else None),
      inference=inference, seed=int(config.seed))
