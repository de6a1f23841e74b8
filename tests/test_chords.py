"""Chord conditioning (issue #12): the triad chord encoding, the chord melody
converter (against Magenta's own windows where ../shared is present), controls
in batches and in the model, and generation with chords."""

from pathlib import Path

import jax
import note_seq
import numpy as np
import pretty_midi
import pytest

from conftest import write_midi
from musicvae_jax import config_base, family, generate, input_pipeline, steps
from musicvae_jax.data import cache, chords, converters, pipeline
from musicvae_jax.models import MusicVAE

# C, G, Am, F arpeggios, one chord per bar (quarter notes at 120 qpm).
PROGRESSION = [[60, 64, 67, 72], [67, 71, 74, 79], [69, 72, 76, 81], [65, 69, 72, 77]]


def progression_notes():
  return [(p, b * 2 + i * 0.5, b * 2 + i * 0.5 + 0.45)
          for b, chord in enumerate(PROGRESSION) for i, p in enumerate(chord)]


# -- the encoding, by hand ------------------------------------------------------
def test_triad_classes_by_hand():
  # 0 = N.C., 1 + root major, 13 + root minor, 25 + root aug, 37 + root dim.
  assert chords.chord_class('N.C.') == 0
  assert chords.chord_class('C') == 1
  assert chords.chord_class('G7') == 1 + 7          # a seventh reads as its triad
  assert chords.chord_class('Am') == 13 + 9
  assert chords.chord_class('Bbaug') == 25 + 10
  assert chords.chord_class('F#dim') == 37 + 6
  assert [chords.chord_symbol(c) for c in (0, 1, 22, 35, 43)] == [
      'N.C.', 'C', 'Am', 'Bbaug', 'F#dim']
  with pytest.raises(chords.ChordSymbolError, match="unknown chord symbol 'H'") as err:
    chords.chord_class('H')
  assert '\n' not in str(err.value)
  with pytest.raises(ValueError, match='Csus4'):
    chords.chord_class('Csus4')


def test_transpose_chord_classes_by_hand():
  classes = np.array([[1, 22, 0, 48, 12], [1, 22, 0, 48, 12]], np.int16)
  out = chords.transpose_chord_classes(classes, np.array([2, -1]))
  # C -> D (3); Am -> Bm (24); N.C. stays; Bdim -> C#dim (38); B -> C# (2)
  np.testing.assert_array_equal(out[0], [3, 24, 0, 38, 2])
  # C -> B (12); Am -> G#m (21); Bdim -> A#dim (47); B -> A# (11)
  np.testing.assert_array_equal(out[1], [12, 21, 0, 47, 11])
  assert out.dtype == np.int16


def test_parse_chords_per_bar_and_per_step():
  per_bar = chords.parse_chords('C G Am F', num_steps=32, steps_per_bar=16)
  assert per_bar.shape == (64,)
  np.testing.assert_array_equal(per_bar[::16], [1, 8, 22, 6])
  assert (per_bar[:16] == 1).all()
  per_step = chords.parse_chords(['C'] * 16 + ['G'] * 16, num_steps=32)
  np.testing.assert_array_equal(per_step, [1] * 16 + [8] * 16)
  with pytest.raises(chords.ChordSymbolError, match="'Xm'"):
    chords.parse_chords('C, Xm', 32)


def test_clean_leading_note_offs():
  np.testing.assert_array_equal(chords.clean_leading_note_offs([1, 0, 1, 30, 1, 0]),
                                [0, 0, 0, 30, 1, 0])
  np.testing.assert_array_equal(chords.clean_leading_note_offs([1, 1]), [0, 0])


# -- the converter ----------------------------------------------------------------
def test_converter_infers_chords_per_half_bar(tmp_path):
  from musicvae_jax.data import midi_io
  ns = midi_io.load_note_sequence(write_midi(tmp_path / 'p.mid', progression_notes()))
  converter = chords.ChordMelodyConverter()
  windows = converter.all_windows(ns)
  assert windows.shape == (3, 32, 2) and windows.dtype == np.int16
  # Melody column as the plain converter (every program) reads it.
  plain = converters.MelodyConverter(valid_programs=None).all_windows(ns)
  np.testing.assert_array_equal(windows[..., :1], plain)
  np.testing.assert_array_equal(windows[:, ::16, 1], [[1, 8], [8, 22], [22, 6]])
  # A whole window becomes a melody with chord annotations.
  out = converter.to_note_sequence(windows[0], accompaniment=True)
  annotations = [(a.time, a.text) for a in out.text_annotations]
  assert annotations == [(0.0, 'C'), (2.0, 'G')]
  assert {n.instrument for n in out.notes} == {0, 1}


