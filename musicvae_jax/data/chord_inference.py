"""Chord inference identical to note-seq's `infer_chords_for_sequence`, fast.

Why hand-written: `note_seq.chord_inference` (note-seq 0.0.5, the version this
module mirrors; its code is Apache-2.0, Copyright 2022 The Magenta Authors)
rebuilds the 1164 x 1164 key-chord transition matrix in a pure Python double
loop on every call (about 1 s) and runs its Viterbi with a dense
`[1164, 1164]` tile + argmax per frame; note-seq has no faster path. Chord
inference was ~90% of the time of the chord converters. Here:

  * the transition matrix is built with numpy from the same floating-point
    operations (bit-identical; tested), and cached per parameter set;
  * the Viterbi uses the matrix's structure: a key change's probability does
    not depend on the previous key-chord, so the best predecessor among the
    1067 other-key states is the best previous log-likelihood plus one
    constant; only the 97 same-key predecessors are scanned. Float sums are
    formed exactly as note-seq forms them (`prev[i] + T[i, j]`, then
    `+ frame_loglik`), and ties go to the lowest index as `np.argmax` does, so
    the chosen path is the same bit for bit (compiled with numba when it is
    installed; the dense numpy Viterbi, note-seq's own formulation, is used
    without numba and for degenerate inputs with NaN / +inf);
  * the per-frame pitch-class durations are accumulated in note order by a
    compiled loop (same additions in the same order as note-seq's loop).

Everything else (frame derivation from bars or beats, normalisation, the
`np.dot` with the chord vectors, the annotations written, the exceptions)
follows note-seq line by line. Exceptions are note-seq's own classes
(`note_seq.chord_inference.ChordInferenceError` and subclasses,
`sequences_lib.QuantizationStatusError`), so callers catch what they caught.

Shapes: F frames (chords to infer), 12 pitch classes, C = 97 chords (no chord
+ 12 roots x 8 kinds), K = 12 keys, N = K * C = 1164 key-chord states (state
`i` is key `i // C`, chord `i % C`).
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np
from absl import logging
from note_seq import chord_inference as _note_seq_chord_inference
from note_seq import constants, sequences_lib
from note_seq.protobuf import music_pb2

try:  # numba is optional: without it the dense numpy Viterbi (slower) is used
  import numba
  _njit = numba.njit(cache=True, nogil=True)
except ImportError:  # pragma: no cover - exercised only without numba
  numba = None

  def _njit(function):
    return function

# note-seq's exceptions, re-exported: callers catch these.
ChordInferenceError = _note_seq_chord_inference.ChordInferenceError
SequenceAlreadyHasChordsError = _note_seq_chord_inference.SequenceAlreadyHasChordsError
UncommonTimeSignatureError = _note_seq_chord_inference.UncommonTimeSignatureError
NonIntegerStepsPerChordError = _note_seq_chord_inference.NonIntegerStepsPerChordError
EmptySequenceError = _note_seq_chord_inference.EmptySequenceError
SequenceTooLongError = _note_seq_chord_inference.SequenceTooLongError

# -- note-seq's tables (tests check they equal note-seq's) ---------------------
_PITCH_CLASS_NAMES = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B']
_KEY_PITCHES = [0, 2, 4, 5, 7, 9, 11]
_CHORD_KIND_PITCHES = {
    '': [0, 4, 7],
    'm': [0, 3, 7],
    '+': [0, 4, 8],
    'dim': [0, 3, 6],
    '7': [0, 4, 7, 10],
    'maj7': [0, 4, 7, 11],
    'm7': [0, 3, 7, 10],
    'm7b5': [0, 3, 6, 10],
}
_CHORDS = [constants.NO_CHORD] + list(itertools.product(range(12), _CHORD_KIND_PITCHES))
_KEY_CHORDS = list(itertools.product(range(12), _CHORDS))
_NUM_KEYS = 12
_NUM_CHORDS = len(_CHORDS)                   # 97
_MAX_NUM_CHORDS = 1000
_DEFAULT_TIME_SIGNATURE_CHORDS_PER_BAR = {
    (2, 2): 1,
    (2, 4): 1,
    (3, 4): 1,
    (4, 4): 2,
    (6, 8): 2,
}
_UNPITCHED = frozenset(constants.UNPITCHED_PROGRAMS)


def _as_float64(value) -> np.float64:
  """`value` as stored into a float64 array element (what note-seq's
  `mat[i, j] = value` does)."""
  return np.array(value, dtype=np.float64)[()]


# -- the model (note-seq's distributions) -------------------------------------
def _key_chord_distribution(chord_pitch_out_of_key_prob) -> np.ndarray:
  """P(chord | key), float64 `[12, C]` (note-seq's code)."""
  num_pitches_in_key = np.zeros([12, len(_CHORDS)], dtype=np.int32)
  num_pitches_out_of_key = np.zeros([12, len(_CHORDS)], dtype=np.int32)
  for key in range(12):
    key_pitches = set((key + offset) % 12 for offset in _KEY_PITCHES)
    for i, chord in enumerate(_CHORDS[1:]):
      root, kind = chord
      chord_pitches = set((root + offset) % 12 for offset in _CHORD_KIND_PITCHES[kind])
      num_pitches_in_key[key, i + 1] = len(chord_pitches & key_pitches)
      num_pitches_out_of_key[key, i + 1] = len(chord_pitches - key_pitches)
  mat = ((1 - chord_pitch_out_of_key_prob) ** num_pitches_in_key *
         chord_pitch_out_of_key_prob ** num_pitches_out_of_key)
  mat /= mat.sum(axis=1)[:, np.newaxis]
  return mat


def _key_chord_transition_distribution(key_chord_distribution, key_change_prob,
                                       chord_change_prob) -> np.ndarray:
  """P(key-chord j | key-chord i), float64 `[N, N]`: note-seq's double loop
  vectorised, each element from the same float operations in the same order."""
  n = _NUM_CHORDS
  # Key change: (key_change_prob / 11) * P(chord_2 | key_2), whatever the source.
  key_change = _as_float64(key_change_prob / 11) * key_chord_distribution.reshape(-1)
  mat = np.empty([len(_KEY_CHORDS), len(_KEY_CHORDS)])
  mat[:] = key_change[np.newaxis, :]
  stay = _as_float64(1 - key_change_prob)
  for key in range(_NUM_KEYS):
    dist = key_chord_distribution[key]
    # [chord_1, chord_2]: (1 - kcp) * (ccp * (P(c2|k) + P(c1|k) / (C - 1))).
    block = stay * (chord_change_prob * (dist[np.newaxis, :] + dist[:, np.newaxis] / (n - 1)))
    np.fill_diagonal(block, stay * (1 - chord_change_prob))
    mat[key * n:(key + 1) * n, key * n:(key + 1) * n] = block
  return mat


def _chord_pitch_vectors() -> np.ndarray:
  """Unit pitch-class vectors of the chords, float64 `[C, 12]` (row 0 zero)."""
  x = np.zeros([len(_CHORDS), 12])
  for i, chord in enumerate(_CHORDS[1:]):
    root, kind = chord
    for offset in _CHORD_KIND_PITCHES[kind]:
      x[i + 1, (root + offset) % 12] = 1
  x[1:, :] /= np.linalg.norm(x[1:, :], axis=1)[:, np.newaxis]
  return x


_CHORD_PITCH_VECTORS = _chord_pitch_vectors()


class _Model:
  """The log-probability tables for one parameter set.

  key_chord_loglik `[12, C]`, transition_loglik `[N, N]` (note-seq's arrays);
  for the structured Viterbi: key_change `[N]` (the log-probability of
  entering state j from any other key), same_key `[12, C, C]`
  (`same_key[k, c2, c1]` = transition (k, c1) -> (k, c2)), key_change_scale
  `[12]` (largest finite |key_change| into each key), and `structured`: False
  when the matrix does not have that structure bit for bit or holds NaN / +inf.
  """

  def __init__(self, key_change_prob, chord_change_prob, chord_pitch_out_of_key_prob):
    distribution = _key_chord_distribution(chord_pitch_out_of_key_prob)
    transitions = _key_chord_transition_distribution(
        distribution, key_change_prob=key_change_prob, chord_change_prob=chord_change_prob)
    with np.errstate(divide='ignore', invalid='ignore'):
      self.key_chord_loglik = np.log(distribution)
      self.transition_loglik = np.log(transitions)
    t, n = self.transition_loglik, _NUM_CHORDS
    first_other = np.where(np.arange(len(t)) < n, n, 0)   # first source of another key
    self.key_change = np.ascontiguousarray(t[first_other, np.arange(len(t))])
    self.same_key = np.ascontiguousarray(np.stack(
        [t[k * n:(k + 1) * n, k * n:(k + 1) * n].T for k in range(_NUM_KEYS)]))
    keys = np.arange(len(t)) // n
    other_key = keys[:, np.newaxis] != keys[np.newaxis, :]
    constant = bool(np.all((t == self.key_change[np.newaxis, :])[other_key]))
    finite = np.where(np.isfinite(self.key_change), np.abs(self.key_change), 0.0)
    self.key_change_scale = finite.reshape(_NUM_KEYS, n).max(axis=1)
    clean = not (np.isnan(t).any() or np.isposinf(t).any() or
                 np.isnan(self.key_chord_loglik).any() or
                 np.isposinf(self.key_chord_loglik).any())
    self.structured = constant and clean
    finite_t = t[np.isfinite(t)]
    finite_k = self.key_chord_loglik[np.isfinite(self.key_chord_loglik)]
    self.scale = (float(np.abs(finite_t).max(initial=0.0)) +
                  float(np.abs(finite_k).max(initial=0.0)) + 3.0)


_MODELS: dict = {}


def _model(key_change_prob, chord_change_prob, chord_pitch_out_of_key_prob) -> _Model:
  """The cached `_Model` of a parameter set (keyed by value and type)."""
  params = (key_change_prob, chord_change_prob, chord_pitch_out_of_key_prob)
  key = tuple((type(p).__name__, p) for p in params)
  if key not in _MODELS:
    _MODELS[key] = _Model(*params)
  return _MODELS[key]


# -- observations -------------------------------------------------------------
@_njit
def _bisect_right(a, x):
  """Python's `bisect.bisect_right` on float64 `a [n]` (same comparisons)."""
  lo, hi = 0, a.shape[0]
  while lo < hi:
    mid = (lo + hi) // 2
    if x < a[mid]:
      hi = mid
    else:
      lo = mid + 1
  return lo


@_njit
def _bisect_left(a, x):
  """Python's `bisect.bisect_left` on float64 `a [n]` (same comparisons)."""
  lo, hi = 0, a.shape[0]
  while lo < hi:
    mid = (lo + hi) // 2
    if a[mid] < x:
      lo = mid + 1
    else:
      hi = mid
  return lo


@_njit
def _accumulate_note_durations(x, boundaries, starts, ends, pitch_classes):
  """Adds each note's duration per frame into `x [F, 12]`, in note order.

  boundaries `[F - 1]` (frame boundary times, sorted), starts / ends `[M]`
  seconds, pitch_classes `[M]` int64. note-seq's loop, same additions.
  """
  for t in range(starts.shape[0]):
    start, end, pc = starts[t], ends[t], pitch_classes[t]
    start_frame = _bisect_right(boundaries, start)
    end_frame = _bisect_left(boundaries, end)
    if start_frame >= end_frame:
      x[start_frame, pc] += end - start
    else:
      x[start_frame, pc] += boundaries[start_frame] - start
      for frame in range(start_frame + 1, end_frame):
        x[frame, pc] += boundaries[frame] - boundaries[frame - 1]
      x[end_frame, pc] += end - boundaries[end_frame - 1]


def sequence_note_pitch_vectors(sequence, seconds_per_frame) -> np.ndarray:
  """Unit pitch-class vectors per frame, float64 `[F, 12]` (note-seq's).

  seconds_per_frame: frame length in seconds, or the frame boundary times
  (without the initial start and final end time).
  """
  if isinstance(seconds_per_frame, numbers.Number):
    num_frames = int(math.ceil(sequence.total_time / seconds_per_frame))
    frame_boundaries = seconds_per_frame * np.arange(1, num_frames)
  else:
    frame_boundaries = sorted(seconds_per_frame)
    num_frames = len(frame_boundaries) + 1
  x = np.zeros([num_frames, 12])
  notes = [(note.start_time, note.end_time, note.pitch % 12) for note in sequence.notes
           if not note.is_drum and note.program not in _UNPITCHED]
  if notes:
    if num_frames == 0:  # note-seq indexes row 0 of an empty array
      raise IndexError('index 0 is out of bounds for axis 0 with size 0')
    starts, ends, pitch_classes = zip(*notes)
    _accumulate_note_durations(
        x, np.asarray(frame_boundaries, dtype=np.float64).reshape(-1),
        np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64),
        np.asarray(pitch_classes, dtype=np.int64))
  x_norm = np.linalg.norm(x, axis=1)
  nonzero_frames = x_norm > 0
  x[nonzero_frames, :] /= x_norm[nonzero_frames, np.newaxis]
  return x


