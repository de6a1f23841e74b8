"""NADE drums: roll windows, the model, training, conversion, generation."""

from pathlib import Path

import numpy as np
import pytest

from musicvae_jax.data import encodings, midi_io
from musicvae_jax.families.nade import data as drum_roll

from conftest import write_midi

GOLDEN = Path('fixtures/magenta/nade-drums_2bar_reduced')


def _beat(path, pitches=(36, 35, 42, 38), bars=2):
  """Eighth-note hits cycling through `pitches` for `bars` 4/4 bars at 120 qpm."""
  step = 0.25
  notes = [(pitches[i % len(pitches)], i * step, i * step + 0.1)
           for i in range(bars * 8)]
  return write_midi(path, notes, is_drum=True)


def test_full_classes_are_magentas_61_pitches():
  classes = drum_roll.FULL_DRUM_PITCH_CLASSES
  assert len(classes) == 61 and all(len(c) == 1 for c in classes)
  assert len({c[0] for c in classes}) == 61
  # Every full pitch is in a reduced class (the reduced set adds 22 and 26),
  # and the full order starts as Magenta's.
  reduced = {p for c in drum_roll.REDUCED_DRUM_PITCH_CLASSES for p in c}
  assert reduced - {c[0] for c in classes} == {22, 26}
  assert [c[0] for c in classes[:5]] == [36, 35, 38, 27, 28]
  with pytest.raises(ValueError, match='drum_pitch_classes'):
    drum_roll.pitch_classes('medium')


def test_roll_windows_reduced_and_full(tmp_path):
  ns = midi_io.load_note_sequence(_beat(tmp_path / 'beat.mid'))
  reduced = drum_roll.DrumRollConverter('reduced').to_windows(ns)
  full = drum_roll.DrumRollConverter('full').to_windows(ns)
  assert reduced.shape == (1, 32, 9) and full.shape == (1, 32, 61)
  assert reduced.dtype == np.int16
  # Step 0 (pitch 36) and step 2 (35): both kicks when reduced, two classes when full.
  assert reduced[0, 0].tolist() == [1] + [0] * 8
  assert reduced[0, 2].tolist() == [1] + [0] * 8
  assert reduced[0, 4].tolist() == [0, 0, 1] + [0] * 6          # 42: closed hi-hat
  assert np.flatnonzero(full[0, 0]).tolist() == [0]
  assert np.flatnonzero(full[0, 2]).tolist() == [1]
  assert not reduced[0, 1].any()
  # The same hits as the one-hot drums encoding, bit for bit.
  tokens = encodings.drum_roll_table()[:, :9]
  from musicvae_jax.data import converters
  one_hot = converters.DrumsConverter().to_windows(ns)[0, :, 0]
  np.testing.assert_array_equal(tokens[one_hot], reduced[0])
  # Roll input: the bits and a "no hits" bit.
  feats = drum_roll.roll_input_features(reduced[0])
  assert feats.shape == (32, 10)
  assert feats[1].tolist() == [0] * 9 + [1] and feats[0, 9] == 0


def test_roll_round_trip_through_midi(tmp_path):
  conv = drum_roll.DrumRollConverter('full')
  ns = midi_io.load_note_sequence(_beat(tmp_path / 'beat.mid', (36, 35, 42, 81)))
  window = conv.to_windows(ns)[0]
  out = conv.to_note_sequence(window)
  assert sorted({n.pitch for n in out.notes}) == [35, 36, 42, 81]
  assert all(n.is_drum and n.velocity == 80 for n in out.notes)
  again = conv.to_windows(out)
  np.testing.assert_array_equal(again[0], window)


def test_make_converter_and_fingerprint(tmp_path):
  import pickle
  from musicvae_jax import config_base, family
  config = config_base.load_config_file('nade_drums_2bar.py:tiny')
  conv = family.get(config).make_converter(config)
  assert isinstance(conv, drum_roll.DrumRollConverter)
  # Cache workers receive the converter pickled: the same converter arrives.
  again = pickle.loads(pickle.dumps(conv))
  assert isinstance(again, drum_roll.DrumRollConverter)
  assert again.fingerprint() == conv.fingerprint()
  ns = midi_io.load_note_sequence(_beat(tmp_path / 'beat.mid', bars=4))
  windows = conv.all_windows(ns)
  assert len(windows)
  np.testing.assert_array_equal(again.all_windows(ns), windows)
  full = config_base.load_config_file('nade_drums_2bar.py:full')
  assert family.get(full).make_converter(full).part_depths == (2,) * 61
  assert family.get(full).make_converter(full).fingerprint() != conv.fingerprint()


