"""Drums and trio (issue #7): Magenta's drum classes, the roll input, drum and
trio windows, the split (one core decoder per instrument) decoder, per-part
metrics, the Magenta checkpoint mapping, and tiny end-to-end runs."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import note_seq
import numpy as np
import pretty_midi
import pytest
from note_seq import drums_encoder_decoder
from note_seq.protobuf import music_pb2

from conftest import write_midi
from musicvae_jax import config_base, family, input_pipeline, steps
from musicvae_jax.data import converters, encodings, midi_io
from musicvae_jax.models import INPUT_TABLES, MusicVAE, TokenSpec
from musicvae_jax.models.inputs import TokenEmbedder
from musicvae_jax.models.lstm import LSTMLayer

STEP = 0.125  # seconds per 16th note at 120 qpm
CLASS_PITCHES = [list(p) for p in drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES]


# -- encoding ------------------------------------------------------------------
def test_drum_classes_match_note_seq():
  assert [list(p) for p in encodings.DRUM_PITCH_CLASSES] == CLASS_PITCHES
  assert encodings.DRUM_CLASSES == 512
  reference = drums_encoder_decoder.MultiDrumOneHotEncoding()
  rng = np.random.default_rng(0)
  every_pitch = [p for c in CLASS_PITCHES for p in c] + [0, 90, 127]
  for _ in range(200):
    hits = frozenset(rng.choice(every_pitch, size=rng.integers(0, 5)).tolist())
    token = encodings.drum_pitches_to_token(hits)
    assert token == reference.encode_event(hits)
    back = {encodings.DRUM_PITCH_CLASSES[c][0] for c in encodings.drum_token_to_classes(token)}
    assert back == reference.decode_event(token)
  assert encodings.drum_pitches_to_token({36, 35}) == 1          # both kicks: one class
  assert encodings.drum_pitches_to_token({51, 38}) == (1 << 8) | (1 << 1)


def test_roll_input_table_and_encoder_gates():
  table = INPUT_TABLES['drum_roll']()
  assert table.shape == (512, 10)
  assert table[0].tolist() == [0] * 9 + [1]                    # no hit
  assert table[(1 << 2) | (1 << 7)].tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
  assert np.all(table[1:, 9] == 0) and np.all(table[:, :9].sum(1) == [bin(t).count('1') for t in range(512)])
  spec = TokenSpec((512,), ('drum_roll',))
  assert spec.input_width(0) == 10 and spec.one_hot_inputs().input_width(0) == 512

  class Probe(nn.Module):
    spec: TokenSpec

    def setup(self):
      self.layer = LSTMLayer(4, 10)
      self.embedder = TokenEmbedder(self.spec)

    def __call__(self, tokens):
      return self.embedder.gates(self.layer, tokens), self.layer.input_kernel

  tokens = jnp.array([[0], [5], [511], [-1]])
  probe = Probe(spec)
  params = probe.init(jax.random.key(0), tokens)
  gates, kernel = probe.apply(params, tokens)
  expected = np.concatenate([table[[0, 5, 511]], np.zeros((1, 10))]) @ np.asarray(kernel)
  np.testing.assert_allclose(np.asarray(gates), expected, rtol=1e-5, atol=1e-6)


# -- drum windows ----------------------------------------------------------------
def _drum_pattern(bars: int, seed: int):
  """Random hits on 16th-note steps (every bar has a kick), some pitches
  outside the 9 classes; returns (notes, per-step set of classes)."""
  rng = np.random.default_rng(seed)
  pitches = [p for c in CLASS_PITCHES for p in c]
  notes, classes = [], [set() for _ in range(bars * 16)]
  for step in range(bars * 16):
    hits = set(rng.choice(pitches, size=rng.integers(0, 3)).tolist())
    if step % 16 == 0:
      hits.add(36)
    if rng.random() < 0.1:
      hits.add(int(rng.choice([0, 90, 127])))      # not a drum class: ignored
    for pitch in hits:
      notes.append((pitch, step * STEP, step * STEP + 0.05))
      if pitch in encodings.DRUM_PITCH_TO_CLASS:
        classes[step].add(encodings.DRUM_PITCH_TO_CLASS[pitch])
  return notes, classes


def test_drum_windows_round_trip_through_midi(tmp_path):
  notes, classes = _drum_pattern(bars=5, seed=1)
  piano = [(60 + i % 12, i * 0.5, i * 0.5 + 0.4) for i in range(20)]  # not drums
  path = write_midi(tmp_path / 'drums.mid', notes, program=0, is_drum=True,
                    extra_tracks=((piano, 0, False),))
  ns = midi_io.load_note_sequence(path, fast=False)
  conv = converters.DrumsConverter()
  windows = conv.all_windows(ns)
  assert windows.shape == (4, 32, 1)                  # bars 0-1, 1-2, 2-3, 3-4
  expected = np.array([encodings.drum_classes_to_token(c) for c in classes])
  for j, window in enumerate(windows):
    np.testing.assert_array_equal(window[:, 0], expected[16 * j:16 * j + 32])
    # tensors -> MIDI -> tensors keeps every hit
    out = conv.to_note_sequence(window)
    assert out.notes and all(n.is_drum for n in out.notes)
    midi_path = tmp_path / f'window_{j}.mid'
    note_seq.sequence_proto_to_midi_file(out, str(midi_path))
    pm = pretty_midi.PrettyMIDI(str(midi_path))
    assert [inst.is_drum for inst in pm.instruments] == [True]   # channel 10
    again = conv.all_windows(midi_io.load_note_sequence(midi_path, fast=False))
    np.testing.assert_array_equal(again, window[None])
  assert conv.to_windows(ns).shape[0] == 4
  moved, valid = conv.transpose(windows, np.full(4, 3))
  assert valid.all() and np.array_equal(moved, windows)


def test_drum_gap_dedupe_and_short_tracks():
  def seq(hit_bars, bars):
    ns = music_pb2.NoteSequence()
    ns.tempos.add(qpm=120)
    ns.time_signatures.add(numerator=4, denominator=4)
    for bar in hit_bars:
      for step in range(0, 16, 4):
        ns.notes.add(pitch=42, velocity=90, start_time=(bar * 16 + step) * STEP,
                     end_time=(bar * 16 + step) * STEP + 0.05, is_drum=True)
    ns.total_time = bars * 16 * STEP
    return ns

  conv = converters.DrumsConverter()
  # Identical bars: one distinct 2-bar window.
  assert conv.all_windows(seq(range(6), 6)).shape[0] == 1
  # A silent bar (a gap of >= 1 bar) ends a track: two 1-bar tracks, no window.
  assert conv.all_windows(seq([0, 2], 3)).shape[0] == 0
  tracks = conv.drum_tracks(seq([0, 2], 3))
  assert [len(t) for t in tracks] == [16, 16]
  # Non-drum notes only: nothing.
  ns = seq(range(3), 3)
  for n in ns.notes:
    n.is_drum = False
  assert conv.all_windows(ns).shape[0] == 0


# -- trio windows ------------------------------------------------------------------
def _trio_sequence(bars=18, bass_silent=(), extra_invalid=True):
  """Hand-built: melody (instrument 0, program 0), bass (1, program 33),
  drums (2, is_drum), and a string part (program 48) that must be ignored."""
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=120)
  ns.time_signatures.add(numerator=4, denominator=4)
  ns.ticks_per_quarter = 220
  mel, bass, drums = (np.zeros(bars * 16, np.int16) for _ in range(3))
  for bar in range(bars):
    for q in range(4):
      step = bar * 16 + q * 4
      pitch = 60 + (bar + q) % 12
      ns.notes.add(pitch=pitch, velocity=90, instrument=0, program=0,
                   start_time=step * STEP, end_time=(step + 3) * STEP)
      mel[step], mel[step + 3] = pitch - 21 + 2, encodings.NOTE_OFF
      ns.notes.add(pitch=38 + q, velocity=90, instrument=2, is_drum=True,
                   start_time=step * STEP, end_time=step * STEP + 0.05)
      drums[step] = encodings.drum_pitches_to_token({38 + q})
    if bar not in bass_silent:
      step = bar * 16
      ns.notes.add(pitch=36 + bar % 5, velocity=90, instrument=1, program=33,
                   start_time=step * STEP, end_time=(step + 8) * STEP)
      bass[step], bass[step + 8] = 36 + bar % 5 - 21 + 2, encodings.NOTE_OFF
    if extra_invalid:
      ns.notes.add(pitch=72, velocity=90, instrument=3, program=48,
                   start_time=bar * 16 * STEP, end_time=(bar * 16 + 16) * STEP)
  ns.total_time = bars * 16 * STEP
  return ns, np.stack([mel, bass, drums], -1)


def test_trio_windows_from_a_hand_built_sequence():
  conv = converters.TrioConverter()
  assert conv.part_depths == (90, 90, 512) and conv.seq_len == 256
  ns, expected = _trio_sequence()
  windows = conv.all_windows(ns)
  assert windows.shape == (3, 256, 3)
  for j, window in enumerate(windows):
    np.testing.assert_array_equal(window, expected[16 * j:16 * j + 256])

  # A 2-bar bass gap is filled; a 5-bar gap breaks every 16-bar window.
  ns2, _ = _trio_sequence(bass_silent=(5, 6))
  assert conv.all_windows(ns2).shape[0] == 3
  ns5, _ = _trio_sequence(bass_silent=range(5, 10))
  assert conv.all_windows(ns5).shape[0] == 0
  # All three instruments are required.
  no_bass = music_pb2.NoteSequence()
  no_bass.CopyFrom(ns)
  del no_bass.notes[:]
  no_bass.notes.extend(n for n in ns.notes if n.instrument != 1)
  assert conv.all_windows(no_bass).shape[0] == 0


def test_trio_round_trip_and_programs(tmp_path):
  conv = converters.TrioConverter()
  ns, expected = _trio_sequence(bars=16, extra_invalid=False)
  window = conv.all_windows(ns)
  assert window.shape == (1, 256, 3)
  out = conv.to_note_sequence(window[0])
  kinds = {(n.instrument, n.program, n.is_drum) for n in out.notes}
  assert kinds == {(0, 0, False), (1, 33, False), (9, 0, True)}
  path = tmp_path / 'trio.mid'
  note_seq.sequence_proto_to_midi_file(out, str(path))
  pm = pretty_midi.PrettyMIDI(str(path))
  assert sorted((i.program, i.is_drum) for i in pm.instruments) == [(0, False), (0, True), (33, False)]
  again = conv.all_windows(midi_io.load_note_sequence(path, fast=False))
  np.testing.assert_array_equal(again, window)
  # Transposition moves melody and bass, never drums.
  moved, valid = conv.transpose(window, np.array([2]))
  assert valid.all()
  np.testing.assert_array_equal(moved[..., 2], window[..., 2])
  pitched = window[..., :2] >= 2
  np.testing.assert_array_equal(moved[..., :2][pitched], window[..., :2][pitched] + 2)


def test_make_converter_and_fingerprint():
  import pickle
  ns, _ = _trio_sequence()   # melody, bass and drums
  for spec, cls in (('drums_2bar.py:tiny', converters.DrumsConverter),
                    ('trio_16bar.py:tiny', converters.TrioConverter)):
    config = config_base.load_config_file(spec)
    conv = family.get(config).make_converter(config)
    assert isinstance(conv, cls)
    # Cache workers receive the converter pickled: the same converter arrives.
    again = pickle.loads(pickle.dumps(conv))
    assert isinstance(again, cls)
    assert again.fingerprint() == conv.fingerprint()
    windows = conv.all_windows(ns)
    assert len(windows)
    np.testing.assert_array_equal(again.all_windows(ns), windows)
  config = config_base.load_config_file('drums_2bar.py')
  drums = family.get(config).make_converter(config)
  assert input_pipeline.token_spec(drums) == TokenSpec((512,), ('drum_roll',))


# -- models ----------------------------------------------------------------------
def _tiny(spec_name):
  config = config_base.load_config_file(spec_name)
  parts = family.build(config)
  spec, model = parts.spec, parts.model
  assert isinstance(model, MusicVAE)
  assert spec == input_pipeline.token_spec(parts.converter)
  batch = parts.objective.example_batch(config, 2)
  params = steps.create_train_state(config, model, parts.objective, batch).params
  return config, spec, model, params


def test_split_decoder_shapes_and_independent_parts():
  config, spec, model, params = _tiny('trio_16bar.py:tiny')
  cores = params['core_decoder']
  assert sorted(cores) == ['core_decoder_0', 'core_decoder_1', 'core_decoder_2']
  cond = config.conductor_rnn_sizes[-1]
  for k, depth in enumerate((90, 90, 512)):
    core = cores[f'core_decoder_{k}']
    assert core['lstm']['layer_0']['input_kernel'].shape == (depth + cond, 64)
    assert core['output_projection']['kernel'].shape == (16, depth)
  # No parameter is shared: every leaf lives under exactly one core decoder.
  leaves = [id(x) for x in jax.tree.leaves(cores)]
  assert len(leaves) == len(set(leaves))

  rng = np.random.default_rng(0)
  tokens = np.stack([rng.integers(0, d, (2, 256)) for d in (90, 90, 512)], -1).astype(np.int32)
  z = jnp.asarray(rng.standard_normal((2, config.z_size)), jnp.float32)

  def logits(p, t):
    return model.apply({'params': p}, z, t, method=MusicVAE.decode_logits)

  base = logits(params, tokens)
  assert base.shape == (2, 256, 692)
  # Changing the bass tokens changes only the bass logits.
  other = tokens.copy()
  other[..., 1] = (other[..., 1] + 7) % 90
  changed = np.abs(np.asarray(logits(params, other) - base)).max(axis=(0, 1))
  assert changed[:90].max() == 0 and changed[180:].max() == 0 and changed[90:180].max() > 0
  # The melody loss sends no gradient to the bass or drums decoders.
  grads = jax.grad(lambda p: jnp.sum(logits(p, tokens)[..., :90]))(params)
  for k, nonzero in ((0, True), (1, False), (2, False)):
    norm = sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads['core_decoder'][f'core_decoder_{k}']))
    assert (norm > 0) == nonzero
  samples, _ = model.apply({'params': params}, z, 0.5, rngs={'sample': jax.random.key(1)},
                           method=MusicVAE.sample)
  assert samples.shape == (2, 256, 3)
  assert int(samples[..., 2].max()) < 512 and int(samples[..., :2].max()) < 90


def test_drum_model_reads_roll_in_encoder_and_one_hots_in_decoder():
  config, spec, model, params = _tiny('drums_2bar.py:tiny')
  assert params['encoder']['layer_0']['fw']['input_kernel'].shape == (10, 64)
  assert params['decoder']['lstm']['layer_0']['input_kernel'].shape == (512 + config.z_size, 64)
  assert params['decoder']['output_projection']['kernel'].shape == (16, 512)


def test_eval_reports_accuracy_per_instrument():
  config, spec, model, params = _tiny('trio_16bar.py:tiny')
  hp = steps.StepConfig.from_config(config)
  objective = family.get(config).objective(config, spec)
  batch = objective.example_batch(config, 4)
  rng = np.random.default_rng(0)
  batch['tokens'] = np.stack([rng.integers(0, d, (4, 256)) for d in (90, 90, 512)], -1).astype(np.int32)
  sums = steps.eval_step(params, batch, jax.random.key(0), jnp.zeros((), jnp.int32),
                         model=model, objective=objective, hp=hp)
  out = objective.summarise_eval(jax.device_get(sums), input_pipeline.PART_NAMES['trio'])
  for mode in ('teacher_forced', 'sampled'):
    parts = [out[f'accuracy_{mode}/{n}'] for n in ('melody', 'bass', 'drums')]
    assert np.isclose(np.mean(parts), out[f'accuracy_{mode}'])
  # Counts per part are exact: right melody and drums, wrong bass.
  from musicvae_jax import losses
  logits = np.full((4, 256, 692), -10.0, np.float32)
  t = batch['tokens']
  b, s = np.meshgrid(np.arange(4), np.arange(256), indexing='ij')
  logits[b, s, t[..., 0]] = 10
  logits[b, s, 90 + (t[..., 1] + 1) % 90] = 10
  logits[b, s, 180 + t[..., 2]] = 10
  acc = losses.accuracy_counts(jnp.asarray(logits), jnp.asarray(t), jnp.ones((4, 256)), (90, 90, 512))
  np.testing.assert_array_equal(np.asarray(acc['correct']) / np.asarray(acc['count']), [1, 0, 1])


# -- Magenta checkpoints -------------------------------------------------------------
def _to_magenta(params) -> dict[str, np.ndarray]:
  """Our parameter tree -> Magenta's variable names (the inverse mapping)."""
  out = {}

  def lstm(prefix, layer):
    out[f'{prefix}/kernel'] = np.concatenate([layer['input_kernel'], layer['recurrent_kernel']])
    out[f'{prefix}/bias'] = np.asarray(layer['bias'])

  def dense(prefix, p):
    out[f'{prefix}/kernel'], out[f'{prefix}/bias'] = np.asarray(p['kernel']), np.asarray(p['bias'])

  def decoder(scope, p):
    for name, layer in p['lstm'].items():
      lstm(f'{scope}/multi_rnn_cell/cell_{name.split("_")[1]}/lstm_cell', layer)
    dense(f'{scope}/z_to_initial_state', p['z_to_initial_state'])
    dense(f'{scope}/output_projection', p['output_projection'])

  enc = params['encoder']
  for name, layer in enc.items():
    if name.startswith('layer_'):
      for d in ('fw', 'bw'):
        lstm(f'encoder/cell_{name.split("_")[1]}/bidirectional_rnn/{d}/multi_rnn_cell/'
             'cell_0/lstm_cell', layer[d])
  dense('encoder/mu', enc['mu'])
  dense('encoder/sigma', enc['sigma'])
  if 'conductor' in params:
    for name, layer in params['conductor']['lstm'].items():
      lstm(f'decoder/hierarchical_level_0/cell_{name.split("_")[1]}/lstm_cell', layer)
    dense('decoder/hierarchical_level_0/initial_state', params['conductor']['z_to_initial_state'])
    for name, core in params['core_decoder'].items():
      decoder(f'core_decoder/{name}/decoder', core)
  else:
    decoder('decoder', params['decoder'])
  out['global_step'] = np.asarray(7, np.int64)
  return out


