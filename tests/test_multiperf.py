"""Multitrack measures (hier-multiperf_vel_1bar_*): Magenta's converter goldens,
decoding, the rules for unrepresentable instruments, transposition, multitrack
MIDI output and piano-roll colours."""

from pathlib import Path

import note_seq
import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from musicvae_jax import render
from musicvae_jax.data import multiperf

DATA_GOLDEN = 'fixtures/magenta_data/hier-multiperf_vel_1bar_med.npz'


def _bar_sequence(instruments, qpm=120.0):
  """One 4/4 sequence; `instruments` = [(instrument, program, is_drum, pitches)],
  each pitch a quarter note in turn (bar 1, then bar 2, ...)."""
  ns = music_pb2.NoteSequence(ticks_per_quarter=220)
  ns.tempos.add(qpm=qpm)
  ns.time_signatures.add(numerator=4, denominator=4)
  quarter = 60.0 / qpm
  for instrument, program, is_drum, pitches in instruments:
    for i, pitch in enumerate(pitches):
      ns.notes.add(pitch=pitch, velocity=100, start_time=i * quarter,
                   end_time=(i + 0.5) * quarter, instrument=instrument,
                   program=program, is_drum=is_drum)
  ns.total_time = max(n.end_time for n in ns.notes)
  return ns


def test_token_layout():
  assert (multiperf.NUM_EVENT_CLASSES, multiperf.DRUM_TOKEN, multiperf.END_TOKEN,
          multiperf.DEPTH) == (360, 488, 489, 490)


def test_windows_match_magenta_goldens(shared_dir):
  """Every window (1777) of the golden files, tokens and per-slot lengths."""
  golden = np.load(shared_dir / DATA_GOLDEN)
  converter = multiperf.MultiPerformanceConverter()
  files = list(dict.fromkeys(zip(golden['window_split'], golden['window_file'])))
  ours = []
  for split, name in files:
    ns = note_seq.midi_file_to_note_sequence(str(shared_dir / 'data/lmd' / split / name))
    windows = converter.all_windows(ns)
    assert windows.shape[1:] == (512, 1) and windows.dtype == np.int16
    ours.append(windows[..., 0])
  ours = np.concatenate(ours)
  assert ours.shape == golden['outputs_tokens'].shape == (1777, 512)
  np.testing.assert_array_equal(ours, golden['outputs_tokens'])
  np.testing.assert_array_equal(multiperf.slot_lengths(ours, 8), golden['lengths'])


def test_decoded_windows_match_magenta_midi(shared_dir, tmp_path):
  """`to_note_sequence` writes what Magenta's `from_tensors` wrote."""
  golden = np.load(shared_dir / DATA_GOLDEN)
  converter = multiperf.MultiPerformanceConverter()
  key = lambda n: (round(n.start_time, 3), round(n.end_time, 3), n.pitch,
                   n.velocity, n.program, n.is_drum)
  folder = shared_dir / 'fixtures/magenta_data/hier-multiperf_vel_1bar_med_decoded'
  paths = sorted(folder.glob('*.mid'))
  assert len(paths) == 4
  for path in paths:
    index = int(path.name.split('_')[1][len('window'):])
    ns = converter.to_note_sequence(golden['outputs_tokens'][index])
    render.write_midi(ns, tmp_path / 'ours.mid')
    ours = note_seq.midi_file_to_note_sequence(str(tmp_path / 'ours.mid'))
    theirs = note_seq.midi_file_to_note_sequence(str(path))
    assert sorted(map(key, ours.notes)) == sorted(map(key, theirs.notes)), path.name


def test_file_without_windows_is_shaped_empty(shared_dir):
  ns = note_seq.midi_file_to_note_sequence(
      str(shared_dir / 'data/lmd/train/00000ec8a66b6bd2ef809b0443eeae41.mid'))
  assert multiperf.MultiPerformanceConverter().all_windows(ns).shape == (0, 512, 1)
  assert multiperf.MultiPerformanceConverter(chords=True).all_windows(ns).shape == (0, 512, 2)


