"""GrooVAE data: Magenta's GrooveConverter goldens, hand-worked windows and
input transformations, bad input."""

import json

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from musicvae_jax import config_base, family
from musicvae_jax.data import cache, midi_io
from musicvae_jax.families.groove import data as groove
from musicvae_jax.data.errors import BadInputError

KICK, SNARE, CHH, OHH = 36, 38, 42, 46


def _seq(notes, qpm=120.0, numerator=4, denominator=4):
  """notes: (pitch, start_s, velocity[, is_drum])."""
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=qpm)
  ns.time_signatures.add(numerator=numerator, denominator=denominator)
  ns.ticks_per_quarter = 220
  for pitch, start, velocity, *drum in notes:
    ns.notes.add(pitch=pitch, start_time=start, end_time=start + 0.1,
                 velocity=velocity, is_drum=drum[0] if drum else True,
                 instrument=9)
  ns.total_time = max(n.end_time for n in ns.notes)
  return ns


def test_magenta_golden_windows(shared_dir):
  """Every window of groovae_2bar_humanize on the LMD files, as Magenta's
  converter wrote it (inputs with humanize, outputs, file and piece order)."""
  root = shared_dir / 'fixtures' / 'magenta_data'
  gold = np.load(root / 'groovae_2bar_humanize.npz')
  meta = json.loads((root / 'groovae_2bar_humanize.json').read_text())
  conv = groove.GrooveConverter(split_bars=2, humanize=True)
  outputs, pieces, files = [], [], []
  for split in ('eval', 'train'):
    for name in meta['files_used'][split]:
      ns = midi_io.load_note_sequence(shared_dir / 'data' / 'lmd' / split / name)
      windows, piece = conv.windows_with_pieces(ns)
      outputs.append(windows)
      pieces.append(piece)
      files += [name] * len(windows)
  outputs = np.concatenate(outputs)
  assert outputs.shape == gold['outputs'].shape == (1319, 32, 27)
  assert files == list(gold['window_file'])
  np.testing.assert_array_equal(np.concatenate(pieces), gold['window_piece'])
  np.testing.assert_allclose(outputs, gold['outputs'], atol=1e-6)
  np.testing.assert_allclose(conv.make_batch(outputs)['inputs'], gold['inputs'],
                             atol=1e-6)


def test_hand_worked_window():
  # 120 qpm: a 16th is 0.125 s. Snare 0.01 s late on step 2; two closed hats
  # on step 4 (the louder wins); a piano note and an unmapped drum pitch drop.
  ns = _seq([(KICK, 0.0, 127), (SNARE, 0.26, 64), (CHH, 0.49, 50),
             (44, 0.5, 80), (60, 0.0, 100, False), (99, 0.0, 90)])
  window = groove.GrooveConverter(split_bars=1).all_windows(ns)
  assert window.shape == (1, 16, 27)
  w = window[0]
  hits, vels, offs = w[:, :9], w[:, 9:18], w[:, 18:]
  assert hits.sum() == 3 and hits[0, 0] == hits[2, 1] == hits[4, 2] == 1
  np.testing.assert_allclose([vels[0, 0], vels[2, 1], vels[4, 2]],
                             [1.0, 64 / 127, 80 / 127], rtol=1e-6)
  # offset = 2 * (quantized onset - onset) / step: late is negative.
  np.testing.assert_allclose([offs[0, 0], offs[2, 1], offs[4, 2]],
                             [0.0, 2 * (0.25 - 0.26) / 0.125, 0.0], atol=1e-6)


def test_offsets_follow_the_tempo():
  fast = groove.GrooveConverter(split_bars=1).all_windows(_seq([(SNARE, 0.26, 64)]))
  slow = groove.GrooveConverter(split_bars=1).all_windows(
      _seq([(SNARE, 0.51, 64)], qpm=60.0))   # a 16th is 0.25 s: step 2 at 0.5 s
  np.testing.assert_allclose(fast[0, 2, 19], -0.16, atol=1e-6)
  np.testing.assert_allclose(slow[0, 2, 19], 2 * (0.5 - 0.51) / 0.25, atol=1e-6)


def test_non_4_4_and_time_changes():
  conv = groove.GrooveConverter(split_bars=1)
  waltz = _seq([(KICK, 0.0, 100), (SNARE, 0.5, 100)], numerator=3)
  assert len(conv.all_windows(waltz)) == 0     # Magenta: no windows for 3/4
  # A tempo change at 2 s (one 4/4 bar at 120 qpm) splits the piece in two.
  ns = _seq([(KICK, 0.0, 100), (KICK, 2.0, 100), (SNARE, 2.1, 90)])
  ns.tempos.add(time=2.0, qpm=60.0)
  windows, pieces = conv.windows_with_pieces(ns)
  assert list(pieces) == [0, 1]
  # In the 60 qpm piece a 16th is 0.25 s: the snare 0.1 s late stays on step 0.
  assert windows[1, 0, 0] == windows[1, 0, 1] == 1
  np.testing.assert_allclose(windows[1, 0, 19], 2 * (0.0 - 0.1) / 0.25, atol=1e-6)