@pytest.mark.parametrize('magenta_name,spec', [('hierdec-trio_16bar', 'trio_16bar.py:tiny'),
                                               ('cat-drums_2bar_small', 'drums_2bar.py:tiny')])
def test_converter_round_trip(tmp_path, magenta_name, spec):
  from musicvae_jax import checkpoints
  from musicvae_jax.magenta import convert, tf_bundle
  assert convert.magenta_configs()[magenta_name].split(':')[0] in ('trio_16bar.py', 'drums_2bar.py')
  config, _, _, params = _tiny(spec)
  params = jax.tree.map(np.asarray, params)
  tf_bundle.write_checkpoint(tmp_path / 'model.ckpt-7', _to_magenta(params))
  back = convert.magenta_to_params(tf_bundle.read_checkpoint(tmp_path / 'model.ckpt-7',
                                                             skip_optimizer=True))
  jax.tree.map(np.testing.assert_array_equal, back, params)
  workdir = convert.convert_checkpoint(magenta_name, str(tmp_path / 'model.ckpt-7'),
                                       tmp_path / 'run', config_spec=spec)
  saved = checkpoints.load_config(workdir)
  assert saved.encoding == config.encoding and saved.split_decoder == config.split_decoder
  if magenta_name.startswith('hierdec'):
    with pytest.raises(convert.CheckpointMismatchError):   # a flat trio checkpoint
      convert.convert_checkpoint('hierdec-trio_16bar', str(tmp_path / 'model.ckpt-7'),
                                 tmp_path / 'run2', config_spec='mel_2bar.py:tiny')


