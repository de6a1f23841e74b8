"""One test per Magenta melody rule, on hand-built NoteSequences.

Every case runs both extractors: the note_seq reference (`all_windows`) and
the vectorised fast path (`fast_windows`), which must agree exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from musicvae_jax.data import converters, encodings

STEP = 0.125  # seconds per 16th note at 120 qpm


def seq(notes, qpm=120.0, time_signature=(4, 4), tempos=(), signatures=()):
  """notes: (pitch, start_step, end_step[, program, instrument, is_drum])."""
  ns = music_pb2.NoteSequence(ticks_per_quarter=220)
  ns.tempos.add(time=0.0, qpm=qpm)
  for time, q in tempos:
    ns.tempos.add(time=time, qpm=q)
  if time_signature:
    ns.time_signatures.add(time=0.0, numerator=time_signature[0],
                           denominator=time_signature[1])
  for time, num, den in signatures:
    ns.time_signatures.add(time=time, numerator=num, denominator=den)
  step = 60.0 / qpm / 4
  for note in notes:
    pitch, start, end = note[:3]
    program, instrument, is_drum = (list(note[3:]) + [0, 0, False][len(note) - 3:])[:3]
    ns.notes.add(pitch=pitch, start_time=start * step, end_time=end * step, velocity=90,
                 program=program, instrument=instrument, is_drum=is_drum)
    ns.total_time = max(ns.total_time, end * step)
  return ns


def conv(slice_bars=2, programs=converters.MEL_2BAR_PROGRAMS, **kwargs):
  return converters.MelodyConverter(slice_bars=slice_bars, valid_programs=programs, **kwargs)


def windows(converter, ns):
  """Reference windows, after checking the fast path gives the same."""
  ref = converter.all_windows(ns)
  fast = converter.fast_windows(ns)
  assert ref.dtype == fast.dtype == np.int16
  np.testing.assert_array_equal(ref, fast)
  return ref


def melodies(converter, ns):
  from musicvae_jax.data import fast_melody
  from musicvae_jax.data.midi_parse import NoteArrays
  ref = converter.melodies(ns)
  fast = fast_melody.melodies(NoteArrays.from_note_sequence(ns), converter.valid_programs,
                              converter.steps_per_quarter, converter.gap_bars,
                              converter.max_bars, converter.min_unique_pitches)
  assert len(ref) == len(fast)
  for a, b in zip(ref, fast):
    np.testing.assert_array_equal(a, b)
  return ref


def tok(pitch):
  return pitch - encodings.MIN_PITCH + encodings.FIRST_PITCH_TOKEN


def run(n_bars, base=60, length=4):
  """A note every `length` steps over `n_bars` bars, pitches cycling."""
  return [(base + (i % 7), i * length, (i + 1) * length) for i in range(n_bars * 16 // length)]


def test_split_at_tempo_change():
  notes = run(4)
  assert len(melodies(conv(), seq(notes))) == 1
  # Same tempo again: no split. A different tempo at bar 2: two pieces.
  assert len(melodies(conv(), seq(notes, tempos=[(4.0, 120.0)]))) == 1
  found = melodies(conv(), seq(notes, tempos=[(4.0, 60.0)]))
  assert len(found) == 2 and len(found[0]) == 32


def test_split_at_time_signature_change():
  found = melodies(conv(), seq(run(4), signatures=[(4.0, 3, 4)]))
  assert len(found) == 1 and len(found[0]) == 32  # the 3/4 part is dropped


@pytest.mark.parametrize('signature,kept', [((4, 4), True), ((2, 2), True), ((3, 4), False),
                                            ((6, 8), False), ((8, 8), True)])
def test_only_16_steps_per_bar(signature, kept):
  assert (len(windows(conv(), seq(run(4), time_signature=signature))) > 0) == kept


def test_pitch_range_21_to_108():
  ns = seq([(20, 0, 4), (109, 4, 8), (21, 8, 12), (108, 12, 16)])
  (melody,) = melodies(conv(slice_bars=1), ns)
  assert melody[0] == encodings.NO_EVENT and melody[4] == encodings.NO_EVENT
  assert melody[8] == tok(21) == encodings.FIRST_PITCH_TOKEN
  assert melody[12] == tok(108) == encodings.MELODY_CLASSES - 1


def test_program_filter():
  ns = seq([(n[0], n[1], n[2], 40) for n in run(4)])  # program 40 (strings)
  assert len(windows(conv(programs=converters.MEL_2BAR_PROGRAMS), ns)) == 0
  assert len(windows(conv(programs=None), ns)) == 3
  ns = seq([(n[0], n[1], n[2], 31) for n in run(4)])
  assert len(windows(conv(programs=converters.MEL_2BAR_PROGRAMS), ns)) == 3


def test_drums_dropped():
  ns = seq([(n[0], n[1], n[2], 0, 0, True) for n in run(4)])
  assert len(windows(conv(programs=None), ns)) == 0


def test_highest_note_wins_on_simultaneous_onsets():
  ns = seq([(60, 0, 8), (67, 0, 4), (64, 0, 8)])
  (melody,) = melodies(conv(slice_bars=1), ns)
  assert melody[0] == tok(67) and melody[4] == encodings.NOTE_OFF


def test_new_onset_cuts_the_sounding_note():
  ns = seq([(60, 0, 12), (62, 4, 6)])
  (melody,) = melodies(conv(slice_bars=1), ns)
  assert melody[:8].tolist() == [tok(60), 0, 0, 0, tok(62), 0, encodings.NOTE_OFF, 0]
  assert (melody[7:] == encodings.NO_EVENT).all()  # the first note does not resume


def test_bar_of_silence_ends_a_melody():
  near = seq([(60, 0, 4), (62, 4 + 15, 4 + 16)])  # 15 steps of rest
  far = seq([(60, 0, 4), (62, 4 + 16, 4 + 17)])   # 16 steps of rest
  assert len(melodies(conv(slice_bars=1), near)) == 1
  assert len(melodies(conv(slice_bars=1), far)) == 2


def test_minimum_length_is_one_bar_and_melodies_are_padded_to_bars():
  ns = seq([(60, 0, 1)])
  (melody,) = melodies(conv(slice_bars=1), ns)
  assert len(melody) == 16 and melody[0] == tok(60) and melody[1] == encodings.NOTE_OFF
  assert len(windows(conv(slice_bars=1), ns)) == 1
  assert len(windows(conv(slice_bars=2), ns)) == 0


def test_min_unique_pitches():
  """Magenta's converter passes min_unique_pitches=1: a one-pitch melody is
  kept. (reference.md summarises this as "single unique pitch dropped",
  which Magenta's code does not do; we follow the code.)"""
  ns = seq([(60, i * 4, i * 4 + 2) for i in range(8)])
  assert len(windows(conv(), ns)) == 1
  assert len(windows(conv(min_unique_pitches=2), ns)) == 0
  two = seq([(60 + 12 * (i % 2), i * 4, i * 4 + 2) for i in range(8)])  # same pitch class
  assert len(windows(conv(min_unique_pitches=2), two)) == 0
  assert len(windows(conv(min_unique_pitches=2), seq(run(2)))) == 1


def test_max_100_bars():
  (melody,) = melodies(conv(), seq(run(120)))
  assert len(melody) == 100 * 16


def test_one_bar_stride():
  ns = seq(run(4, length=2))  # 4 bars, no repeats inside a window
  found = windows(conv(), ns)
  (melody,) = melodies(conv(), ns)
  assert len(found) == 3
  for i in range(3):
    np.testing.assert_array_equal(found[i, :, 0], melody[16 * i:16 * i + 32])


def test_identical_windows_are_deduplicated():
  bar = [(60, 0, 4), (64, 4, 8), (67, 8, 12), (72, 12, 16)]
  ns = seq([(p, s + 16 * b, e + 16 * b) for b in range(6) for p, s, e in bar])
  assert len(windows(conv(), ns)) == 1
  assert len(windows(conv(slice_bars=1), ns)) == 1


def test_at_most_five_windows_per_sequence():
  ns = seq([(40 + i, i * 4, i * 4 + 4) for i in range(4 * 12)])  # 12 bars, all distinct
  converter = conv()
  every = windows(converter, ns)
  assert len(every) == 11
  first = converter.to_windows(ns)
  np.testing.assert_array_equal(first, every[:5])
  picked = converter.to_windows(ns, rng=np.random.default_rng(0))
  assert len(picked) == 5
  rows = {w.tobytes() for w in every}
  assert all(w.tobytes() in rows for w in picked)
  again = converter.to_windows(ns, rng=np.random.default_rng(0))
  np.testing.assert_array_equal(picked, again)
  other = [converter.to_windows(ns, rng=np.random.default_rng(s)) for s in range(1, 6)]
  assert any(not np.array_equal(o, first) for o in other)


def test_per_instrument_extraction():
  a = [(60, 0, 4, 0, 0), (62, 4, 8, 0, 0), (64, 8, 16, 0, 0)]
  b = [(72, 0, 16, 0, 1)]
  found = melodies(conv(slice_bars=1), seq(a + b))
  assert len(found) == 2 and found[1][0] == tok(72)


def test_token_note_sequence_round_trip():
  converter = conv()
  ns = seq(run(2, length=2) + [(90, 32, 33)])
  for window in windows(converter, ns):
    back = converter.to_note_sequence(window)
    again = windows(converter, back)
    np.testing.assert_array_equal(again[0], window)


def test_transposition_validity():
  converter = conv()
  low = np.full((1, 32, 1), encodings.NO_EVENT, np.int16)
  low[0, 0, 0] = tok(23)
  high = low.copy()
  high[0, 0, 0] = tok(106)
  both = np.concatenate([low, high])
  out, valid = converter.transpose(both, np.array([-2, 2]))
  assert valid.tolist() == [True, True]
  assert out[0, 0, 0] == tok(21) and out[1, 0, 0] == tok(108)
  out, valid = converter.transpose(both, np.array([-3, 3]))
  assert valid.tolist() == [False, False]
  np.testing.assert_array_equal(out, both)  # invalid ones come back unchanged
  out, valid = converter.transpose(both, np.array([0, -5]))
  assert valid.all() and out[1, 0, 0] == tok(101)
  assert (out[:, 1:] == both[:, 1:]).all()  # NO_EVENT / NOTE_OFF untouched
