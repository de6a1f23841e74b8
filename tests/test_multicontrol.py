"""Multicontrol melodies (configs/mel_2bar_multicontrol.py): windows carry
chords, rhythm, shape and register columns; the model reads them; a tiny
model trains and decodes under given controls."""

import jax
import numpy as np
import pytest

from conftest import write_midi
from musicvae_jax import config_base, family, steps
from musicvae_jax.data import chords, melody_controls, multicontrol
from musicvae_jax.families.categorical import converters as table
from musicvae_jax.models import MusicVAE

# C, G, Am, F arpeggios, one chord per bar (quarter notes at 120 qpm).
PROGRESSION = [[60, 64, 67, 72], [67, 71, 74, 79], [69, 72, 76, 81], [65, 69, 72, 77]]


def progression_notes():
  return [(p, b * 2 + i * 0.5, b * 2 + i * 0.5 + 0.45)
          for b, chord in enumerate(PROGRESSION) for i, p in enumerate(chord)]


@pytest.fixture(scope='module')
def windows(tmp_path_factory):
  from musicvae_jax.data import midi_io
  path = write_midi(tmp_path_factory.mktemp('mc') / 'p.mid', progression_notes())
  ns = midi_io.load_note_sequence(path)
  return (multicontrol.MultiControlMelodyConverter().all_windows(ns),
          chords.ChordMelodyConverter().all_windows(ns))


def test_windows_add_rhythm_shape_register_to_the_chord_windows(windows):
  mc, plain = windows
  assert mc.shape == (3, 32, 5) and mc.dtype == np.int16
  np.testing.assert_array_equal(mc[..., :2], plain)
  # window 0: C then G arpeggios, a quarter note (4 steps) each, held 3 of 4 steps
  onsets = np.arange(0, 32, 4)
  np.testing.assert_array_equal(np.flatnonzero(mc[0, :, 2] == 0), onsets)   # rhythm
  assert (mc[0, :, 2][np.setdiff1d(np.arange(32), onsets)] == -1).all()
  # 60 64 67 72 | 67 71 74 79: up, up, up, down, up, up, up (then repeat the last)
  shape = mc[0, :, 3]
  np.testing.assert_array_equal(shape[[0, 12, 13, 16, 17, 28, 31]], [2, 2, 0, 0, 2, 2, 2])
  # mean sounding pitch (60+64+67+72+67+71+74+79) / 8 = 69.25: in [63, 70): bin 2
  assert (mc[0, :, 4] == 2).all()


def test_transposing_recomputes_the_register(windows):
  mc, _ = windows
  converter = multicontrol.MultiControlMelodyConverter()
  moved, valid = converter.transpose(mc[:1], np.array([-12]))
  assert valid.all()
  assert (moved[0, :, 4] == 1).all()                     # 57.25: in [50, 63)
  np.testing.assert_array_equal(moved[0, :, 2:4], mc[0, :, 2:4])   # rhythm, shape kept
  # C, G: an octave down keeps the chord classes
  np.testing.assert_array_equal(moved[0, ::16, 1], [1 + 0, 1 + 7])


def test_config_table_and_refusals():
  config = config_base.load_config_file('configs/mel_2bar_multicontrol.py:tiny')
  converter = table.make_converter(config)
  assert isinstance(converter, multicontrol.MultiControlMelodyConverter)
  assert converter.control_depths == (49, 1, 3, 4)
  assert converter.fingerprint()['controls'] == 'multicontrol'
  np.testing.assert_array_equal(converter.default_controls(2), [[0, -1, 1, -1]] * 2)
  config.encoding = 'drums'
  with pytest.raises(ValueError, match="'multicontrol' is for melodies"):
    table.make_converter(config)
  config.encoding, config.controls = 'melody', 'loudness'
  with pytest.raises(ValueError, match="config.controls='loudness'"):
    table.make_converter(config)


def test_control_columns_are_magentajs_control_tensor(windows):
  """The model's one-hots of the four columns = magenta.js' concatenated
  {chordProgression (triad), extraControls: {rhythm, shape, register}}."""
  from musicvae_jax.models.inputs import one_hot_parts
  mc, _ = windows
  dense = np.asarray(one_hot_parts(mc[0, :, 1:], (49, 1, 3, 4)))
  events = mc[0, :, 0]
  expected = melody_controls.control_tensor(
      32, chords=['C', 'G'], extra=[('rhythm', melody_controls.rhythm(events)),
                                     ('shape', melody_controls.shape(events)),
                                     ('register', melody_controls.register(events))])
  np.testing.assert_array_equal(dense, expected)


