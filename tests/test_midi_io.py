"""MIDI readers: the fast reader builds note_seq's NoteSequence exactly, and
both readers refuse broken files with a reason, quickly and in bounded memory."""

from __future__ import annotations

import os
import resource
import struct
import time

import numpy as np
import pytest

from musicvae_jax.data import converters, midi_io
from musicvae_jax.data.midi_parse import NoteArrays, parse_midi

FIELDS = ('start', 'end', 'pitch', 'velocity', 'program', 'instrument', 'is_drum',
          'tempo_time', 'tempo_qpm', 'ts_time', 'ts_num', 'ts_den')


def assert_same(path):
  try:
    ref = midi_io.load_note_sequence(path, fast=False)
  except midi_io.BadInputError:
    with pytest.raises(midi_io.BadInputError):
      midi_io.load_note_arrays(path)
    return None
  fast = midi_io.load_note_arrays(path)[0]
  want = NoteArrays.from_note_sequence(ref)
  for field in FIELDS:
    np.testing.assert_array_equal(getattr(fast, field), getattr(want, field), err_msg=field)
  assert fast.total_time == want.total_time
  # And as a NoteSequence.
  ns = midi_io.load_note_sequence(path, fast=True)
  assert list(ns.notes) == list(ref.notes)
  assert list(ns.tempos) == list(ref.tempos)
  assert list(ns.time_signatures) == list(ref.time_signatures)
  return ref


def test_fast_reader_matches_note_seq_on_generated_files(make_midi):
  notes = [(60, 0.0, 0.5), (64, 0.0, 0.25), (60, 0.5, 0.5001), (67, 1.0, 3.0)]
  assert_same(make_midi('a.mid', notes, program=5))
  assert_same(make_midi('b.mid', notes, qpm=97.3, resolution=96, time_signature=(3, 4),
                        extra_tracks=[(notes, 33, False), (notes, 0, True)]))


def test_fast_reader_pairs_notes_like_pretty_midi(tmp_path):
  """Overlapping same-pitch notes, note-off at the note-on tick, program
  change between on and off, running status: hand-written bytes."""
  import mido
  mid = mido.MidiFile(ticks_per_beat=96)
  track = mido.MidiTrack()
  mid.tracks.append(track)
  track.append(mido.MetaMessage('set_tempo', tempo=600000, time=0))
  track.append(mido.Message('note_on', note=60, velocity=80, time=0))
  track.append(mido.Message('note_on', note=60, velocity=70, time=10))    # second open
  track.append(mido.Message('program_change', program=7, time=5))
  track.append(mido.Message('note_off', note=60, time=10))                # closes both
  track.append(mido.Message('note_on', note=62, velocity=50, time=10))
  track.append(mido.Message('note_off', note=62, time=0))                 # same tick: dropped
  track.append(mido.Message('note_on', note=64, velocity=50, time=0))
  track.append(mido.Message('note_on', note=64, velocity=0, time=30))
  track.append(mido.MetaMessage('set_tempo', tempo=400000, time=7))
  track.append(mido.Message('note_on', note=65, velocity=50, channel=9, time=1))
  track.append(mido.Message('note_off', note=65, channel=9, time=50))
  path = tmp_path / 'pairs.mid'
  mid.save(path)
  ref = assert_same(path)
  assert len(ref.notes) == 4 and {n.program for n in ref.notes} == {7, 0}


def _lmd_sample(lmd_files):
  if os.environ.get('MUSICVAE_FULL_LMD'):
    return lmd_files
  return lmd_files[::40]  # 5 files: the full set runs in scripts/benchmark_data.py


def test_fast_reader_matches_note_seq_on_lmd(lmd_files):
  for path in _lmd_sample(lmd_files):
    assert_same(path)


def test_fast_windows_identical_on_lmd(lmd_files):
  converter = converters.MelodyConverter(slice_bars=2, valid_programs=None, max_windows=0)
  for path in _lmd_sample(lmd_files):
    try:
      ref = converter.all_windows(midi_io.load_note_sequence(path, fast=False))
    except midi_io.BadInputError:
      continue
    fast = converter.fast_windows(midi_io.load_note_arrays(path)[0])
    np.testing.assert_array_equal(ref, fast, err_msg=str(path))


