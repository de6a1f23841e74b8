"""preprocess CLI and cache: bad files skipped with reasons beside good ones,
summary.json, incremental reruns, rebuild on changed settings, clear error
when nothing comes out."""

from __future__ import annotations

import json
import os

import pytest

from musicvae_jax import family, input_pipeline, preprocess
from musicvae_jax.config_base import base_config
from musicvae_jax.data import cache, converters

from test_midi_io import bad_files


def config(**overrides):
  c = base_config()
  c.melody_programs = 'all'
  c.update(overrides)
  return c


@pytest.fixture
def folder(tmp_path, make_midi):
  data = tmp_path / 'music'
  data.mkdir()
  good = make_midi('music/good.mid')
  make_midi('music/sub/GOOD2.MIDI', [(67 - i % 5, i * 0.25, i * 0.25 + 0.2) for i in range(32)])
  bad = bad_files(data / 'bad', good.read_bytes())
  make_midi('music/bad/drums_only.mid', [(36, i * 0.25, i * 0.25 + 0.1) for i in range(16)],
            is_drum=True)
  make_midi('music/bad/hour_note.mid', [(60, 0.0, 3600.0)])
  return data, len(bad) + 2


@pytest.mark.parametrize('fast', [True, False])
def test_bad_files_are_skipped_with_reasons(folder, tmp_path, fast):
  data, n_bad = folder
  out = tmp_path / f'out{fast}'
  summary = preprocess.preprocess(config(fast_midi=fast), data, out, num_workers=1,
                                  progress=False)
  on_disk = json.loads((out / 'summary.json').read_text())
  assert on_disk == summary
  assert summary['files_seen'] == n_bad + 2
  skipped = summary['skipped']
  assert 'good.mid' not in skipped and 'sub/GOOD2.MIDI' not in skipped
  for name in ('empty.mid', 'text.mid', 'random.mid', 'truncated.mid', 'no_tracks.mid',
               'absurd_track_length.mid', 'absurd_header_length.mid', 'garbled.mid',
               'no_notes.mid', 'folder.mid', 'drums_only.mid'):
    assert skipped[f'bad/{name}'], name
  assert skipped['bad/drums_only.mid'] == 'no windows'
  assert summary['files_used'] >= 2 and summary['windows'] > 0
  assert summary['duplicates_removed'] == summary['windows_extracted'] - summary['windows']


def test_training_reads_the_preprocessed_cache(folder, tmp_path, monkeypatch):
  data, _ = folder
  out = tmp_path / 'out'
  preprocess.preprocess(config(), data, out, num_workers=1, progress=False)
  calls = []
  monkeypatch.setattr(cache, '_convert_one', lambda job: calls.append(job))
  c = config(train_dir=str(data), cache_dir=str(out), eval_dir='')
  loaded = input_pipeline.load(c, family.get(c).make_converter(c))
  assert not calls and len(loaded.train) + len(loaded.eval) > 0


def test_incremental_and_rebuild_on_new_settings(folder, tmp_path, monkeypatch, make_midi):
  data, _ = folder
  out = tmp_path / 'out'
  preprocess.preprocess(config(), data, out, num_workers=1, progress=False)
  converted = []
  original = cache._convert_one
  monkeypatch.setattr(cache, '_convert_one', lambda job: converted.append(job[1]) or original(job))
  preprocess.preprocess(config(), data, out, num_workers=1, progress=False)
  assert converted == []
  make_midi('music/new.mid', [(72 - i % 3, i * 0.25, i * 0.25 + 0.2) for i in range(32)])
  summary = preprocess.preprocess(config(), data, out, num_workers=1, progress=False)
  assert converted == ['new.mid'] and 'new.mid' not in summary['skipped']
  converted.clear()
  preprocess.preprocess(config(slice_bars=1), data, out, num_workers=1, progress=False)
  assert 'good.mid' in converted  # different converter settings: converted again


def test_cli_exit_codes(folder, tmp_path, make_midi, capsys):
  from absl import flags
  data, _ = folder
  out = tmp_path / 'cli'
  argv = ['preprocess', '--config=configs/mel_2bar.py', f'--input_dir={data}',
          f'--output_dir={out}', '--num_workers=1', '--noprogress']
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  os.chdir(root)
  flags.FLAGS.unparse_flags()
  flags.FLAGS(argv)
  assert preprocess.main(argv) == 0
  assert 'files seen' in capsys.readouterr().out
  empty = tmp_path / 'nothing'
  make_midi('nothing/drums.mid', [(36, 0.0, 0.1)], is_drum=True)
  (empty / 'x.mid').write_bytes(b'junk')
  flags.FLAGS.unparse_flags()
  flags.FLAGS(argv[:2] + [f'--input_dir={empty}', f'--output_dir={tmp_path / "o2"}',
                          '--num_workers=1', '--noprogress'])
  assert preprocess.main([]) == 1
  err = capsys.readouterr().err
  assert str(empty) in err and '2 files seen' in err and '2 skipped' in err
  flags.FLAGS.unparse_flags()


def test_parallel_matches_serial(folder, tmp_path):
  data, _ = folder
  a = preprocess.preprocess(config(), data, tmp_path / 'a', num_workers=1, progress=False)
  b = preprocess.preprocess(config(), data, tmp_path / 'b', num_workers=2, progress=False)
  assert {k: v for k, v in a.items() if k != 'cache_folder'} == \
         {k: v for k, v in b.items() if k != 'cache_folder'}