def _chord_frame_log_likelihood(note_pitch_vectors, chord_note_concentration) -> np.ndarray:
  """log P(frame notes | chord), float64 `[F, C]` (note-seq's expression)."""
  return chord_note_concentration * np.dot(note_pitch_vectors, _CHORD_PITCH_VECTORS.T)


# -- Viterbi ------------------------------------------------------------------
def _viterbi_init(chord_frame_loglik, key_chord_loglik) -> np.ndarray:
  """Log-likelihood of each state at frame 0, float64 `[N]` (uniform keys);
  note-seq's `(-log 12 + key_chord_loglik) + frame_loglik` per element."""
  return ((-np.log(12) + key_chord_loglik.reshape(-1)) +
          np.tile(chord_frame_loglik[0], _NUM_KEYS))


def _viterbi_dense(chord_frame_loglik, init, transition_loglik):
  """note-seq's per-frame dense Viterbi step. Returns (last row `[N]`, parent
  of each state per frame int32 `[F, N]`)."""
  num_frames = chord_frame_loglik.shape[0]
  num_key_chords = len(transition_loglik)
  path_matrix = np.zeros([num_frames, num_key_chords], dtype=np.int32)
  previous = init
  for frame in range(1, num_frames):
    mat = np.tile(previous[:, np.newaxis], [1, num_key_chords]) + transition_loglik
    path_matrix[frame, :] = mat.argmax(axis=0)
    previous = (mat[path_matrix[frame, :], range(num_key_chords)] +
                np.tile(chord_frame_loglik[frame], _NUM_KEYS))
  return previous, path_matrix


