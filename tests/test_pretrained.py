"""Pretrained models: the export script, the registry, from_pretrained, --model,
and every model actually shipped in musicvae_jax/pretrained/.

The first part exports the session's tiny run (conftest `tiny_run`) with
scripts/make_pretrained.py into a temporary registry; the last part holds each
shipped model to its card (parametrized over the shipped names, so a new
model is tested as soon as it is added).
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import jax
import note_seq
import numpy as np
import pytest

import musicvae_jax
from musicvae_jax import evaluate, model_source, pretrained
from musicvae_jax.errors import UserError
from musicvae_jax.pretrained import files, params_codec, precision, stats
from musicvae_jax.trained_model import TrainedModel

import scripts_as_modules

REPO = Path(__file__).resolve().parents[1]
NAME = 'tiny_test'
SHIPPED = [e.name for e in pretrained.list_pretrained(pretrained.PACKAGE_DIR)]
MAX_PARAMS_BYTES = 8 * 1024 * 1024


def _script():
  return scripts_as_modules.load('make_pretrained.py')


def _argv(workdir, root, *extra):
  return [f'--workdir={workdir}', f'--name={NAME}', '--description=A tiny test model',
          '--data=twelve generated test files', '--licence=public domain (made by the test)',
          f'--registry={root / "registry"}', f'--docs_dir={root / "docs"}', *extra]


@pytest.fixture(scope='module')
def exported(tiny_run, tmp_path_factory):
  """(root, midi_dir, workdir, card): the tiny run exported into root/registry."""
  _, midi, workdir = tiny_run
  root = tmp_path_factory.mktemp('pretrained')
  card = _script().export(_argv(workdir, root))
  return root, midi, workdir, card


def _env(root):
  return dict(os.environ, PYTHONPATH=str(REPO), MUSICVAE_PRETRAINED_DIR=str(root / 'registry'),
              MUSICVAE_CACHE_DIR=str(root / 'cache'))


def _notes(ns):
  return [(n.pitch, round(n.start_time, 4), round(n.end_time, 4)) for n in ns.notes]


# -- storage -------------------------------------------------------------------------------

def test_float16_storage_round_trips_within_half_precision():
  rng = np.random.default_rng(0)
  params = {'dense': {'kernel': rng.standard_normal((5, 3)).astype(np.float32),
                      'bias': np.float32([1e-3, -2.5, 7.0])},
            'huge': {'scale': np.float32([1e5, -3e5])}}   # beyond float16's 65504
  data, dtype = params_codec.pack(params)
  back = params_codec.unpack(data)
  assert dtype == 'bfloat16+float16'
  assert jax.tree.structure(back) == jax.tree.structure(params)
  assert all(x.dtype == np.float32 for x in jax.tree.leaves(back))
  np.testing.assert_allclose(back['dense']['kernel'], params['dense']['kernel'], rtol=1e-3)
  np.testing.assert_allclose(back['huge']['scale'], params['huge']['scale'], rtol=1e-2)


def test_export_writes_the_package_folder_and_a_consistent_card(exported):
  root, _, workdir, card = exported
  folder = root / 'registry' / NAME
  assert sorted(p.name for p in folder.iterdir()) == sorted(files.FILES)
  assert card == files.read_card(folder)
  assert set(files.CARD_KEYS) <= set(card) and card['name'] == NAME
  assert card['params_sha256'] == files.sha256((folder / files.PARAMS).read_bytes())
  assert card['params']['dtype'] == 'float16'
  assert card['training']['steps'] == 20 and card['training']['machine'].startswith('cpu: ')
  assert card['training']['wall_time_seconds'] > 0
  config = files.read_config(folder)
  assert config.cache_dir == '' and config.z_size == 8 and config.train_dir
  ev = card['evaluation']
  assert ev['windows'] > 0 and 0 <= ev['active_units'] <= 8 and ev['kl_per_sequence'] > 0
  assert 'reconstruction_loss_per_sequence' in ev and 'greedy' in ev
  assert card['float16_check']['greedy_identical_share'] >= 1 - precision.MAX_GREEDY_MISMATCH
  assert card['float16_check']['mu_max_abs_error'] < 1e-2
  assert card['sample_statistics']['n'] == 32
  assert f'--workdir={workdir}' in card['command']


def test_export_writes_the_human_card_with_eight_samples(exported):
  root, *_ = exported
  media, text = root / 'docs' / NAME, (root / 'docs' / f'{NAME}.md').read_text()
  for i in range(8):
    for suffix in ('mid', 'wav', 'png'):
      path = media / f'sample_{i:02d}.{suffix}'
      assert path.is_file() and f'{NAME}/{path.name}' in text, path
  with wave.open(str(media / 'sample_00.wav')) as f:
    assert (f.getframerate(), f.getnchannels()) == (16000, 1)
  for words in ('Held-out evaluation', 'KL / sequence', 'active latent units', 'float16',
                'make_pretrained.py --workdir='):
    assert words in text


def test_training_command_lists_what_differs_from_the_named_config():
  from musicvae_jax import config_files
  from musicvae_jax.pretrained import run_record
  config = config_files.load('mel_2bar:cpu')
  config.free_bits, config.enc_rnn_sizes = 128.0, (512,)
  config.train_dir, config.cache_dir = '/somewhere/on/the/trainer', '/tmp/cache'
  assert run_record.training_overrides(config, 'mel_2bar:cpu', config.num_steps) == [
      "--config.enc_rnn_sizes='(512,)'", '--config.free_bits=128.0']
  assert run_record.training_command(config, 'mel_2bar:cpu', 777, 'runs/x') == (
      "python -m musicvae_jax.train --config=mel_2bar:cpu --workdir=runs/x "
      "--config.enc_rnn_sizes='(512,)' --config.free_bits=128.0 --config.num_steps=777")


def test_the_card_holds_the_datas_statistics_beside_the_samples(exported):
  root, *_ = exported
  card = files.read_card(root / 'registry' / NAME)
  assert card['data_statistics']['n'] > 0
  text = (root / 'docs' / f'{NAME}.md').read_text()
  assert f"| {card['data_statistics']['n']} held-out windows |" in text
  index = (root / 'pretrained.md').read_text()
  assert f'| [`{NAME}`](pretrained/{NAME}.md) | A tiny test model |' in index


def test_export_refuses_precision_loss_and_an_existing_export(exported, monkeypatch, tmp_path):
  _, _, workdir, _ = exported
  script = _script()
  with pytest.raises(UserError, match='pass --overwrite'):
    script.export(_argv(workdir, exported[0]))
  monkeypatch.setattr(precision, 'MAX_GREEDY_MISMATCH', -1.0)
  with pytest.raises(UserError) as error:
    script.export(_argv(workdir, tmp_path))
  assert 'pass --allow_precision_loss' in str(error.value) and '\n' not in str(error.value)
  assert not (tmp_path / 'registry').exists()   # nothing written


# -- the registry and from_pretrained ----------------------------------------------------------

def test_list_pretrained_searches_the_argument_then_the_environment(exported, monkeypatch):
  root, *_ = exported
  registry = root / 'registry'
  entries = pretrained.list_pretrained(registry)
  assert entries == [pretrained.Entry(NAME, 'A tiny test model', registry / NAME)]
  monkeypatch.setenv(pretrained.ENV_VAR, str(registry))
  assert pretrained.search_path() == [registry, pretrained.PACKAGE_DIR]
  assert NAME in [e.name for e in musicvae_jax.list_pretrained()]


def test_from_pretrained_equals_the_run_within_float16(exported):
  root, _, workdir, _ = exported
  run = TrainedModel.from_workdir(workdir)
  model = TrainedModel.from_pretrained(NAME, registry=root / 'registry')
  assert (model.pretrained, model.step, model.card['name']) == (NAME, 20, NAME)
  for got, want in zip(jax.tree.leaves(model.params), jax.tree.leaves(run.params)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-3, atol=1e-4)
  windows = np.asarray(evaluate.eval_windows(run.config, None, run.converter)[0].windows)
  _, mu_run, _ = run.encode_windows(windows)
  _, mu, _ = model.encode_windows(windows)
  np.testing.assert_allclose(mu, mu_run, atol=1e-3)


def test_a_damaged_params_file_is_one_line(exported, tmp_path):
  root, *_ = exported
  shutil.copytree(root / 'registry' / NAME, tmp_path / NAME)
  path = tmp_path / NAME / files.PARAMS
  data = bytearray(path.read_bytes())
  data[len(data) // 2] ^= 0xFF
  path.write_bytes(bytes(data))
  with pytest.raises(files.PretrainedFileError) as error:
    TrainedModel.from_pretrained(NAME, registry=tmp_path)
  assert str(error.value).startswith(f'{path}: sha256 ') and '\n' not in str(error.value)


def test_an_unknown_name_is_one_line_listing_the_names(exported):
  root, *_ = exported
  with pytest.raises(pretrained.PretrainedError) as error:
    TrainedModel.from_pretrained('nope', registry=root / 'registry')
  assert str(error.value).startswith(f"no pretrained model 'nope': choose one of {NAME} (")
  assert '\n' not in str(error.value)


def test_model_source_names_the_pretrained_folder(exported, monkeypatch):
  root, *_ = exported
  monkeypatch.setenv(pretrained.ENV_VAR, str(root / 'registry'))
  folder = model_source.resolve(model_source.Source(model=NAME), log=pytest.fail)
  assert folder == root / 'registry' / NAME and model_source.is_pretrained(folder)
  assert model_source.load_config(folder).z_size == 8
  cases = {model_source.Source(model='nope'): "--model=nope: no pretrained model 'nope'",
           model_source.Source(model=NAME, config='cat-mel_2bar_small'):
               '--config goes with --checkpoint_file',
           model_source.Source(model=NAME, workdir=str(root)): 'give exactly one of'}
  for source, message in cases.items():
    with pytest.raises(model_source.ModelSourceError, match=message):
      model_source.resolve(source, log=pytest.fail)
  with pytest.raises(model_source.ModelSourceError, match='--best goes with a training run'):
    model_source.load(folder, best=True)


# -- the commands and the studio -------------------------------------------------------------

def test_generate_model_subprocess_writes_the_library_samples(exported):
  root, *_ = exported
  out = root / 'generated'
  result = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.generate', f'--model={NAME}', '--mode=sample',
       '--num_outputs=2', '--temperature=0.5', '--seed=3', f'--output_dir={out}'],
      cwd=REPO, capture_output=True, text=True, timeout=300, env=_env(root))
  assert result.returncode == 0, result.stderr[-2000:]
  model = TrainedModel.from_pretrained(NAME, registry=root / 'registry')
  for i, ns in enumerate(model.sample(2, temperature=0.5, seed=3)):
    written = note_seq.midi_file_to_note_sequence(str(out / f'sample_{i:02d}.mid'))
    assert _notes(written) == _notes(ns)


def test_evaluate_model_with_eval_dir_and_refusal_without(exported):
  root, midi, _, _ = exported
  output = root / 'evaluate.json'
  result = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.evaluate', f'--model={NAME}', f'--eval_dir={midi}',
       '--num_samples_k=2', '--seeds=1', f'--output={output}'],
      cwd=REPO, capture_output=True, text=True, timeout=300, env=_env(root))
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.loads(output.read_text())
  assert report['pretrained'] == NAME and report['step'] == 20 and report['windows'] > 0
  assert report['model_source']['flags'] == [f'--model={NAME}']
  # Trained on files that do not ship with it: --eval_dir is needed (one line).
  model = TrainedModel.from_pretrained(NAME, registry=root / 'registry')
  with pytest.raises(evaluate.EvaluationError) as error:
    evaluate.check_own_eval_data(model, None)
  assert str(error.value) == (f'pretrained model {NAME} was trained on twelve generated test '
                              'files, which does not ship with it: pass --eval_dir=FOLDER '
                              '(held-out MIDI files to score on)')


def test_the_studio_names_a_pretrained_model_and_refuses_its_missing_data(exported):
  from musicvae_jax.studio.engine import Studio, StudioError
  root, *_ = exported
  studio = Studio(TrainedModel.from_pretrained(NAME, registry=root / 'registry'), '')
  assert studio.info()['pretrained'] == NAME
  (item,) = studio.sample(1, 0.5, 0)
  recipe = studio.recipe(item)
  assert recipe['pretrained'] == NAME and f'--model={NAME} --mode=sample' in recipe['cli']
  assert f"TrainedModel.from_pretrained('{NAME}')" in recipe['python']
  with pytest.raises(StudioError, match='which does not ship with it: map a folder of MIDI files'):
    studio.build_map('')


def test_the_card_statistics_are_reproducible(exported):
  root, _, _, card = exported
  model = TrainedModel.from_pretrained(NAME, registry=root / 'registry')
  want = card['sample_statistics']
  found = stats.sample_statistics(model, want['n'], want['seed'], want['temperature'])
  assert stats.differences(want, found) == []


# -- the models that ship ------------------------------------------------------------------------

def test_the_shipped_registry_is_consistent():
  """Every folder in musicvae_jax/pretrained/ is a whole model with its human
  card, and setup.cfg ships them (an empty registry passes, by name)."""
  folders = sorted(p for p in pretrained.PACKAGE_DIR.iterdir()
                   if p.is_dir() and p.name != '__pycache__')
  assert [p.name for p in folders] == SHIPPED
  for folder in folders:
    assert sorted(p.name for p in folder.iterdir()) == sorted(files.FILES), folder
    card = files.read_card(folder)
    assert card['name'] == folder.name and set(files.CARD_KEYS) <= set(card)
    assert (REPO / 'docs' / 'pretrained' / f'{folder.name}.md').is_file()
  setup = configparser.ConfigParser()
  setup.read(REPO / 'setup.cfg')
  data = setup['options.package_data']['musicvae_jax.pretrained']
  assert {p.strip() for p in data.split(',')} == {'*/*.json', '*/*.msgpack'}


@pytest.mark.parametrize('name', SHIPPED or ['(none shipped yet)'])
def test_a_shipped_model_decodes_as_its_card_says(name):
  if not SHIPPED:   # nothing ships yet: the registry must be empty, not unreadable
    assert pretrained.list_pretrained(pretrained.PACKAGE_DIR) == []
    return
  folder = pretrained.PACKAGE_DIR / name
  assert (folder / files.PARAMS).stat().st_size < MAX_PARAMS_BYTES
  model = TrainedModel.from_pretrained(name, registry=pretrained.PACKAGE_DIR)
  want = model.card['sample_statistics']
  found = stats.sample_statistics(model, want['n'], want['seed'], want['temperature'])
  assert found['note_density'] > 0 and found['silent_share'] < 0.5, found   # not silence
  assert stats.differences(want, found) == [], found
