"""Magenta's training command lines (issue 24): TFRecords of NoteSequences
read without TensorFlow, `--hparams`, `--run_dir`, `--mode=eval` and the
other flags of `music_vae_train.py`, and the tables of docs/magenta.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from conftest import TINY_MOTIFS, write_midi
from musicvae_jax import config_base, config_check, eval_mode, family, input_pipeline
from musicvae_jax.data import midi_io, record_cache, tfrecord
from musicvae_jax.magenta import hparams, train_flags

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))
import magenta_tables  # noqa: E402


def tiny_config(tmp_path, spec='configs/mel_2bar.py:tiny'):
  config = config_base.load_config_file(spec)
  config.cache_dir = str(tmp_path / 'cache')
  config.num_workers = 1
  return config


def write_tunes(folder: Path, count: int = 12) -> Path:
  """`count` small 4/4 melodies, 3 bars each (2 distinct 2-bar windows)."""
  for i in range(count):
    motif, shift = TINY_MOTIFS[i % 4], 2 * (i // 4)
    notes = [(motif[b % 4] + shift + 2 * (b // 4), b * 0.5, b * 0.5 + 0.45)
             for b in range(12)]
    write_midi(folder / f'tune_{i:02d}.mid', notes)
  return folder


# -- TFRecord files ---------------------------------------------------------------
RECORDS = [b'', b'one', bytes(range(256)) * 40, b'\x00' * 7]


def test_crc32c_is_castagnoli():
  import google_crc32c
  assert google_crc32c.value(b'123456789') == 0xE3069283   # the CRC-32C check value
  crc = 0xE3069283
  assert tfrecord.masked_crc(b'123456789') == (
      ((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_records_round_trip(tmp_path):
  path = tmp_path / 'a.tfrecord'
  assert tfrecord.write_records(path, RECORDS) == len(RECORDS)
  assert list(tfrecord.read_records(path)) == RECORDS
  spans = tfrecord.index_records(path)
  assert [s.length for s in spans] == [len(r) for r in RECORDS]
  with open(path, 'rb') as f:
    assert [tfrecord.read_span(f, path, s) for s in reversed(spans)] == RECORDS[::-1]
  assert path.stat().st_size == sum(len(r) + 16 for r in RECORDS)


def _damaged(tmp_path, offset: int) -> Path:
  path = tmp_path / 'a.tfrecord'
  tfrecord.write_records(path, RECORDS)
  data = bytearray(path.read_bytes())
  data[offset] ^= 0x01
  path.write_bytes(bytes(data))
  return path


def test_corrupted_data_names_file_and_record(tmp_path):
  # Record 2's data starts after records 0 (16 bytes) and 1 (19) and its header.
  path = _damaged(tmp_path, 16 + 19 + 12 + 100)
  with pytest.raises(tfrecord.TFRecordError) as error:
    list(tfrecord.read_records(path))
  assert str(error.value) == f'{path}: record 2: data CRC mismatch (corrupted file)'
  spans = tfrecord.index_records(path)   # headers are intact
  with open(path, 'rb') as f, pytest.raises(tfrecord.TFRecordError, match='record 2: data CRC'):
    tfrecord.read_span(f, path, spans[2])


def test_corrupted_length_names_file_and_record(tmp_path):
  path = _damaged(tmp_path, 16 + 2)           # record 1's length field
  for read in (lambda: list(tfrecord.read_records(path)),
               lambda: tfrecord.index_records(path)):
    with pytest.raises(tfrecord.TFRecordError) as error:
      read()
    assert str(error.value).startswith(f'{path}: record 1: length CRC mismatch')
    assert '\n' not in str(error.value)


@pytest.mark.parametrize('keep', [16 + 19 + 12 + 50, 16 + 19 + 5])
def test_truncated_file_names_file_and_record(tmp_path, keep):
  path = tmp_path / 'a.tfrecord'
  tfrecord.write_records(path, RECORDS)
  path.write_bytes(path.read_bytes()[:keep])
  for read in (lambda: list(tfrecord.read_records(path)),
               lambda: tfrecord.index_records(path)):
    with pytest.raises(tfrecord.TFRecordError) as error:
      read()
    assert str(error.value).startswith(f'{path}: record 2: truncated')
    assert 'cut short' in str(error.value)


@pytest.mark.parametrize('keep', [16 + 19 + 12 + 50, 16 + 19 + 5, 16 + 19])
def test_a_killed_writers_cut_short_tail_ends_reading_when_asked(tmp_path, keep):
  # The event file of a killed training run: every whole record, then the end.
  path = tmp_path / 'a.tfrecord'
  tfrecord.write_records(path, RECORDS)
  path.write_bytes(path.read_bytes()[:keep])
  assert list(tfrecord.read_records(path, stop_at_truncated_end=True)) == RECORDS[:2]
  corrupted = _damaged(tmp_path, 16 + 19 + 12 + 100)   # damage is never skipped
  with pytest.raises(tfrecord.TFRecordError, match='record 2: data CRC'):
    list(tfrecord.read_records(corrupted, stop_at_truncated_end=True))


def test_examples_path_takes_globs_and_comma_lists(tmp_path):
  for name in ('b.tfrecord', 'a.tfrecord', 'c.other'):
    tfrecord.write_records(tmp_path / name, [b'x'])
  assert tfrecord.expand_paths(str(tmp_path / '*.tfrecord')) == [
      tmp_path / 'a.tfrecord', tmp_path / 'b.tfrecord']
  assert tfrecord.expand_paths(f'{tmp_path / "c.other"}, {tmp_path / "a*"}') == [
      tmp_path / 'c.other', tmp_path / 'a.tfrecord']
  with pytest.raises(FileNotFoundError, match='nothing.tfrecord: no such file'):
    tfrecord.expand_paths(f'{tmp_path / "a.tfrecord"},{tmp_path / "nothing.tfrecord"}')
  with pytest.raises(tfrecord.TFRecordError, match='is a folder'):
    tfrecord.expand_paths(str(tmp_path))


# -- NoteSequences -> windows ------------------------------------------------------
@pytest.fixture(scope='module')
def tunes(tmp_path_factory):
  """(MIDI folder, TFRecord of its NoteSequences) made by our
  convert_dir_to_note_sequences."""
  from musicvae_jax import convert_dir_to_note_sequences as convert_dir
  root = tmp_path_factory.mktemp('tunes')
  folder = write_tunes(root / 'midi')
  write_midi(folder / 'sub' / 'deeper.mid', [(60, 0.0, 0.4)])
  (folder / 'broken.mid').write_bytes(b'MThd nonsense')
  record = root / 'tunes.tfrecord'
  count, skipped = convert_dir.convert(folder, record)
  assert count == 12 and list(skipped) == ['broken.mid']   # not recursive
  return folder, record


def test_convert_dir_command(tunes, tmp_path):
  folder, _ = tunes
  output = tmp_path / 'all.tfrecord'
  result = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.convert_dir_to_note_sequences',
       f'--input_dir={folder}', f'--output_file={output}', '--recursive'],
      cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.startswith(f'wrote 13 NoteSequences to {output}; skipped 1 files')
  names = [music_pb2.NoteSequence.FromString(r).filename
           for r in tfrecord.read_records(output)]
  assert 'sub/deeper.mid' in names


def test_converted_sequences_carry_magentas_names(tunes):
  folder, record = tunes
  first = music_pb2.NoteSequence.FromString(next(tfrecord.read_records(record)))
  assert first.filename == 'tune_00.mid' and first.collection_name == 'midi'
  assert first.id.startswith('/id/midi/midi/') and len(first.notes) == 12


def test_records_give_the_windows_of_the_files(tunes, tmp_path):
  folder, record = tunes
  config = tiny_config(tmp_path)
  converter = family.get(config).make_converter(config)
  from_records = input_pipeline.record_windows(str(record), config, converter,
                                               progress=False)
  config.fast_midi = False
  from_files = input_pipeline.folder_windows(folder, config, converter, progress=False)
  assert from_records.summary['files_seen'] == 12
  assert from_records.files[0] == 'tunes.tfrecord#0'
  assert len(from_records) >= 12
  for index in range(12):
    file_index = from_files.files.index(f'tune_{index:02d}.mid')
    np.testing.assert_array_equal(from_records.windows[from_records.file_ids == index],
                                  from_files.windows[from_files.file_ids == file_index])


def test_record_cache_is_keyed_by_content(tunes, tmp_path, monkeypatch):
  _, record = tunes
  config = tiny_config(tmp_path)
  converter = family.get(config).make_converter(config)
  first = input_pipeline.record_windows(str(record), config, converter, progress=False)
  calls = []
  original = record_cache._convert_record
  monkeypatch.setattr(record_cache, '_convert_record',
                      lambda job: calls.append(job) or original(job))
  again = input_pipeline.record_windows(str(record), config, converter, progress=False)
  assert not calls and again.summary['cache_folder'] == first.summary['cache_folder']
  copy = tmp_path / 'copy.tfrecord'     # another file: 5 of the sequences
  tfrecord.write_records(copy, list(tfrecord.read_records(record))[:5])
  other = input_pipeline.record_windows(str(copy), config, converter, progress=False)
  assert len(calls) == 5 and other.summary['cache_folder'] != first.summary['cache_folder']


def test_a_record_that_is_no_note_sequence_is_named(tmp_path):
  path = tmp_path / 'junk.tfrecord'
  good = music_pb2.NoteSequence(total_time=1.0).SerializeToString()
  tfrecord.write_records(path, [good, b'\xff\xff\xff\xff'])
  config = tiny_config(tmp_path)
  converter = family.get(config).make_converter(config)
  with pytest.raises(tfrecord.TFRecordError, match=r'junk.tfrecord: record 1: not a NoteSequence'):
    input_pipeline.record_windows(str(path), config, converter, progress=False)


def test_windows_match_magenta_goldens(shared_dir, tmp_path):
  """NoteSequences read as Magenta reads MIDI (note_seq), stored in a
  TFRecord, give every window Magenta's converter gave for those files
  (fixtures/magenta_data/cat-mel_2bar_small.npz; Magenta keeps 5 of them)."""
  golden = np.load(shared_dir / 'fixtures' / 'magenta_data' / 'cat-mel_2bar_small.npz')
  names = [n for n in dict.fromkeys(golden['window_file'])][:3]
  splits = dict(zip(golden['window_file'], golden['window_split']))
  sequences = [midi_io.load_note_sequence(
      shared_dir / 'data' / 'lmd' / str(splits[n]) / n, fast=False) for n in names]
  path = tmp_path / 'lmd.tfrecord'
  tfrecord.write_records(path, [ns.SerializeToString() for ns in sequences])
  config = tiny_config(tmp_path, 'configs/mel_2bar.py')
  converter = family.get(config).make_converter(config)
  data = input_pipeline.record_windows(str(path), config, converter, progress=False)
  expected = golden['outputs'].argmax(-1).astype(np.int16)
  for index, name in enumerate(names):
    ours = {w.tobytes() for w in data.windows[data.file_ids == index]}
    theirs = {w[:, None].tobytes() for w in expected[golden['window_file'] == name]}
    assert theirs and theirs <= ours, name


# -- --hparams ----------------------------------------------------------------------
# One value per row of hparams.HPARAMS: (config, text, {field: value} or the
# error it raises).
HPARAM_CASES = {
    'max_seq_len': ('mel_2bar', '32', {}),
    'z_size': ('mel_2bar', '64', {'z_size': 64}),
    'free_bits': ('mel_2bar', '48', {'free_bits': 48.0}),
    'max_beta': ('mel_2bar', '0.5', {'max_beta': 0.5, 'beta_schedule': 'magenta'}),
    'beta_rate': ('mel_2bar', '0.99999', {'beta_rate': 0.99999}),
    'batch_size': ('mel_2bar', '32', {'batch_size': 32}),
    'grad_clip': ('mel_2bar', '2', {'grad_clip': 2.0}),
    'clip_mode': ('mel_2bar', 'global_norm', {}),
    'grad_norm_clip_to_zero': ('mel_2bar', '500', {'grad_norm_clip_to_zero': 500.0}),
    'learning_rate': ('mel_2bar', '0.0005', {'learning_rate': 0.0005}),
    'decay_rate': ('mel_2bar', '0.999', {'decay_rate': 0.999, 'lr_schedule': 'exponential'}),
    'min_learning_rate': ('mel_2bar', '1e-6', {'min_learning_rate': 1e-6}),
    'conditional': ('mel_2bar', 'true', {}),
    'dec_rnn_size': ('hier', '[64,32]', {'dec_rnn_sizes': (64, 32),
                                         'conductor_rnn_sizes': (64, 32)}),
    'enc_rnn_size': ('mel_2bar', '[512]', {'enc_rnn_sizes': (512,)}),
    'dropout_keep_prob': ('groovae_2bar_humanize', '0.5', {'dropout_keep_prob': 0.5}),
    'sampling_schedule': ('mel_2bar', 'exponential', {'sampling_schedule': 'exponential'}),
    'sampling_rate': ('mel_2bar', '2000', {'sampling_rate': 2000.0}),
    'use_cudnn': ('mel_2bar', 'True', {}),
    'residual_encoder': ('mel_2bar', 'false', {}),
    'residual_decoder': ('mel_2bar', 'False', {}),
    'control_preprocessing_rnn_size': ('mel_2bar', '[128]', {}),
    'nade_num_hidden': ('nade_drums_2bar', '32', {'nade_num_hidden': 32}),
}

# A value without counterpart for every row that has one.
HPARAM_REFUSALS = {
    'max_seq_len': ('mel_2bar', '64', '--config.slice_bars'),
    'clip_mode': ('mel_2bar', 'value', 'per-value clipping'),
    'conditional': ('mel_2bar', 'false', 'unconditional decoder'),
    'residual_encoder': ('mel_2bar', 'true', 'residual'),
    'residual_decoder': ('mel_2bar', '1', 'residual'),
    'dropout_keep_prob': ('mel_2bar', '0.8', 'GrooVAE'),
    'nade_num_hidden': ('mel_2bar', '16', 'NADE'),
    'sampling_schedule': ('mel_2bar', 'linear', "Magenta's choices"),
}


def test_every_hparam_has_a_case():
  assert set(HPARAM_CASES) == set(hparams.BY_NAME)
  assert set(HPARAM_REFUSALS) == {h.name for h in hparams.HPARAMS if h.check}


@pytest.mark.parametrize('name', sorted(HPARAM_CASES))
def test_each_hparam_sets_its_fields(name):
  file, text, expected = HPARAM_CASES[name]
  config = config_base.load_config_file(f'configs/{file}.py')
  before = config_base.to_json(config)
  settings = hparams.apply_hparams(config, f'{name}={text}')
  for field, value in expected.items():
    assert config[field] == value, field
    assert isinstance(config[field], type(value))
  assert {s.field for s in settings if s.field} <= set(expected)
  if not expected:
    assert config_base.to_json(config) == before
    assert [str(s) for s in settings] == [s.source for s in settings]
  config_base.validate(config)


@pytest.mark.parametrize('name', sorted(HPARAM_REFUSALS))
def test_a_value_without_counterpart_is_one_line_naming_it(name):
  file, text, reason = HPARAM_REFUSALS[name]
  config = config_base.load_config_file(f'configs/{file}.py')
  before = config_base.to_json(config)
  with pytest.raises(hparams.HParamsError) as error:
    hparams.apply_hparams(config, f'batch_size=8,{name}={text}')
  message = str(error.value)
  assert message.startswith(f'--hparams: {name}={text} has no counterpart here')
  assert reason in message and '\n' not in message
  assert config_base.to_json(config) == before          # nothing applied


def test_hparams_syntax():
  config = config_base.load_config_file('configs/mel_2bar.py')
  hparams.apply_hparams(config, 'enc_rnn_size=[256, 128],z_size=16 , '
                                'conditional=TRUE,free_bits=0')
  assert config.enc_rnn_sizes == (256, 128) and config.z_size == 16
  assert config.free_bits == 0.0
  cases = {'z_sise=3': '--hparams: z_sise is not a MusicVAE hparam (did you mean z_size?)',
           'foo=1': '--hparams: foo is not a MusicVAE hparam;',
           'enc_rnn_size=512': '--hparams: enc_rnn_size=512 is not a list of ints',
           'z_size=3.5': '--hparams: z_size=3.5 is not an int',
           'conditional=maybe': '--hparams: conditional=maybe is not a bool',
           'z_size': "--hparams: 'z_size' is not name=value",
           'z_size=1,z_size=2': '--hparams: z_size is given twice'}
  for text, start in cases.items():
    with pytest.raises(hparams.HParamsError) as error:
      hparams.apply_hparams(config, text)
    assert str(error.value).startswith(start), text


def test_convert_keeps_parse_hparams():
  from musicvae_jax.magenta import convert
  assert convert.parse_hparams('z_size=32,enc_rnn_size=[128, 64],x=a,y=0.5') == {
      'z_size': 32, 'enc_rnn_size': [128, 64], 'x': 'a', 'y': 0.5}


# -- the other flags ------------------------------------------------------------------
MAGENTA_TRAIN_FLAGS = {   # every flag of Magenta's music_vae_train.py
    'master', 'examples_path', 'tfds_name', 'run_dir', 'num_steps',
    'eval_num_batches', 'checkpoints_to_keep', 'keep_checkpoint_every_n_hours',
    'mode', 'config', 'hparams', 'cache_dataset', 'task', 'num_ps_tasks',
    'num_sync_workers', 'eval_dir_suffix', 'log'}


def test_every_magenta_flag_is_in_the_table():
  assert set(train_flags.BY_NAME) == MAGENTA_TRAIN_FLAGS


def test_flags_apply_in_order():
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  done = train_flags.apply(
      config, 'train', 'batch_size=32,learning_rate=0.0005', 'a.tfrecord',
      'b.tfrecord', 10, 0, 3, overrides={'batch_size': 8})
  assert (config.batch_size, config.learning_rate, config.num_steps) == (8, 0.0005, 10)
  assert (config.train_examples_path, config.eval_examples_path) == ('a.tfrecord', 'b.tfrecord')
  assert config.keep_latest == train_flags.KEEP_ALL and config.eval_batches == 3
  lines = [str(s) for s in done]
  assert 'config.batch_size = 8  (--config.batch_size, over hparam batch_size)' in lines
  assert "config.train_examples_path = 'a.tfrecord'  (--examples_path)" in lines
  evals = config_base.load_config_file('configs/mel_2bar.py:tiny')
  train_flags.apply(evals, 'eval', examples_path='c.tfrecord')
  assert evals.eval_examples_path == 'c.tfrecord' and not evals.train_examples_path
  with pytest.raises(train_flags.TrainFlagsError, match='not both'):
    train_flags.apply(evals, 'eval', examples_path='c', eval_examples_path='d')
  with pytest.raises(train_flags.TrainFlagsError, match='--checkpoints_to_keep=-1'):
    train_flags.apply(evals, checkpoints_to_keep=-1)


def test_run_dir_is_workdir():
  assert train_flags.resolve_workdir(None, '/r') == '/r'
  assert train_flags.resolve_workdir('/w', None) == '/w'
  with pytest.raises(train_flags.TrainFlagsError, match='--run_dir and --workdir'):
    train_flags.resolve_workdir('/w', '/r')
  with pytest.raises(train_flags.TrainFlagsError, match='give --workdir'):
    train_flags.resolve_workdir(None, '')


def test_flags_without_counterpart():
  assert train_flags.check_unsupported({'task': 0, 'master': '', 'cache_dataset': True}) == []
  assert train_flags.check_unsupported({'cache_dataset': False}) == [
      '--cache_dataset=False is ignored: windows are always cached on disk and '
      'held in memory']
  for name, value in (('task', 1), ('master', 'grpc://x'), ('num_ps_tasks', 2),
                      ('num_sync_workers', 4), ('tfds_name', 'groove/2bar-midionly')):
    with pytest.raises(train_flags.TrainFlagsError) as error:
      train_flags.check_unsupported({name: value})
    assert str(error.value).startswith(f'--{name}={value} has no counterpart here: ')


def test_docs_tables_are_current():
  text = magenta_tables.DOC.read_text()
  assert magenta_tables.render(text) == text, 'run python scripts/magenta_tables.py'


# -- the command line ------------------------------------------------------------------
def run_train(*args, timeout=300):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, '-m', 'musicvae_jax.train', *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=timeout)


@pytest.fixture(scope='module')
def magenta_run(tmp_path_factory, tunes):
  """A tiny run trained for 2 steps with Magenta's flag spelling."""
  _, record = tunes
  root = tmp_path_factory.mktemp('magenta_run')
  run_dir = root / 'run'
  result = run_train(
      '--config=configs/mel_2bar.py:tiny', f'--run_dir={run_dir}', '--mode=train',
      f'--examples_path={record}', '--hparams=batch_size=4,learning_rate=0.0005',
      '--num_steps=2', f'--config.cache_dir={root / "cache"}',
      '--config.num_workers=1', '--config.eval_fraction=0.25')
  assert result.returncode == 0, result.stderr[-3000:]
  return root, run_dir, record, result