@_njit
def _viterbi_structured(chord_frame_loglik, init, key_change, key_change_scale, same_key):
  """The dense Viterbi's result, using the transition structure.

  chord_frame_loglik `[F, C]`; init `[N]`; key_change `[N]` (log P of entering
  state j from any state of another key); key_change_scale `[K]`; same_key
  `[K, C, C]` (`[k, c2, c1]`: log P((k, c1) -> (k, c2))). Inputs hold no NaN
  or +inf and sums cannot overflow (the caller checks).

  For state j = (k, c2) the dense step takes the first i maximising
  fl(prev[i] + T[i, j]). Same-key sources are scanned. Other-key sources all
  add the same a = key_change[j]; rounding is monotone, so their best value
  is fl(m + a), m the largest prev among them, and the first index reaching
  it is among the sources with prev[i] >= m - tol (tol bounds one rounding
  step: 2**-50 (|m| + max|a|) is four times the largest ulp involved), which
  are scanned in index order. Returns (last row `[N]`, parents int32 `[F, N]`).
  """
  num_frames, num_chords = chord_frame_loglik.shape
  num_keys = same_key.shape[0]
  num_states = num_keys * num_chords
  path_matrix = np.zeros((num_frames, num_states), dtype=np.int32)
  previous = init.copy()
  current = np.empty(num_states)
  block_max = np.empty(num_keys)
  candidates = np.empty(num_states, dtype=np.int64)
  for frame in range(1, num_frames):
    for k in range(num_keys):
      best = -np.inf
      for c in range(num_chords):
        if previous[k * num_chords + c] > best:
          best = previous[k * num_chords + c]
      block_max[k] = best
    for k2 in range(num_keys):
      others_max = -np.inf
      for k in range(num_keys):
        if k != k2 and block_max[k] > others_max:
          others_max = block_max[k]
      tolerance = (abs(others_max) + key_change_scale[k2]) * 2.0 ** -50 + 2.0 ** -1070
      threshold = others_max - tolerance if np.isfinite(tolerance) else -np.inf
      num_candidates = 0
      for k in range(num_keys):
        if k == k2:
          continue
        for c in range(num_chords):
          if previous[k * num_chords + c] >= threshold:
            candidates[num_candidates] = k * num_chords + c
            num_candidates += 1
      first_other = num_chords if k2 == 0 else 0
      base = k2 * num_chords
      for c2 in range(num_chords):
        j = base + c2
        a = key_change[j]
        # Best source of another key (value, first index).
        other_index = first_other
        if a != -np.inf:
          target = others_max + a
          for t in range(num_candidates):
            if previous[candidates[t]] + a == target:
              other_index = candidates[t]
              break
        other_value = previous[other_index] + a
        # Best source of the same key.
        same_index = base
        same_value = previous[base] + same_key[k2, c2, 0]
        for c1 in range(1, num_chords):
          value = previous[base + c1] + same_key[k2, c2, c1]
          if value > same_value:
            same_value = value
            same_index = base + c1
        if other_value > same_value or (other_value == same_value and other_index < same_index):
          best_index, best_value = other_index, other_value
        else:
          best_index, best_value = same_index, same_value
        path_matrix[frame, j] = best_index
        current[j] = best_value + chord_frame_loglik[frame, c2]
    previous, current = current, previous
  return previous, path_matrix