def test_rules_on_a_small_sequence():
  piano, bass = (0, 0, False, [60, 62, 64, 65]), (1, 33, False, [36, 38])
  drums = (2, 0, True, [36, 38, 36, 38])
  converter = multiperf.MultiPerformanceConverter()
  assert converter.all_windows(_bar_sequence([piano])).shape == (0, 512, 1)  # < 2 instruments
  windows = converter.all_windows(_bar_sequence([drums, bass, piano]))
  assert windows.shape == (1, 512, 1)
  slots = windows[0, :, 0].reshape(8, 64)
  # Sorted by (is_drum, program): piano, bass, drums; then empty slots.
  assert [int(s[0]) for s in slots] == [360, 360 + 33, 488] + [489] * 5
  assert multiperf.slot_lengths(windows, 8)[0].tolist()[3:] == [1] * 5
  assert converter.stats['windows'] == 1


def test_unrepresentable_instrument_is_dropped_and_counted():
  piano, bass = (0, 0, False, [60, 62, 64, 65]), (1, 33, False, [36, 38])
  odd_program = (2, 200, False, [70, 72])
  mixed = [(3, 0, False, [50]), (3, 0, True, [42, 42])]   # drums and pitched
  converter = multiperf.MultiPerformanceConverter()
  windows = converter.all_windows(_bar_sequence([piano, bass, odd_program] + mixed))
  assert windows.shape == (1, 512, 1)
  slots = windows[0, :, 0].reshape(8, 64)
  assert [int(s[0]) for s in slots[:3]] == [360, 393, 489]
  assert converter.stats['instruments_dropped_unrepresentable'] == 2


def test_too_many_instruments_drop_the_bar():
  parts = [(i, i, False, [60 + i]) for i in range(9)]
  converter = multiperf.MultiPerformanceConverter()
  assert len(converter.all_windows(_bar_sequence(parts))) == 0
  assert converter.stats['bars_dropped_num_instruments'] == 1


def test_decode_gives_each_slot_its_program_and_drums():
  converter = multiperf.MultiPerformanceConverter()
  window = converter.all_windows(_bar_sequence(
      [(0, 40, False, [60, 62]), (1, 0, True, [36, 38])]))[0]
  ns = converter.to_note_sequence(window)
  by_instrument = {(n.instrument, n.program, n.is_drum) for n in ns.notes}
  assert by_instrument == {(0, 40, False), (1, 0, True)}
  # Tokens after a slot's end token (as a free-running decode makes) are ignored.
  noisy = window.copy()
  slots = noisy[:, 0].reshape(8, 64)
  slots[slots < 0] = 60
  assert len(converter.to_note_sequence(noisy).notes) == len(ns.notes)


def test_transpose_moves_pitched_slots_and_chords_only():
  converter = multiperf.MultiPerformanceConverter(chords=True)
  window = np.full((1, 512, 2), -1, np.int16)
  window[0, :4, 0] = [360, 60, 128 + 60, 489]          # piano: on 60, off 60
  window[0, :4, 1] = [0, 1, 1, 1]                       # N.C., C, C, C
  window[0, 64:67, 0] = [488, 36, 489]                  # drums: kick
  window[0, 128:512:64, 0] = 489
  moved, valid = converter.transpose(window, np.array([2]))
  assert valid.tolist() == [True]
  assert moved[0, :4, 0].tolist() == [360, 62, 190, 489]
  assert moved[0, :4, 1].tolist() == [0, 3, 3, 3]       # D major
  assert moved[0, 64:67, 0].tolist() == [488, 36, 489]
  window[0, 1, 0] = 127
  window[0, 2, 0] = 255
  same, valid = converter.transpose(window, np.array([1]))
  assert valid.tolist() == [False]
  np.testing.assert_array_equal(same, window)