# -- end to end ----------------------------------------------------------------------
def _write_band(folder, count=4, bars=18, seed=0):
  """Songs with a piano melody, a bass (program 33) and drums (channel 10)."""
  rng = np.random.default_rng(seed)
  for i in range(count):
    drums, _ = _drum_pattern(bars, seed + i)
    melody, bass = [], []
    for q in range(bars * 4):
      melody.append((int(rng.integers(60, 80)), q * 0.5, q * 0.5 + 0.4))
      if q % 2 == 0:
        bass.append((int(rng.integers(36, 48)), q * 0.5, q * 0.5 + 0.9))
    write_midi(folder / f'band_{i}.mid', melody, program=0,
               extra_tracks=((bass, 33, False), (drums, 0, True)))


@pytest.mark.parametrize('spec', ['drums_2bar.py:tiny', 'trio_16bar.py:tiny'])
def test_tiny_training_and_generation(tmp_path, spec):
  from musicvae_jax import trainer
  from musicvae_jax.trained_model import TrainedModel
  _write_band(tmp_path / 'midi')
  config = config_base.load_config_file(spec)
  config.train_dir = str(tmp_path / 'midi')
  config.cache_dir = str(tmp_path / 'cache')
  config.eval_fraction = 0.25
  config.num_workers = 1
  config.num_steps = 2
  result = trainer.train_and_evaluate(config, tmp_path / 'run')
  assert np.isfinite(result['loss'])
  if config.encoding == 'trio':
    assert {'accuracy_teacher_forced/melody', 'accuracy_teacher_forced/bass',
            'accuracy_teacher_forced/drums'} <= set(result)
  model = TrainedModel.from_workdir(tmp_path / 'run')
  samples = model.sample(2, temperature=1.0, seed=0)
  path = tmp_path / 'sample.mid'
  note_seq.sequence_proto_to_midi_file(samples[0], str(path))
  pm = pretty_midi.PrettyMIDI(str(path))
  if config.encoding == 'drums':
    assert [i.is_drum for i in pm.instruments] == [True]
  else:
    assert {(i.program, i.is_drum) for i in pm.instruments} <= {(0, False), (33, False), (0, True)}
    assert any(i.is_drum for i in pm.instruments)