def test_golden_windows_come_from_the_converter(shared_dir):
  golden = np.load(shared_dir / GOLDEN / 'golden.npz')
  conv = drum_roll.DrumRollConverter('reduced')
  for i, source in enumerate(golden['window_source']):
    ns = midi_io.load_note_sequence(shared_dir / 'data' / 'lmd' / str(source))
    windows = conv.all_windows(ns)
    target = golden['decoder_targets'][i].astype(np.int16)
    assert any((w == target).all() for w in windows), source
    np.testing.assert_array_equal(drum_roll.roll_input_features(target),
                                  golden['encoder_inputs'][i])


# -- Magenta golden: nade-drums_2bar_reduced ------------------------------------
def test_golden_conversion_matches_magenta(shared_dir, tmp_path):
  """Magenta's checkpoint, converted as `convert_magenta` does, gives Magenta's
  numbers through TrainedModel and the model's own methods."""
  import jax
  import json
  from musicvae_jax.magenta import convert
  from musicvae_jax.families.nade.model import NadeMusicVAE
  from musicvae_jax.trained_model import TrainedModel
  folder = shared_dir / GOLDEN
  hparams = json.loads((folder / 'config.json').read_text())['hparams_overrides']
  workdir = convert.convert_checkpoint('nade-drums_2bar_reduced', str(folder),
                                       tmp_path / 'run', hparams=hparams)
  with pytest.raises(convert.CheckpointMismatchError, match='nade_num_hidden'):
    convert.convert_checkpoint('nade-drums_2bar_reduced', str(folder),
                               tmp_path / 'bad', hparams='nade_num_hidden=64')
  trained = TrainedModel.from_workdir(workdir)
  assert trained.config.nade_num_hidden == 32 and trained.config.batch_size == 16
  golden = dict(np.load(folder / 'golden.npz'))
  bits = golden['decoder_targets'].astype(np.int32)

  assert type(trained).__name__ == 'NadeTrainedModel'
  # Magenta's encoder inputs (bits + "no hits"), as its TrainedModel takes them.
  _, mu, sigma = trained.encode_tensors(golden['encoder_inputs'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)

  # Teacher forcing (z = mu): rnn_output, the NADE's log p and conditionals.
  variables = {'params': trained.params}
  out = trained.model.apply(variables, golden['mu'], bits, method=NadeMusicVAE.decode)
  np.testing.assert_allclose(out['rnn_output'], golden['teacher_forced_logits'], atol=1e-4)
  np.testing.assert_allclose(out['log_prob'], golden['nade_log_prob'], atol=1e-4)
  np.testing.assert_allclose(out['cond_probs'], golden['nade_cond_probs'], atol=1e-5)
  np.testing.assert_allclose(-np.asarray(out['log_prob']).sum(-1),
                             golden['teacher_forced_r_loss'], rtol=1e-5)

  # Magenta's eval mode (scheduled-sampling config): free running on the
  # thresholded NADE frame, scored against the targets.
  ev = trained.model.apply(variables, golden['mu'], bits, 1.0,
                           rngs={'sample': jax.random.key(0)},
                           method=NadeMusicVAE.decode)
  np.testing.assert_allclose(ev['rnn_output'], golden['eval_mode_logits'], atol=1e-4)
  np.testing.assert_allclose(-np.asarray(ev['log_prob']).sum(-1),
                             golden['eval_mode_r_loss'], rtol=1e-5)

  # Greedy decode: Bernoulli(logit / 1e-5), i.e. p >= 0.5, exactly.
  greedy = trained.decode_to_tensors(golden['mu'], temperature=1e-5)
  np.testing.assert_array_equal(greedy, golden['greedy_outputs'])


# -- the model ---------------------------------------------------------------
def _tiny_model(dims=9):
  import jax
  from musicvae_jax.families.nade.model import NadeMusicVAE
  model = NadeMusicVAE(num_dims=dims, seq_len=8, z_size=4, enc_rnn_sizes=(8,),
                       dec_rnn_sizes=(8, 8), nade_num_hidden=5)
  rng = np.random.default_rng(0)
  bits = (rng.random((3, 8, dims)) < 0.3).astype(np.int32)
  lengths = np.full((3,), 8, np.int32)
  params = model.init({'params': jax.random.key(0), 'z': jax.random.key(1)},
                      bits, lengths)['params']
  return model, params, bits


def test_decoder_paths_agree():
  """Scheduled sampling at probability 1 reads the previous step's thresholded
  NADE frame at every step; generation feeds back exactly the bits it returns."""
  import jax
  import jax.numpy as jnp
  from musicvae_jax.families.nade import nade
  from musicvae_jax.families.nade.model import NadeMusicVAE
  model, params, bits = _tiny_model()
  z = jax.random.normal(jax.random.key(2), (3, 4))
  apply = lambda *a, **k: model.apply({'params': params}, *a,
                                      rngs={'sample': jax.random.key(3)}, **k)
  # One compiled teacher-forced decode, reused (each eager call would recompile).
  teacher_forced = jax.jit(lambda b: apply(z, b, method=NadeMusicVAE.decode))
  dec = teacher_forced(bits)
  tf = dec['rnn_output']                                          # [B, T, H + D]
  free = apply(z, bits, 1.0, method=NadeMusicVAE.decode_logits)
  w = params['decoder']['nade']
  thresholded = np.stack([np.asarray(nade.sample(
      None, free[:, t, :5], free[:, t, 5:], w['w_enc'], w['w_dec_t'], None)[0])
      for t in range(8)], 1).astype(np.int32)
  np.testing.assert_allclose(teacher_forced(thresholded)['rnn_output'], free, atol=1e-5)
  sampled, out = apply(z, 1.0, method=NadeMusicVAE.sample)
  assert sampled.shape == (3, 8, 9) and set(np.unique(sampled)) <= {0, 1}
  np.testing.assert_allclose(teacher_forced(np.asarray(sampled))['rnn_output'], out,
                             atol=1e-5)
  # The log-likelihood of a frame is what nade.log_prob says.
  want, _, _ = nade.log_prob(jnp.asarray(bits[:, 3], jnp.float32), tf[:, 3, :5],
                             tf[:, 3, 5:], w['w_enc'], w['w_dec_t'])
  np.testing.assert_allclose(dec['log_prob'][:, 3], want, rtol=1e-5)
  assert float(jnp.max(dec['log_prob'])) < 0.0


def test_family_metrics_by_hand():
  """Two frames of 3 bits: predictions p >= 0.5 vs targets.

  frame 0: pred 1 0 1, truth 1 0 0 -> tp 1, fp 1, wrong frame;
  frame 1: pred 0 1 0, truth 0 1 0 -> tp 1, exact frame; frame 2 is masked.
  precision 2/3, recall 2/2, accuracy 1/2, f1 = 0.8.
  """
  import jax.numpy as jnp
  from musicvae_jax.families.nade.objective import NadeObjective, hit_counts, rates
  probs = jnp.array([[[0.9, 0.1, 0.5], [0.2, 0.7, 0.4], [0.9, 0.9, 0.9]]])
  targets = jnp.array([[[1, 0, 0], [0, 1, 0], [0, 0, 0]]])
  mask = jnp.array([[1.0, 1.0, 0.0]])
  sums = hit_counts(probs, targets, mask)
  assert {k: float(v) for k, v in sums.items()} == {
      'true_pos': 2, 'false_pos': 1, 'false_neg': 0, 'frames_correct': 1, 'frames': 2}
  got = {k: float(v) for k, v in rates(sums).items()}
  np.testing.assert_allclose([got['precision'], got['recall'], got['accuracy'], got['f1']],
                             [2 / 3, 1.0, 0.5, 0.8], rtol=1e-6)
  objective = NadeObjective(3)
  batch = {'tokens': targets, 'lengths': jnp.array([2])}
  out = {'log_prob': jnp.array([[-1.5, -2.0, -7.0]]), 'cond_probs': probs}
  np.testing.assert_allclose(objective.reconstruction_loss(out, batch, objective.mask(batch)),
                             [3.5])


def test_full_checkpoint_converts_and_loads(tmp_path):
  """Our full-class model written as a Magenta checkpoint converts back to the
  same parameters and a TrainedModel that decodes 61-bit frames."""
  import jax
  from musicvae_jax import config_base, family, steps
  from musicvae_jax.families.nade.model import NadeMusicVAE
  from musicvae_jax.families.nade.objective import NadeObjective
  from musicvae_jax.magenta import convert, tf_bundle
  from musicvae_jax.trained_model import TrainedModel
  from test_drums_trio import _to_magenta
  spec_name = 'nade_drums_2bar.py:full_tiny'
  config = config_base.load_config_file(spec_name)
  parts = family.build(config)
  model, objective = parts.model, parts.objective
  assert isinstance(model, NadeMusicVAE) and isinstance(objective, NadeObjective)
  state = steps.create_train_state(config, model, objective,
                                   objective.example_batch(config, 1))
  params = jax.tree.map(np.asarray, state.params)
  tensors = _to_magenta(params)
  tensors['decoder/nade/w_enc'] = params['decoder']['nade']['w_enc']
  tensors['decoder/nade/w_dec_t'] = params['decoder']['nade']['w_dec_t']
  tf_bundle.write_checkpoint(tmp_path / 'model.ckpt-7', tensors)
  prefix = str(tmp_path / 'model.ckpt-7')
  with pytest.raises(convert.CheckpointMismatchError, match='NADE'):
    convert.convert_checkpoint('cat-drums_2bar_small', prefix, tmp_path / 'bad',
                               config_spec='drums_2bar.py:tiny')
  workdir = convert.convert_checkpoint('nade-drums_2bar_full', prefix, tmp_path / 'run',
                                       config_spec=spec_name)
  trained = TrainedModel.from_workdir(workdir)
  assert trained.config.nade_num_hidden == 8 and trained.config.drum_pitch_classes == 'full'
  jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, trained.params), params)
  bits = trained.decode_to_tensors(np.zeros((2, config.z_size), np.float32), temperature=1e-5)
  assert bits.shape == (2, 32, 61) and set(np.unique(bits)) <= {0, 1}
  np.testing.assert_array_equal(bits[0], bits[1])