def test_train_from_tfrecord_with_magentas_flags(magenta_run):
  _, run_dir, record, result = magenta_run
  assert 'config.batch_size = 4  (hparam batch_size)' in result.stdout
  assert 'step 2 [eval]' in result.stdout
  saved = config_base.from_json((run_dir / 'config.json').read_text())
  assert saved.train_examples_path == str(record)
  assert (saved.batch_size, saved.learning_rate, saved.num_steps) == (4, 0.0005, 2)
  assert sorted(p.name for p in (run_dir / 'checkpoints').iterdir()) == ['2']


def test_eval_mode_scores_the_newest_checkpoint(magenta_run):
  root, run_dir, record, _ = magenta_run
  result = run_train(
      '--config=configs/mel_2bar.py:tiny', f'--run_dir={run_dir}', '--mode=eval',
      f'--examples_path={record}', '--hparams=batch_size=4', '--num_steps=2',
      '--eval_loop', '--eval_dir_suffix=_held', f'--config.cache_dir={root / "cache"}',
      '--config.num_workers=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'step 2 [eval, {run_dir}] loss=' in result.stdout
  lines = (run_dir / 'eval_held' / 'metrics.jsonl').read_text().splitlines()
  assert len(lines) == 1 and '"step": 2' in lines[0]
  assert list((run_dir / 'eval_held').glob('events.out.tfevents.*'))


def test_eval_mode_refuses_another_model(magenta_run):
  root, run_dir, record, _ = magenta_run
  config = tiny_config(root)
  config.cache_dir = str(root / 'cache')
  config.eval_examples_path = str(record)
  config.z_size = 16
  with pytest.raises(config_check.ConfigMismatchError, match='z_size: saved 8, new 16'):
    eval_mode.run(config, run_dir)
  with pytest.raises(eval_mode.NoCheckpointError, match='train first'):
    eval_mode.run(config, root / 'nothing')


def test_eval_mode_defaults_to_the_runs_eval_set(magenta_run):
  root, run_dir, record, _ = magenta_run
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  lines = []
  result = eval_mode.run(config, run_dir, suffix='_own', report=lines.append)
  assert config.train_examples_path == str(record)
  assert config.cache_dir == str(root / 'cache')
  assert lines[0].startswith("eval data as the run's: config.train_examples_path = ")
  assert result['step'] == 2 and result['loss'] > 0
  assert (run_dir / 'eval_own' / 'metrics.jsonl').exists()


def test_command_line_errors_are_one_line(tmp_path):
  run_dir = f'--run_dir={tmp_path / "run"}'
  cases = [
      ([f'--workdir={tmp_path / "run"}', run_dir],
       '--run_dir and --workdir name the same folder'),
      ([run_dir, '--hparams=batch_size=4,bogus=1'], '--hparams: bogus is not'),
  ]
  for args, expected in cases:
    result = run_train('--config=configs/mel_2bar.py:tiny', *args, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f'error: {expected}'), result.stderr[-2000:]
  assert not (tmp_path / 'run').exists()


def test_help_lists_the_magenta_flags():
  result = run_train('--help', timeout=120)   # absl exits 1 after --help
  for name in ('run_dir', 'examples_path', 'hparams', 'mode', 'num_steps',
               'checkpoints_to_keep', 'eval_num_batches', 'eval_examples_path', 'task'):
    assert f'--{name}' in result.stdout, name


def test_magentas_readme_command(tunes, tmp_path):
  """Magenta's README command, word for word but for the paths, with hparams
  that shrink the model so that it trains in seconds."""
  _, record = tunes
  result = run_train(
      '--config=cat-mel_2bar_small', f'--run_dir={tmp_path / "run"}/', '--mode=train',
      f'--examples_path={record}',
      '--hparams=batch_size=4,learning_rate=0.0005,z_size=8,enc_rnn_size=[16],'
      'dec_rnn_size=[16]', '--num_steps=1', f'--config.cache_dir={tmp_path / "cache"}',
      '--config.num_workers=1', '--config.eval_batches=1',
      '--config.eval_greedy_windows=0')
  assert result.returncode == 0, result.stderr[-3000:]
  assert (tmp_path / 'run' / 'checkpoints' / '1').is_dir()
