"""`musicvae_jax.data.chord_inference` against note-seq's chord inference (the
reference, used only here): the same annotations (or the same exception) on
LMD pieces and on generated sequences, bit-identical tables, and the
structured Viterbi against the dense one, ties included."""

from __future__ import annotations

import copy

import note_seq
import numpy as np
import pytest
from note_seq import chord_inference as reference
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from musicvae_jax.data import chord_inference as ours

CHORD = music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL
BEAT = music_pb2.NoteSequence.TextAnnotation.BEAT
LMD_FILES = 40          # LMD train files compared (first bars of every piece)
LMD_BARS = 32


@pytest.fixture(scope='module', autouse=True)
def fast_reference():
  """note-seq's transition matrix is a pure function of its arguments that
  takes ~1 s to build: memoise it so the reference runs in test time (the
  reference's results are unchanged)."""
  original = reference._key_chord_transition_distribution
  cache = {}

  def memoised(distribution, key_change_prob, chord_change_prob):
    key = (distribution.tobytes(), key_change_prob, chord_change_prob)
    if key not in cache:
      cache[key] = original(distribution, key_change_prob, chord_change_prob)
    return cache[key].copy()

  reference._key_chord_transition_distribution = memoised
  yield
  reference._key_chord_transition_distribution = original


def _outcome(function, sequence, **kwargs):
  """(annotated copy, None) or (unchanged copy, (exception type, message))."""
  sequence = copy.deepcopy(sequence)
  try:
    function(sequence, **kwargs)
  except Exception as error:  # noqa: BLE001 - the exception is what is compared
    return sequence, (type(error), str(error))
  return sequence, None


def assert_same(sequence, **kwargs):
  """Both inferences give equal NoteSequences (every annotation) or raise the
  same exception with the same message. Returns the chord figures."""
  theirs, their_error = _outcome(reference.infer_chords_for_sequence, sequence, **kwargs)
  mine, my_error = _outcome(ours.infer_chords_for_sequence, sequence, **kwargs)
  assert my_error == their_error
  assert mine == theirs
  return [ta.text for ta in mine.text_annotations if ta.annotation_type == CHORD]


def _sequence(notes, qpm=120.0, time_signature=(4, 4), total_time=None):
  """Unquantized NoteSequence; notes = (pitch, start, end[, program, is_drum])."""
  ns = music_pb2.NoteSequence(ticks_per_quarter=220)
  ns.tempos.add(qpm=qpm)
  ns.time_signatures.add(numerator=time_signature[0], denominator=time_signature[1])
  for pitch, start, end, *rest in notes:
    program, is_drum = (rest + [0, False])[:2] if rest else (0, False)
    ns.notes.add(pitch=pitch, start_time=start, end_time=end, velocity=90,
                 program=program, is_drum=is_drum)
  ns.total_time = max([n.end_time for n in ns.notes], default=0.0) if total_time is None \
      else total_time
  return ns


def _random_notes(rng, count, seconds, programs=(0,)):
  starts = rng.uniform(0, seconds, count)
  lengths = rng.choice([0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0], count)
  return [(int(rng.integers(21, 109)), float(s), float(s + d), int(rng.choice(programs)),
           bool(rng.random() < 0.1)) for s, d in zip(starts, lengths)]


# -- tables -------------------------------------------------------------------
def test_tables_match_note_seq():
  assert ours._CHORDS == reference._CHORDS
  assert ours._KEY_CHORDS == reference._KEY_CHORDS
  assert ours._PITCH_CLASS_NAMES == reference._PITCH_CLASS_NAMES
  assert ours._KEY_PITCHES == reference._KEY_PITCHES
  assert ours._CHORD_KIND_PITCHES == dict(reference._CHORD_KIND_PITCHES)
  assert ours._DEFAULT_TIME_SIGNATURE_CHORDS_PER_BAR == \
      reference._DEFAULT_TIME_SIGNATURE_CHORDS_PER_BAR
  assert ours._MAX_NUM_CHORDS == reference._MAX_NUM_CHORDS
  np.testing.assert_array_equal(ours._CHORD_PITCH_VECTORS, reference._chord_pitch_vectors())
  assert ours.ChordInferenceError is reference.ChordInferenceError


@pytest.mark.parametrize('params', [(0.001, 0.5, 0.01), (0.05, 0.3, 0.2), (0.0, 1.0, 0.0)])
def test_transition_matrix_is_bit_identical(params):
  key_change, chord_change, out_of_key = params
  distribution = reference._key_chord_distribution(out_of_key)
  assert ours._key_chord_distribution(out_of_key).tobytes() == distribution.tobytes()
  theirs = reference._key_chord_transition_distribution(distribution, key_change, chord_change)
  mine = ours._key_chord_transition_distribution(distribution, key_change, chord_change)
  assert mine.tobytes() == theirs.tobytes()