def test_tiny_training_and_generation(tmp_path):
  """nade_drums_2bar.py:tiny trains through the unchanged trainer (scheduled
  sampling on), and generate writes drum MIDI for sample / interpolate /
  reconstruct."""
  import pretty_midi
  from musicvae_jax import config_base, generate, trainer
  from musicvae_jax.trained_model import TrainedModel
  for i, pitches in enumerate([(36, 42, 38, 42), (36, 46, 38, 51), (35, 42, 40, 49)]):
    _beat(tmp_path / 'midi' / f'beat_{i}.mid', pitches, bars=4)
  config = config_base.load_config_file('nade_drums_2bar.py:tiny')
  config.train_dir = str(tmp_path / 'midi')
  config.eval_dir = str(tmp_path / 'midi')
  config.cache_dir = str(tmp_path / 'cache')
  config.num_workers = 1
  config.num_steps = 2
  result = trainer.train_and_evaluate(config, tmp_path / 'run')
  assert np.isfinite(result['loss']) and result['loss'] > 0
  assert {'f1_teacher_forced', 'f1_sampled', 'accuracy_sampled'} <= set(result)
  model = TrainedModel.from_workdir(tmp_path / 'run')
  beats = sorted(str(p) for p in (tmp_path / 'midi').glob('*.mid'))
  for mode, count in (('sample', 2), ('interpolate', 3), ('reconstruct', 2)):
    items = generate.generate(model, mode, tmp_path / mode, num_outputs=count,
                              temperature=0.5, input_midi_1=beats[0],
                              input_midi_2=beats[1])
    first = pretty_midi.PrettyMIDI(str(tmp_path / mode / items[0]['midi']))
    assert all(inst.is_drum for inst in first.instruments)
  # The reconstruction's original is the input beat, hit for hit.
  original = pretty_midi.PrettyMIDI(str(tmp_path / 'reconstruct' / 'original_00.mid'))
  assert sorted({n.pitch for n in original.instruments[0].notes}) == [36, 38, 42]