def _key_chord_viterbi(chord_frame_loglik, model: _Model) -> list:
  """Most likely (key, chord) per frame: note-seq's `_key_chord_viterbi`.

  chord_frame_loglik `[F, C]` -> F pairs (key 0..11, chord from `_CHORDS`).
  """
  num_frames, num_chords = chord_frame_loglik.shape
  init = _viterbi_init(chord_frame_loglik, model.key_chord_loglik)
  bounded = (np.isfinite(chord_frame_loglik).all() and
             num_frames * (float(np.abs(chord_frame_loglik).max(initial=0.0)) + model.scale)
             < 1e300)
  if numba is not None and model.structured and bounded:
    last, path_matrix = _viterbi_structured(
        np.ascontiguousarray(chord_frame_loglik), init, model.key_change,
        model.key_change_scale, model.same_key)
  else:
    last, path_matrix = _viterbi_dense(chord_frame_loglik, init, model.transition_loglik)
  path = [np.argmax(last)]
  for frame in range(num_frames, 1, -1):
    path.append(path_matrix[frame - 1, path[-1]])
  return [(index // num_chords, _CHORDS[index % num_chords]) for index in path[::-1]]


# -- the public function ------------------------------------------------------
def infer_chords_for_sequence(sequence,
                              chords_per_bar=None,
                              key_change_prob=0.001,
                              chord_change_prob=0.5,
                              chord_pitch_out_of_key_prob=0.01,
                              chord_note_concentration=100.0,
                              add_key_signatures=False):
  """Infers chords (and optionally keys) and adds them to `sequence` in place.

  Same arguments, defaults, annotations and exceptions as
  `note_seq.infer_chords_for_sequence` (note-seq 0.0.5): a quantized sequence
  gets `chords_per_bar` chords per bar (default from the time signature:
  2 in 4/4 and 6/8, 1 in 2/2, 2/4 and 3/4); an unquantized one one chord per
  annotated beat. A CHORD_SYMBOL text annotation is added at each chord
  change ('N.C.' or root + kind, e.g. 'Ebm7'), with `quantized_step` when
  the sequence is quantized; with `add_key_signatures` the key signatures are
  replaced by the inferred keys.

  Raises SequenceAlreadyHasChordsError, QuantizationStatusError,
  UncommonTimeSignatureError, NonIntegerStepsPerChordError,
  EmptySequenceError, SequenceTooLongError (note-seq's classes).
  """
  for ta in sequence.text_annotations:
    if ta.annotation_type == music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL:
      raise SequenceAlreadyHasChordsError(
          'NoteSequence already has chord(s): %s' % ta.text)

  if sequences_lib.is_relative_quantized_sequence(sequence):
    if chords_per_bar is None:
      time_signature = (sequence.time_signatures[0].numerator,
                        sequence.time_signatures[0].denominator)
      if time_signature not in _DEFAULT_TIME_SIGNATURE_CHORDS_PER_BAR:
        raise UncommonTimeSignatureError(
            'No default chords per bar for time signature: (%d, %d)' % time_signature)
      chords_per_bar = _DEFAULT_TIME_SIGNATURE_CHORDS_PER_BAR[time_signature]
    steps_per_bar_float = sequences_lib.steps_per_bar_in_quantized_sequence(sequence)
    steps_per_chord_float = steps_per_bar_float / chords_per_bar
    if steps_per_chord_float != round(steps_per_chord_float):
      raise NonIntegerStepsPerChordError(
          'Non-integer number of steps per chord: %f' % steps_per_chord_float)
    steps_per_chord = int(steps_per_chord_float)
    steps_per_second = sequences_lib.steps_per_quarter_to_steps_per_second(
        sequence.quantization_info.steps_per_quarter, sequence.tempos[0].qpm)
    seconds_per_chord = steps_per_chord / steps_per_second
    num_chords = int(math.ceil(sequence.total_time / seconds_per_chord))
    if num_chords == 0:
      raise EmptySequenceError('NoteSequence is empty.')
  else:
    if chords_per_bar is not None:
      raise sequences_lib.QuantizationStatusError(
          'Sequence must be quantized to infer fixed number of chords per bar.')
    beats = [ta for ta in sequence.text_annotations
             if ta.annotation_type == music_pb2.NoteSequence.TextAnnotation.BEAT]
    if not beats:
      raise sequences_lib.QuantizationStatusError(
          'Sequence must be quantized to infer chords without annotated beats.')
    sorted_beats = sorted([beat for beat in beats if 0.0 < beat.time < sequence.total_time],
                          key=lambda beat: beat.time)
    unique_sorted_beats = [sorted_beats[i] for i in range(len(sorted_beats))
                           if i == 0 or sorted_beats[i].time > sorted_beats[i - 1].time]
    num_chords = len(unique_sorted_beats) + 1
    sorted_beat_times = [beat.time for beat in unique_sorted_beats]
    if sequences_lib.is_quantized_sequence(sequence):
      sorted_beat_steps = [beat.quantized_step for beat in unique_sorted_beats]

  if num_chords > _MAX_NUM_CHORDS:
    raise SequenceTooLongError(
        'NoteSequence too long for chord inference: %d frames' % num_chords)

  note_pitch_vectors = sequence_note_pitch_vectors(
      sequence, seconds_per_chord if chords_per_bar is not None else sorted_beat_times)
  chord_frame_loglik = _chord_frame_log_likelihood(note_pitch_vectors, chord_note_concentration)
  model = _model(key_change_prob, chord_change_prob, chord_pitch_out_of_key_prob)
  key_chords = _key_chord_viterbi(chord_frame_loglik, model)

  if add_key_signatures:
    del sequence.key_signatures[:]

  current_key_name = None
  current_chord_name = None
  quantized = sequences_lib.is_quantized_sequence(sequence)
  for frame, (key, chord) in enumerate(key_chords):
    if chords_per_bar is not None:
      time = frame * seconds_per_chord
    else:
      time = 0.0 if frame == 0 else sorted_beat_times[frame - 1]

    if _PITCH_CLASS_NAMES[key] != current_key_name:
      if add_key_signatures:
        ks = sequence.key_signatures.add()
        ks.time = time
        ks.key = key
      elif current_key_name is not None:
        logging.info('Sequence has key change from %s to %s at %f seconds.',
                     current_key_name, _PITCH_CLASS_NAMES[key], time)
      current_key_name = _PITCH_CLASS_NAMES[key]

    if chord == constants.NO_CHORD:
      figure = constants.NO_CHORD
    else:
      root, kind = chord
      figure = '%s%s' % (_PITCH_CLASS_NAMES[root], kind)

    if figure != current_chord_name:
      ta = sequence.text_annotations.add()
      ta.time = time
      if quantized:
        if chords_per_bar is not None:
          ta.quantized_step = frame * steps_per_chord
        else:
          ta.quantized_step = 0 if frame == 0 else sorted_beat_steps[frame - 1]
      ta.text = figure
      ta.annotation_type = music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL
      current_chord_name = figure