# -- bad input ---------------------------------------------------------------

def _header(ntracks=1, division=96, size=6):
  return b'MThd' + struct.pack('>LHHH', size, 1, ntracks, division)


def _track(body: bytes, size=None):
  return b'MTrk' + struct.pack('>L', len(body) if size is None else size) + body


NOTE = b'\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00'


def bad_files(tmp_path, good_bytes):
  """name -> path of each kind of broken input."""
  cases = {
      'empty.mid': b'',
      'text.mid': b'this is not a MIDI file at all\n' * 4,
      'random.mid': np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes(),
      'truncated.mid': good_bytes[:len(good_bytes) // 2],
      'no_tracks.mid': _header(ntracks=0),
      'absurd_track_length.mid': _header() + _track(NOTE, size=0xFFFFFFF0),
      'absurd_header_length.mid': b'MThd' + struct.pack('>LHHH', 0x7FFFFFFF, 1, 1, 96)
                                  + _track(NOTE),
      'absurd_meta_length.mid': _header() + _track(b'\x00\xff\x01\x8f\xff\xff\xff\x7f' + NOTE),
      'garbled.mid': good_bytes[:40] + b'\xf4\xf5\xfd' * 20 + good_bytes[40:],
      'no_notes.mid': _header() + _track(b'\x00\xff\x2f\x00'),
      'smpte.mid': _header(division=0xE728) + _track(NOTE),
  }
  paths = {}
  tmp_path.mkdir(parents=True, exist_ok=True)
  for name, data in cases.items():
    paths[name] = tmp_path / name
    paths[name].write_bytes(data)
  (tmp_path / 'folder.mid').mkdir()
  paths['folder.mid'] = tmp_path / 'folder.mid'
  return paths


@pytest.mark.parametrize('fast', [False, True])
def test_bad_files_raise_bad_input_error_quickly(tmp_path, make_midi, fast):
  good = make_midi('good.mid')
  paths = bad_files(tmp_path, good.read_bytes())
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  for name, path in paths.items():
    start = time.perf_counter()
    with pytest.raises(midi_io.BadInputError) as info:
      midi_io.load_note_sequence(path, fast=fast)
    assert str(info.value), name
    assert time.perf_counter() - start < 5, name
  grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
  assert grown_mb < 500  # no gigabyte allocations on absurd lengths
  assert midi_io.load_note_sequence(good, fast=fast).notes


def test_bad_input_reasons(tmp_path, make_midi):
  paths = bad_files(tmp_path, make_midi('good.mid').read_bytes())
  reason = lambda name: str(pytest.raises(midi_io.BadInputError, midi_io.load_note_sequence,
                                          paths[name]).value)
  assert reason('empty.mid') == 'empty file'
  assert 'not a MIDI file' in reason('text.mid')
  assert reason('no_notes.mid') == 'no notes'
  assert reason('folder.mid') == 'is a directory'
  assert 'time division' in reason('smpte.mid')


def test_drums_only_and_hour_long_note(make_midi):
  converter = converters.MelodyConverter(valid_programs=None)
  drums = make_midi('drums.mid', [(36, 0.0, 0.1), (38, 0.5, 0.6)] * 8, is_drum=True)
  assert len(converter.fast_windows(midi_io.load_note_arrays(drums)[0])) == 0
  long = make_midi('long.mid', [(60, 0.0, 3600.0)])
  start = time.perf_counter()
  windows = converter.fast_windows(midi_io.load_note_arrays(long)[0])
  assert time.perf_counter() - start < 2
  reference = converter.all_windows(midi_io.load_note_sequence(long, fast=False))
  np.testing.assert_array_equal(windows, reference)  # a held note, then silence


def test_unreadable_permissions(make_midi):
  path = make_midi('secret.mid')
  if os.geteuid() == 0:
    pytest.skip('running as root: chmod 000 does not stop reading')
  path.chmod(0)
  try:
    with pytest.raises(midi_io.BadInputError, match='permission'):
      midi_io.load_note_sequence(path)
  finally:
    path.chmod(0o644)


def test_parse_midi_rejects_non_midi_bytes():
  with pytest.raises(midi_io.BadInputError):
    parse_midi(b'RIFF0000')