# -- the Viterbi --------------------------------------------------------------
def _frame_logliks():
  """Frame log-likelihoods `[F, 97]` that provoke ties: all zero, integers,
  repeated rows, real pitch vectors with silent frames, random."""
  rng = np.random.default_rng(0)
  vectors = rng.random((40, 12)) * (rng.random((40, 1)) < 0.7)
  vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-300)
  return {
      'zeros': np.zeros((30, 97)),
      'integers': rng.integers(-3, 3, (30, 97)).astype(float),
      'repeated': np.tile(rng.normal(size=(1, 97)), (30, 1)),
      'pitch_vectors': ours._chord_frame_log_likelihood(vectors, 100.0),
      'random': rng.normal(scale=50, size=(30, 97)),
      'one_frame': rng.normal(size=(1, 97)),
  }


@pytest.mark.parametrize('params', [(0.001, 0.5, 0.01), (0.0, 0.5, 0.0), (0.3, 0.9, 0.4)])
def test_structured_viterbi_equals_dense_viterbi(params):
  """Every parent of every state and the last log-likelihoods, bit for bit
  (-inf transitions included: params with zero probabilities)."""
  model = ours._model(*params)
  assert model.structured
  for name, loglik in _frame_logliks().items():
    init = ours._viterbi_init(loglik, model.key_chord_loglik)
    dense_last, dense_path = ours._viterbi_dense(loglik, init, model.transition_loglik)
    last, path = ours._viterbi_structured(loglik, init, model.key_change,
                                          model.key_change_scale, model.same_key)
    assert last.tobytes() == dense_last.tobytes(), name
    np.testing.assert_array_equal(path, dense_path, err_msg=name)


def test_viterbi_path_equals_note_seq(monkeypatch):
  model = ours._model(0.001, 0.5, 0.01)
  for name, loglik in _frame_logliks().items():
    theirs = reference._key_chord_viterbi(loglik, model.key_chord_loglik,
                                          model.transition_loglik)
    assert ours._key_chord_viterbi(loglik, model) == theirs, name
    monkeypatch.setattr(ours, 'numba', None)        # the dense (no numba) path
    assert ours._key_chord_viterbi(loglik, model) == theirs, name
    monkeypatch.undo()


# -- whole sequences ----------------------------------------------------------
def test_lmd_pieces_match_note_seq(lmd_files):
  """The first LMD_BARS bars of every piece (split at time changes) of the
  first LMD_FILES train files, quantized as the melody / chord converters do
  (4 steps per quarter); every 4th file also at 24 (multitrack)."""
  files = [f for f in lmd_files if f.parent.name == 'train'][:LMD_FILES]
  compared = chords = 0
  for index, path in enumerate(files):
    ns = note_seq.midi_file_to_note_sequence(str(path))
    for piece in sequences_lib.split_note_sequence_on_time_changes(ns):
      qpm = piece.tempos[0].qpm if piece.tempos else 120.0
      if piece.total_time > LMD_BARS * 240.0 / qpm:
        piece = sequences_lib.extract_subsequence(piece, 0.0, LMD_BARS * 240.0 / qpm)
      for steps in (4, 24) if index % 4 == 0 else (4,):
        try:
          quantized = note_seq.quantize_note_sequence(piece, steps)
        except (sequences_lib.QuantizationStatusError, note_seq.BadTimeSignatureError,
                sequences_lib.MultipleTimeSignatureError, sequences_lib.MultipleTempoError,
                sequences_lib.NegativeTimeError):
          continue
        chords += len(assert_same(quantized))
        compared += 1
  assert compared >= LMD_FILES and chords > 500


@pytest.mark.parametrize('seed', range(4))
def test_random_quantized_sequences(seed):
  rng = np.random.default_rng(seed)
  qpm = float(rng.choice([60.0, 97.3, 120.0, 183.0]))
  programs = (0, 33, 40, 100, 118)       # 100, 118: unpitched
  ns = _sequence(_random_notes(rng, int(rng.integers(5, 200)), 16 * 240.0 / qpm, programs),
                 qpm=qpm)
  quantized = note_seq.quantize_note_sequence(ns, 4)
  assert assert_same(quantized)
  assert_same(quantized, add_key_signatures=True)
  assert_same(quantized, chords_per_bar=4, key_change_prob=0.05, chord_change_prob=0.2,
              chord_pitch_out_of_key_prob=0.1, chord_note_concentration=10.0)


@pytest.mark.parametrize('time_signature', [(2, 2), (2, 4), (3, 4), (6, 8), (4, 4)])
def test_time_signatures(time_signature):
  rng = np.random.default_rng(1)
  ns = _sequence(_random_notes(rng, 60, 20.0), time_signature=time_signature)
  assert assert_same(note_seq.quantize_note_sequence(ns, 4))