def test_multitrack_midi_tracks_programs_and_drum_channel(tmp_path):
  import pretty_midi
  converter = multiperf.MultiPerformanceConverter()
  window = converter.all_windows(_bar_sequence(
      [(0, 40, False, [60, 62]), (1, 33, False, [36]), (2, 0, True, [36, 38])]))[0]
  render.write_midi(converter.to_note_sequence(window), tmp_path / 'out.mid')
  midi = pretty_midi.PrettyMIDI(str(tmp_path / 'out.mid'))
  tracks = {(i.program, i.is_drum) for i in midi.instruments}
  assert tracks == {(40, False), (33, False), (0, True)}
  import mido
  channels = {msg.channel for track in mido.MidiFile(str(tmp_path / 'out.mid')).tracks
              for msg in track if msg.type == 'note_on'}
  assert 9 in channels and len(channels) == 3


def test_piano_roll_gives_every_instrument_its_own_colour():
  parts = [render.Part(i, p, d) for i, p, d in
           [(0, 0, False), (1, 40, False), (2, 33, False), (3, 34, False),
            (4, 0, True), (5, 0, True)]]
  styles = render._part_styles(parts)
  colours = [colour for _, colour in styles.values()]
  assert len(set(colours)) == len(parts)


def test_train_tiny_then_generate_multitrack_midi(tmp_path, shared_dir):
  """docs/models.md's multitrack commands at tiny size: train on LMD files, then sample."""
  import os
  import shutil
  import subprocess
  import sys
  import pretty_midi
  repo = Path(__file__).resolve().parents[1]
  data = tmp_path / 'midi'
  data.mkdir()
  for name in ('3a0b319f691e037761bdbe09a74c6a26.mid', '3a0c2a775644520eae0f281752c0c7bc.mid',
               'midi3.mid'):
    shutil.copy(shared_dir / 'data/lmd/eval' / name, data / name)
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  workdir = tmp_path / 'run'
  train = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.train', '--config=configs/multiperf.py:tiny',
       f'--workdir={workdir}', f'--config.train_dir={data}',
       f'--config.cache_dir={tmp_path / "cache"}', '--config.num_workers=1',
       '--config.eval_fraction=0.34'],
      cwd=repo, env=env, capture_output=True, text=True, timeout=600)
  assert train.returncode == 0, train.stderr[-3000:]
  assert 'step 4 [eval]' in train.stdout
  out = tmp_path / 'out'
  gen = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.generate', f'--workdir={workdir}',
       '--mode=sample', '--num_outputs=2', '--temperature=1.0', f'--output_dir={out}'],
      cwd=repo, env=env, capture_output=True, text=True, timeout=600)
  assert gen.returncode == 0, gen.stderr[-3000:]
  midi = pretty_midi.PrettyMIDI(str(out / 'sample_00.mid'))
  # An untrained model writes many slots: each on its own track with its program.
  assert len(midi.instruments) >= 2
  assert (out / 'sample_00.png').exists()


def test_chords_for_generation_and_decoding():
  converter = multiperf.MultiPerformanceConverter(chords=True)
  controls = converter.chord_controls('Am')
  assert controls.shape == (512, 1) and (controls == 13 + 9).all()
  with pytest.raises(ValueError, match='takes 1 chord'):
    converter.chord_controls('C G')
  with pytest.raises(ValueError, match='unknown chord symbol'):
    converter.chord_controls('H7b')
  window = converter.all_windows(_bar_sequence(
      [(0, 0, False, [57, 60, 64, 57]), (1, 33, False, [45, 45, 45, 45])]))
  assert window.shape == (1, 512, 2)
  ns = converter.to_note_sequence(window[0, :, :1], controls=controls, accompaniment=True)
  figures = {ta.text for ta in ns.text_annotations}
  assert figures == {'Am'}
  assert 8 in {n.instrument for n in ns.notes}        # the accompaniment