def test_model_reads_every_control_column():
  config = config_base.load_config_file('configs/mel_2bar_multicontrol.py:tiny')
  parts = family.build(config)
  model, objective = parts.model, parts.objective
  batch = objective.example_batch(config, 2)
  assert batch['controls'].shape == (2, 32, 4)
  params = jax.jit(lambda b: steps.init_params(model, objective, jax.random.key(0), b))(batch)
  assert params['encoder']['layer_0']['fw']['input_kernel'].shape[0] == 90 + 57
  assert params['decoder']['lstm']['layer_0']['input_kernel'].shape[0] == 90 + 8 + 57
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 90, (2, 32, 1))
  controls = np.stack([rng.integers(0, 49, (2, 32)), rng.integers(-1, 1, (2, 32)),
                       rng.integers(0, 3, (2, 32)), rng.integers(-1, 4, (2, 32))], -1)

  @jax.jit
  def logits(c):
    z = np.zeros((2, 8), np.float32)
    return model.apply({'params': params}, z, tokens, None, c, method=MusicVAE.decode_logits)

  base = logits(controls)
  for column in (1, 2, 3):       # rhythm, shape, register: from step 20 on only
    changed = controls.copy()
    changed[:, 20, column] = np.where(controls[:, 20, column] == 0, 1, 0) \
        if column != 1 else np.where(controls[:, 20, 1] == 0, -1, 0)
    out = logits(changed)
    np.testing.assert_array_equal(out[:, :20], base[:, :20])
    assert np.abs(out[:, 20] - base[:, 20]).max() > 0, column


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  from musicvae_jax import trainer
  from musicvae_jax.trained_model import TrainedModel
  root = tmp_path_factory.mktemp('mc_run')
  data = root / 'midi'
  for shift in range(4):
    write_midi(data / f'p{shift}.mid', [(p + shift, s, e) for p, s, e in progression_notes()])
  config = config_base.load_config_file('configs/mel_2bar_multicontrol.py:tiny')
  config.train_dir, config.cache_dir = str(data), str(root / 'cache')
  config.eval_fraction, config.num_workers = 0.25, 1
  config.control_preprocessing_size = 6    # trains through the control BiLSTM too
  trainer.train_and_evaluate(config, root / 'run')
  return TrainedModel.from_workdir(str(root / 'run')), data


def test_tiny_model_trains_and_decodes_under_controls(trained):
  import note_seq
  model, data = trained
  assert model.num_controls == 4 and model.config.control_preprocessing_size == 6
  assert 'control_preprocessing' in model.params['decoder']
  window = model.converter.all_windows(
      note_seq.midi_file_to_note_sequence(str(data / 'p0.mid')))[0]
  _, mu, _ = model.encode_tensors(window[None])
  tokens = model.decode_to_tensors(mu, temperature=0.5, seed=0, controls=window[:, 1:])
  assert tokens.shape == (1, 32, 1)


def test_without_controls_a_decode_reads_the_converters_neutral_ones(trained):
  model, _ = trained
  neutral = model.converter.default_controls(32)
  assert neutral.tolist()[0] == [0, -1, 1, -1]        # no chord, onset, flat, register
  z = np.random.default_rng(0).standard_normal((2, model.config.z_size)).astype(np.float32)
  np.testing.assert_array_equal(
      model.decode_to_tensors(z, temperature=0.5, seed=1),
      model.decode_to_tensors(z, temperature=0.5, seed=1, controls=neutral))


def test_generate_samples_follow_the_input_windows_controls(trained, tmp_path):
  from musicvae_jax import generate
  model, data = trained
  lines = []
  items = generate.generate(model, 'sample', tmp_path / 's', num_outputs=2,
                            input_midi_1=str(data / 'p1.mid'), window_1=1, log=lines.append)
  assert [i['title'] for i in items] == ['input', 'sample_00', 'sample_01']
  assert lines == ['input: p1.mid: window 1 of 3 (0..2), tempo 120 qpm',
                   'controls: chords, rhythm, contour and register from p1.mid window 1']
  items = generate.generate(model, 'attribute', tmp_path / 'a', num_outputs=2,
                            input_midi_1=str(data / 'p1.mid'), attribute_dir=str(data))
  assert len(items) == 3


def test_generate_takes_each_control_from_where_it_is_chosen(trained, tmp_path, monkeypatch):
  """Chords written out, the rhythm of another file's window, a contour
  preset, a register note: the decoder reads exactly those columns."""
  from musicvae_jax import generate
  from musicvae_jax.data import control_choices as cc
  model, data = trained
  seen = []
  decode = type(model).decode_to_tensors
  monkeypatch.setattr(type(model), 'decode_to_tensors',
                      lambda self, z, **kw: seen.append(kw['controls']) or decode(self, z, **kw))
  lines = []
  items = generate.generate(model, 'sample', tmp_path / 's', num_outputs=2, chords='C G Am F',
                            rhythm=f'{data / "p2.mid"}@1', contour='valley', register='C5',
                            log=lines.append)
  assert [i['title'] for i in items] == ['sample_00', 'sample_01']
  assert lines == [f'controls: chords C G Am F, rhythm from p2.mid window 1, contour valley, '
                   'register C5']
  columns = np.asarray(seen[-1])          # [T, 4], one row set for every z
  p2 = model.converter.all_windows(__import__('note_seq').midi_file_to_note_sequence(
      str(data / 'p2.mid')))[1]
  np.testing.assert_array_equal(columns[:, cc.RHYTHM], p2[:, 2])
  assert [chords.chord_symbol(c) for c in columns[::8, cc.CHORD]] == ['C', 'G', 'Am', 'F']
  assert (columns[:, cc.REGISTER] == 3).all()
  np.testing.assert_array_equal(
      columns[:, cc.SHAPE], cc.shape_column(p2[:, 2], cc.parsons_moves('valley')))
  # nothing chosen and no input: the defaults, said so
  lines.clear()
  generate.generate(model, 'sample', tmp_path / 'd', num_outputs=1, log=lines.append)
  assert lines == ['controls: chords N.C. (default), rhythm eighths (default), '
                   'contour arch (default), register middle (default)']
  # reconstruct keeps each window's controls but the chosen one
  generate.generate(model, 'reconstruct', tmp_path / 'r', num_outputs=2,
                    input_midi_1=str(data / 'p1.mid'), rhythm='quarters')
  recon = np.asarray(seen[-1])
  assert recon.shape == (2, 32, 4)
  assert (cc.onsets(recon[0, :, cc.RHYTHM]) == np.arange(0, 32, 4)).all()