def _targets():
  t = np.zeros((1, 2, 27), np.float32)
  t[0, 0, [0, 1]] = 1                    # kick + snare on step 0
  t[0, 0, [9, 10]] = [0.4, 0.9]          # snare is louder
  t[0, 0, [18, 19]] = [0.2, -0.4]
  t[0, 1, [2]] = 1                       # closed hat on step 1
  t[0, 1, [11]] = 0.5
  t[0, 1, [20]] = 0.6
  return t


def test_input_transformations_by_hand():
  t = _targets()
  humanize = groove.GrooveConverter(humanize=True).make_batch(t)['inputs'][0]
  np.testing.assert_array_equal(humanize[:, :9], t[0, :, :9])
  assert not humanize[:, 9:].any()
  fixed = groove.GrooveConverter(fixed_velocities=True).make_batch(t)['inputs'][0]
  assert not fixed[:, 9:18].any()
  np.testing.assert_array_equal(fixed[:, 18:], t[0, :, 18:])
  tap = groove.GrooveConverter(tapify=True).make_batch(t)['inputs'][0]
  # Each step's loudest drum (snare, then hat) moves to the open hi-hat (3).
  np.testing.assert_allclose(tap[:, 3], [1, 1])
  np.testing.assert_allclose(tap[:, 12], [0.9, 0.5])
  np.testing.assert_allclose(tap[:, 21], [-0.4, 0.6])
  assert np.count_nonzero(tap) == 6
  tap_fixed = groove.GrooveConverter(tapify=True, fixed_velocities=True
                                     ).make_batch(t)['inputs'][0]
  assert not tap_fixed[:, 9:18].any() and tap_fixed[:, 21].tolist() == pytest.approx([-0.4, 0.6])
  add_hh = groove.GrooveConverter(add_instruments=(2,)).make_batch(t)
  assert not add_hh['inputs'][0, :, [2, 11, 20]].any()
  np.testing.assert_array_equal(add_hh['targets'], t)
  controls = groove.GrooveConverter(hits_as_controls=True).make_batch(t)
  np.testing.assert_array_equal(controls['controls'], t[..., :9])
  assert 'controls' not in add_hh


def test_note_dropout_is_seeded_and_weighted():
  t = np.repeat(_targets(), 200, axis=0)
  conv = groove.GrooveConverter(max_note_dropout_probability=0.8)
  seeds = [(0, 5, r) for r in range(200)]
  a = conv.make_batch(t, row_seeds=seeds)['inputs']
  b = conv.make_batch(t, row_seeds=seeds)['inputs']
  np.testing.assert_array_equal(a, b)                        # same seeds, same drops
  c = conv.make_batch(t, row_seeds=[(0, 6, r) for r in range(200)])['inputs']
  assert not np.array_equal(a, c)
  kept = a[:, :, :9].sum(0)
  # Quiet kick (0.4: weight 0.6) drops more often than the loud snare (0.9: 0.2).
  assert kept[0, 0] < kept[0, 1] < 200
  assert set(np.unique(a[:, :, :9])) <= {0.0, 1.0}
  # Dropped cells lose velocity and offset too.
  dropped = a[:, 0, 0] == 0
  assert not a[dropped, 0, 9].any() and not a[dropped, 0, 18].any()
  # Magenta's rule by hand for one window.
  rng = np.random.default_rng([0, 77, 0, 5, 0])
  p = rng.uniform(0, 0.8)
  keep = 1 - rng.binomial(1, np.maximum(0.2, 1 - t[0, :, 9:18]) * p)
  np.testing.assert_array_equal(a[0, :, :9], t[0, :, :9] * keep)


def test_from_tensors_round_trip():
  ns = _seq([(KICK, 0.0, 127), (SNARE, 0.26, 64), (CHH, 0.49, 50)])
  conv = groove.GrooveConverter(split_bars=1)
  window = conv.all_windows(ns)[0]
  back = conv.to_note_sequence(window)
  got = sorted((n.pitch, round(n.start_time, 6), n.velocity) for n in back.notes)
  assert got == [(KICK, 0.0, 127), (SNARE, 0.26, 64), (CHH, 0.49, 50)]
  # Inference mode writes the reduced map's first pitches (low tom 45, not 43).
  tom = np.zeros((16, 27), np.float32)
  tom[0, 4], tom[0, 13] = 1, 0.5
  assert conv.to_note_sequence(tom).notes[0].pitch == 43
  assert conv.for_inference().to_note_sequence(tom).notes[0].pitch == 45