def test_given_chord_symbols_are_used_and_no_chord_before_the_first():
  ns = note_seq.NoteSequence(ticks_per_quarter=220)
  ns.tempos.add(qpm=120)
  ns.time_signatures.add(numerator=4, denominator=4)
  for note in progression_notes()[:8]:
    ns.notes.add(pitch=note[0], start_time=note[1], end_time=note[2], velocity=90)
  ns.text_annotations.add(time=2.0, text='Ebaug',
                          annotation_type=note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL)
  ns.total_time = 4.0
  windows = chords.ChordMelodyConverter().all_windows(ns)
  assert len(windows) == 1
  np.testing.assert_array_equal(windows[0, :, 1], [0] * 16 + [25 + 3] * 16)


def test_transposition_moves_melody_and_chords_together(tmp_path):
  from musicvae_jax.data import midi_io
  ns = midi_io.load_note_sequence(write_midi(tmp_path / 'p.mid', progression_notes()))
  converter = chords.ChordMelodyConverter()
  windows = converter.all_windows(ns)
  moved, valid = converter.transpose(windows, np.array([3, -2, 100]))
  np.testing.assert_array_equal(valid, [True, True, False])
  pitch = windows[..., 0] >= 2
  np.testing.assert_array_equal(moved[0, ..., 0][pitch[0]], windows[0, ..., 0][pitch[0]] + 3)
  np.testing.assert_array_equal(moved[0, ::16, 1], [4, 11])          # Eb, Bb
  np.testing.assert_array_equal(moved[1, ::16, 1], [6, 20])          # F, Fm
  np.testing.assert_array_equal(moved[2], windows[2])                # invalid: unchanged


def test_fingerprint_is_new_and_round_trips(tmp_path):
  import pickle
  from musicvae_jax.data import midi_io
  config = config_base.load_config_file('configs/mel_2bar_chords.py:tiny')
  converter = family.get(config).make_converter(config)
  assert isinstance(converter, chords.ChordMelodyConverter)
  assert converter.valid_programs is None and converter.control_depths == (49,)
  plain = converters.MelodyConverter(valid_programs=None)
  assert converter.fingerprint() != plain.fingerprint()
  # Cache workers receive the converter pickled: the same converter arrives.
  again = pickle.loads(pickle.dumps(converter))
  assert isinstance(again, chords.ChordMelodyConverter)
  assert again.fingerprint() == converter.fingerprint()
  ns = midi_io.load_note_sequence(write_midi(tmp_path / 'p.mid', progression_notes()))
  windows = converter.all_windows(ns)
  assert len(windows)
  np.testing.assert_array_equal(again.all_windows(ns), windows)
  assert cache.cache_folder(Path('/x'), Path('/c'), converter) != cache.cache_folder(
      Path('/x'), Path('/c'), plain)
  spec = input_pipeline.token_spec(converter)
  assert spec.part_depths == (90,) and spec.control_depths == (49,)


GOLDEN_FILES = [('train', '00000ec8a66b6bd2ef809b0443eeae41.mid'),
                ('train', '000af203cb1d081a52cea33aaca5fec3.mid'),
                ('train', '000bd3eb852e25dfafb914bf690532da.mid')]


def test_windows_match_magenta_goldens(shared_dir):
  """Magenta keeps the first 5 windows of a Python set (hash-seed order); ours
  are every distinct window in order of first appearance, so Magenta's must be
  among ours (000bd3eb has a window that starts with a note-off: Magenta's
  Melody slice turns it into "no event")."""
  from musicvae_jax.data import midi_io
  golden = np.load(shared_dir / 'fixtures' / 'magenta_data' / 'cat-mel_2bar_med_chords.npz')
  expected = np.stack([golden['outputs'].argmax(-1), golden['controls'].argmax(-1)],
                      -1).astype(np.int16)
  config = config_base.load_config_file('configs/mel_2bar_chords.py')
  converter = family.get(config).make_converter(config)
  for split, name in GOLDEN_FILES:
    ns = midi_io.load_note_sequence(shared_dir / 'data' / 'lmd' / split / name)
    ours = {w.tobytes() for w in converter.all_windows(ns)}
    theirs = expected[golden['window_file'] == name]
    assert len(theirs) == 5 and len(ours) >= 5
    assert {w.tobytes() for w in theirs} <= ours, name


# -- batches and the model ----------------------------------------------------------
def _window_set(windows):
  return cache.WindowSet(windows, np.zeros(len(windows), np.int32), ['a.mid'], {})