@pytest.mark.parametrize('kw, message', [
    (dict(rhythm='swing'), "rhythm 'swing': name one of"),
    (dict(register='H9'), "register 'H9'"),
    (dict(rhythm='nowhere.mid'), 'nowhere.mid: no such file'),
    (dict(contour='PATH@7'), '--contour=PATH@7: PATH has 3 windows (0..2)'),
    (dict(chords='C Xm'), "unknown chord symbol 'Xm'"),
])
def test_a_bad_control_choice_is_one_line_before_decoding(trained, kw, message):
  from musicvae_jax import generate
  model, data = trained
  kw = {k: v.replace('PATH', str(data / 'p1.mid')) for k, v in kw.items()}
  message = message.replace('PATH', str(data / 'p1.mid'))
  with pytest.raises(ValueError) as error:
    generate.prepare(model.config, 'sample', controls=kw)
  assert message in str(error.value) and '\n' not in str(error.value)


def test_control_flags_need_a_multicontrol_model():
  from musicvae_jax import generate
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  with pytest.raises(ValueError, match=r'--rhythm needs a multicontrol model'):
    generate.prepare(config, 'sample', controls={'rhythm': 'eighths'})


def test_control_preprocessing_reads_the_whole_control_sequence():
  """With a control-preprocessing BiLSTM, a control changed at step 20 moves
  the logits of earlier steps too (its backward direction), unlike raw controls."""
  config = config_base.load_config_file('configs/mel_2bar_multicontrol.py:tiny')
  config.control_preprocessing_size = 6
  parts = family.build(config)
  model, objective = parts.model, parts.objective
  batch = objective.example_batch(config, 2)
  params = jax.jit(lambda b: steps.init_params(model, objective, jax.random.key(0), b))(batch)
  pre = params['decoder']['control_preprocessing']
  assert pre['fw']['input_kernel'].shape == (57, 24) and pre['bw']['input_kernel'].shape == (57, 24)
  assert params['decoder']['lstm']['layer_0']['input_kernel'].shape[0] == 90 + 8 + 12
  # the encoder still reads the raw controls
  assert params['encoder']['layer_0']['fw']['input_kernel'].shape[0] == 90 + 57
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 90, (2, 32, 1))
  controls = np.stack([rng.integers(0, 49, (2, 32)), rng.integers(-1, 1, (2, 32)),
                       rng.integers(0, 3, (2, 32)), rng.integers(-1, 4, (2, 32))], -1)
  z = np.zeros((2, 8), np.float32)

  @jax.jit
  def logits(c):
    return model.apply({'params': params}, z, tokens, None, c, method=MusicVAE.decode_logits)

  changed = controls.copy()
  changed[:, 20, 2] = (controls[:, 20, 2] + 1) % 3
  before, after = logits(controls), logits(changed)
  assert np.abs(after[:, :20] - before[:, :20]).max() > 0
  tokens_out, _ = model.apply({'params': params}, z, 0.5, None, controls,
                              method=MusicVAE.sample, rngs={'sample': jax.random.key(0)})
  assert tokens_out.shape == (2, 32, 1)
  with pytest.raises(ValueError, match='control_preprocessing_size'):
    config.use_hier = True
    config_base.validate(config)


def test_magentajs_spec_maps_both_ways_and_refuses_other_extra_controls():
  from musicvae_jax.families.categorical import magentajs
  config = config_base.load_config_file('configs/mel_2bar_multicontrol.py:tiny')
  spec = magentajs.to_spec(config)
  assert spec['chordEncoder'] == 'TriadChordEncoder'
  assert [c['name'] for c in spec['extraControls']] == ['rhythm', 'shape', 'register']
  back = magentajs.from_spec(spec)
  assert back.controls == 'multicontrol' and back.encoding == 'melody'
  spec['extraControls'] = spec['extraControls'][::-1]
  with pytest.raises(ValueError, match='only .*rhythm.* on a MelodyConverter'):
    magentajs.from_spec(spec)