def test_no_drums_is_a_clear_skip(tmp_path, make_midi):
  conv = groove.GrooveConverter()
  with pytest.raises(BadInputError, match='no drum notes'):
    conv.all_windows(_seq([(60, 0.0, 100, False)]))
  with pytest.raises(BadInputError, match='mapped pitch'):
    conv.all_windows(_seq([(99, 0.0, 100)]))
  folder = tmp_path / 'midi'
  make_midi('midi/melody.mid')
  make_midi('midi/beat.mid', notes=[(KICK, i * 0.5, i * 0.5 + 0.1) for i in range(16)],
            is_drum=True)
  config = config_base.load_config_file('configs/groovae_2bar_humanize.py:tiny')
  converter = family.get(config).make_converter(config)
  assert isinstance(converter, groove.GrooveConverter)
  windows = cache.load_or_build_windows(folder, tmp_path / 'cache', converter,
                                        num_workers=1, progress=False)
  assert windows.windows.dtype == np.float32 and windows.windows.shape[1:] == (32, 27)
  assert windows.summary['files_skipped'] == 1
  assert 'no drum notes' in windows.summary['skipped']['melody.mid']


def test_note_dropout_batches_resume_exactly():
  from musicvae_jax.data import pipeline
  rng = np.random.default_rng(0)
  targets = np.zeros((10, 32, 27), np.float32)
  targets[..., :9] = rng.random((10, 32, 9)) < 0.3
  targets[..., 9:18] = targets[..., :9] * rng.random((10, 32, 9))
  data = cache.WindowSet(targets, np.arange(10, dtype=np.int32) // 2,
                         [f'f{i}' for i in range(5)], {})
  conv = groove.GrooveConverter(tapify=True, max_note_dropout_probability=0.8)
  def stream():
    return pipeline.TrainBatches(data, conv, batch_size=4, seed=3, max_windows=0, prefetch=0)
  first = stream()
  batches = [next(first) for _ in range(3)]
  resumed = stream()
  next(resumed)
  state = resumed.get_state()
  again = stream()
  again.set_state(state)
  for want, got in zip(batches[1:], [next(again), next(again)]):
    for key in ('inputs', 'targets'):
      np.testing.assert_array_equal(want[key], got[key])
  assert set(batches[0]) == {'inputs', 'targets', 'lengths', 'weights'}


@pytest.mark.parametrize('name,settings', [
    ('groovae_4bar', {}),
    ('groovae_2bar_humanize', {'humanize': True}),
    ('groovae_2bar_tap_fixed_velocity', {'tapify': True, 'fixed_velocities': True}),
    ('groovae_2bar_tap_fixed_velocity_note_dropout',
     {'tapify': True, 'fixed_velocities': True, 'max_note_dropout_probability': 0.8}),
    ('groovae_2bar_add_closed_hh', {'add_instruments': (2,)}),
    ('groovae_2bar_hits_control', {'hits_as_controls': True}),
])
def test_configs_are_magentas(name, settings):
  from musicvae_jax import input_pipeline
  from musicvae_jax.families.groove.model import GrooVAE
  from musicvae_jax.families.groove.objective import GrooveObjective
  for variant in ('magenta', 'cpu', 'tiny'):
    config = config_base.load_config_file(f'configs/{name}.py:{variant}')
    config_base.validate(config)
    parts = family.build(config)
    conv = parts.converter
    assert isinstance(conv, groove.GrooveConverter)
    for key, value in settings.items():
      assert getattr(conv, key) == value, (name, key)
    assert conv.seq_len == (64 if name == 'groovae_4bar' else 32)
    assert parts.spec == input_pipeline.token_spec(conv)
    assert isinstance(parts.objective, GrooveObjective)
    batch = parts.objective.example_batch(config, 2)
    assert batch['targets'].shape == (2, conv.seq_len, 27)
    assert ('controls' in batch) == bool(settings.get('hits_as_controls'))
    model = parts.model
    assert isinstance(model, GrooVAE)
    assert model.control_depth == conv.control_depth
  magenta = config_base.load_config_file(f'configs/{name}.py')
  assert (magenta.z_size, magenta.enc_rnn_sizes, magenta.dec_rnn_sizes) == (256, (512,), (256, 256))
  assert (magenta.free_bits, magenta.max_beta, magenta.dropout_keep_prob,
          magenta.batch_size) == (48.0, 0.2, 0.3, 512)