def test_single_note_silence_and_drums_only():
  assert assert_same(note_seq.quantize_note_sequence(_sequence([(60, 0.0, 0.5)]), 4)) == ['C']
  # Notes ending on frame boundaries, zero-length notes, silence in between.
  assert_same(note_seq.quantize_note_sequence(
      _sequence([(60, 0.0, 1.0), (64, 1.0, 1.0), (67, 3.0, 4.0), (62, 6.0, 8.0)]), 4))
  drums = _sequence([(36, 0.0, 0.5, 0, True), (38, 1.0, 1.5, 0, True)])
  assert assert_same(note_seq.quantize_note_sequence(drums, 4)) == ['N.C.']


def test_tempo_and_time_signature_changes():
  """Inference reads the first tempo and time signature only (a hand-made
  quantized sequence carries several), or beats."""
  rng = np.random.default_rng(2)
  ns = note_seq.quantize_note_sequence(_sequence(_random_notes(rng, 80, 24.0)), 4)
  ns.tempos.add(time=8.0, qpm=90.0)
  ns.time_signatures.add(time=12.0, numerator=3, denominator=4)
  assert assert_same(ns)
  unquantized = _sequence(_random_notes(rng, 80, 24.0))
  unquantized.tempos.add(time=8.0, qpm=90.0)
  unquantized.time_signatures.add(time=12.0, numerator=3, denominator=4)
  for time in list(np.arange(0.0, 30.0, 0.55)) + [3.3, 3.3, 1.1]:   # duplicates, beyond the end
    unquantized.text_annotations.add(time=float(time), annotation_type=BEAT)
  assert assert_same(unquantized)


def test_beats_on_an_absolute_quantized_sequence():
  rng = np.random.default_rng(3)
  ns = note_seq.quantize_note_sequence_absolute(_sequence(_random_notes(rng, 50, 10.0)), 100)
  for step in range(0, 1100, 37):
    ns.text_annotations.add(time=step / 100.0, quantized_step=step, annotation_type=BEAT)
  assert assert_same(ns)


def test_errors_are_note_seq_errors():
  quantized = note_seq.quantize_note_sequence(_sequence([(60, 0.0, 2.0)]), 4)
  with_chords = copy.deepcopy(quantized)
  with_chords.text_annotations.add(time=0.0, text='C', annotation_type=CHORD)
  empty = note_seq.quantize_note_sequence(_sequence([]), 4)
  too_long = note_seq.quantize_note_sequence(_sequence([(60, 0.0, 1001.0)]), 4)
  five_four = note_seq.quantize_note_sequence(_sequence([(60, 0.0, 2.0)], time_signature=(5, 4)), 4)
  cases = [
      (with_chords, {}, reference.SequenceAlreadyHasChordsError),
      (empty, {}, reference.EmptySequenceError),
      (too_long, {}, reference.SequenceTooLongError),
      (five_four, {}, reference.UncommonTimeSignatureError),
      (quantized, {'chords_per_bar': 5}, reference.NonIntegerStepsPerChordError),
      (_sequence([(60, 0.0, 2.0)]), {}, sequences_lib.QuantizationStatusError),
      (_sequence([(60, 0.0, 2.0)]), {'chords_per_bar': 2}, sequences_lib.QuantizationStatusError),
  ]
  for sequence, kwargs, error in cases:
    with pytest.raises(error):
      ours.infer_chords_for_sequence(copy.deepcopy(sequence), **kwargs)
    assert_same(sequence, **kwargs)


def test_degenerate_parameters_take_the_dense_path():
  """Infinite concentration gives NaN log-likelihoods: note-seq's dense
  Viterbi (same NaN argmax) is used."""
  rng = np.random.default_rng(4)
  ns = note_seq.quantize_note_sequence(_sequence(_random_notes(rng, 30, 8.0)), 4)
  with np.errstate(all='ignore'):
    assert_same(ns, chord_note_concentration=float('inf'))
    assert_same(ns, key_change_prob=0.0, chord_pitch_out_of_key_prob=0.0)


def test_pitch_vectors_match_note_seq():
  rng = np.random.default_rng(5)
  ns = _sequence(_random_notes(rng, 100, 10.0, programs=(0, 99, 112)))
  for frames in (0.5, 0.37, [3.0, 1.0, 2.0, 2.0, 9.5]):
    theirs = reference.sequence_note_pitch_vectors(ns, frames)
    assert ours.sequence_note_pitch_vectors(ns, frames).tobytes() == theirs.tobytes()
  silent = _sequence([(60, 0.0, 1.0)], total_time=0.0)
  with pytest.raises(IndexError):
    reference.sequence_note_pitch_vectors(silent, 0.5)
  with pytest.raises(IndexError):
    ours.sequence_note_pitch_vectors(silent, 0.5)