def test_batches_carry_controls_and_transpose_them(tmp_path):
  from musicvae_jax.data import midi_io
  ns = midi_io.load_note_sequence(write_midi(tmp_path / 'p.mid', progression_notes()))
  converter = chords.ChordMelodyConverter()
  data = _window_set(converter.all_windows(ns))
  batch = next(iter(pipeline.eval_batches(data, 4, 5, num_controls=1)))
  assert batch['tokens'].shape == (4, 32, 1) and batch['controls'].shape == (4, 32, 1)
  np.testing.assert_array_equal(batch['controls'][:3, :, 0], data.windows[:, :, 1])
  train = pipeline.TrainBatches(data, converter, batch_size=3, seed=0,
                                max_transpose=3, prefetch=0)
  b = next(train)
  assert set(b) == {'tokens', 'lengths', 'weights', 'controls'}
  # Each row is a source window moved by one shift, melody and chords alike.
  for row in np.concatenate([b['tokens'], b['controls']], -1):
    assert any(np.array_equal(converter.transpose(data.windows[i:i + 1], [shift])[0][0], row)
               for i in range(len(data)) for shift in range(-3, 4))


@pytest.fixture(scope='module')
def tiny():
  config = config_base.load_config_file('configs/mel_2bar_chords.py:tiny')
  parts = family.build(config)
  model, objective = parts.model, parts.objective
  assert isinstance(model, MusicVAE)
  batch = objective.example_batch(config, 2)
  params = jax.jit(lambda b: steps.init_params(model, objective, jax.random.key(0), b))(batch)
  return config, model, params, batch


def test_model_reads_controls_in_encoder_and_every_decoder_step(tiny):
  _, model, params, batch = tiny
  assert batch['controls'].shape == (2, 32, 1)
  # Layer-0 input rows: 90 melody + 49 chords (encoder); 90 + z + 49 (decoder).
  assert params['encoder']['layer_0']['fw']['input_kernel'].shape[0] == 90 + 49
  assert params['decoder']['lstm']['layer_0']['input_kernel'].shape[0] == 90 + 8 + 49
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 90, (2, 32, 1))
  c1, c2 = rng.integers(0, 49, (2, 2, 32, 1))

  @jax.jit
  def run(tokens, controls):
    mu, _ = model.apply({'params': params}, tokens, batch['lengths'], controls,
                        method=MusicVAE.encode)
    logits = model.apply({'params': params}, mu, tokens, None, controls,
                         method=MusicVAE.decode_logits)
    return mu, logits

  mu1, l1 = run(tokens, c1)
  mu2, l2 = run(tokens, c2)
  assert l1.shape == (2, 32, 90) and mu1.shape == (2, 8)
  assert np.abs(mu1 - mu2).max() > 0
  # Same z, different chord at step 20 only: logits change from step 20 on.
  c3 = c1.copy()
  c3[:, 20] = (c1[:, 20] + 1) % 49
  l3 = jax.jit(lambda c: model.apply({'params': params}, mu1, tokens, None, c,
                                     method=MusicVAE.decode_logits))(c3)
  np.testing.assert_array_equal(l3[:, :20], l1[:, :20])
  assert np.abs(l3[:, 20] - l1[:, 20]).max() > 0


# -- generation -------------------------------------------------------------------
@pytest.fixture(scope='module')
def chord_model(tiny, tmp_path_factory):
  from musicvae_jax.trained_model import TrainedModel
  config, _, params, _ = tiny
  root = tmp_path_factory.mktemp('chords')
  midi = write_midi(root / 'prog.mid', progression_notes())
  return TrainedModel(config, params, max_batch=4), midi, root


def test_generate_with_chords_writes_annotated_midi(chord_model, tmp_path):
  model, midi, _ = chord_model
  generate.generate(model, 'sample', tmp_path / 's', num_outputs=2, chords='C G Am F',
                    accompaniment=True)
  pm = pretty_midi.PrettyMIDI(str(tmp_path / 's' / 'sample_00.mid'))
  assert [(t.text, t.time) for t in pm.text_events] == [
      ('C', 0.0), ('G', 2.0), ('Am', 4.0), ('F', 6.0)]
  assert len(pm.instruments) == 2                    # melody + block chords
  assert max(n.end for n in pm.instruments[1].notes) == pytest.approx(8.0)
  # Reconstruction keeps each input window's own (inferred) chords.
  generate.generate(model, 'reconstruct', tmp_path / 'r', num_outputs=1,
                    input_midi_1=str(midi))
  pm = pretty_midi.PrettyMIDI(str(tmp_path / 'r' / 'reconstruction_00.mid'))
  assert [t.text for t in pm.text_events] == ['C', 'G']
  seqs = model.interpolate(note_seq.midi_file_to_note_sequence(str(midi)),
                           note_seq.midi_file_to_note_sequence(str(midi)), num_steps=2)
  assert [a.text for a in seqs[1].text_annotations] == ['C', 'G']


def test_generate_bad_chord_symbol_is_one_line(chord_model, tmp_path):
  model, _, _ = chord_model
  with pytest.raises(ValueError, match="unknown chord symbol 'Hm7'") as err:
    generate.generate(model, 'sample', tmp_path / 'bad', num_outputs=1, chords='C Hm7')
  assert '\n' not in str(err.value)
  assert not (tmp_path / 'bad').exists()
