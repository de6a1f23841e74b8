"""`--config=` names: files, shipped config names, Magenta names; the configs
ship in the wheel and work from any directory after a non-editable install."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from musicvae_jax import config_files, config_flag
from musicvae_jax.magenta import convert

REPO = Path(__file__).resolve().parents[1]


def test_every_declared_variant_loads_and_the_first_is_the_default():
  for stem in config_files.names():
    path = config_files.config_dir() / f'{stem}.py'
    _, variants = config_files.describe(path)
    assert variants, f'{stem}: no VARIANTS'
    module = config_files.load_module(path)
    default = module.get_config()
    first = config_files.load(f'{stem}:{next(iter(variants))}')
    assert default.to_dict() == first.to_dict(), stem
    for variant in variants:
      config_files.load(f'{stem}:{variant}')
    with pytest.raises(ValueError, match='no variant'):
      module.get_config('not_a_variant')


@pytest.mark.parametrize('spec', ['configs/mel_2bar.py:cpu', 'mel_2bar.py:cpu', 'mel_2bar:cpu'])
def test_file_path_and_bare_name_are_the_same_config(spec, monkeypatch):
  monkeypatch.chdir(REPO)
  assert config_files.load(spec).to_dict() == config_files.load(
      str(REPO / 'configs/mel_2bar.py:cpu')).to_dict()


def test_magenta_names_resolve_to_their_shipped_config():
  for magenta_name, spec in convert.magenta_configs().items():
    resolved = config_flag.resolve(magenta_name)
    assert Path(resolved.partition(':')[0]).parent == config_files.config_dir()
    assert config_files.load(resolved).to_dict() == config_files.load(spec).to_dict()
  config = config_files.load(config_flag.resolve('cat-mel_2bar_big'))
  assert config.magenta_name == 'cat-mel_2bar_big'


def test_unknown_name_is_one_line_naming_the_choices():
  with pytest.raises(ValueError) as error:
    config_flag.resolve('mel_2bars')
  text = str(error.value)
  assert '\n' not in text and "'mel_2bars' not found" in text
  assert 'mel_2bar,' in text and 'cat-mel_2bar_small' in text


def test_train_help_lists_configs_variants_and_magenta_names():
  out = subprocess.run([sys.executable, '-m', 'musicvae_jax.train', '--help'],
                       capture_output=True, text=True, timeout=120, cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
  assert out.returncode == 0, out.stderr
  for stem in config_files.names():
    assert f'\n  {stem}  ' in out.stdout
  assert ':cpu ' in out.stdout and ':tiny ' in out.stdout
  assert 'cat-mel_2bar_small' in out.stdout and 'hierdec-mel_16bar' in out.stdout
  assert '--config:' in out.stdout and '--workdir:' in out.stdout


def _copy_source(destination: Path) -> Path:
  """The files a wheel is built from (not the working tree's build/ leftovers)."""
  source = destination / 'src'
  for name in ('musicvae_jax', 'configs'):
    shutil.copytree(REPO / name, source / name,
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
  for name in ('setup.py', 'setup.cfg', 'pyproject.toml', 'README.md'):
    shutil.copy(REPO / name, source / name)
  return source


@pytest.fixture(scope='module')
def installed_wheel(tmp_path_factory):
  """A wheel built from the tree, installed (no deps) into a folder of its own."""
  root = tmp_path_factory.mktemp('wheel')
  built = subprocess.run(
      [sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', str(root / 'dist'),
       str(_copy_source(root))], capture_output=True, text=True, timeout=600)
  if built.returncode != 0:
    if 'Could not find a version' in built.stderr or 'NewConnectionError' in built.stderr:
      pytest.skip(f'cannot fetch the build backend: {built.stderr.strip()[-200:]}')
    raise AssertionError(built.stderr)
  wheel = next((root / 'dist').glob('musicvae_jax-*.whl'))
  with zipfile.ZipFile(wheel) as archive:
    shipped = {n for n in archive.namelist() if n.startswith('musicvae_jax/configs/')}
  assert {f'musicvae_jax/configs/{s}.py' for s in config_files.names()} <= shipped
  target = root / 'site'
  subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target',
                  str(target), str(wheel)], check=True, timeout=600)
  return target


def _run_installed(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
  env = dict(os.environ, PYTHONPATH=str(target), JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=600)


def test_wheel_configs_work_from_any_directory(installed_wheel, tmp_path, make_midi):
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  where = _run_installed(installed_wheel, elsewhere, '-c', (
      'import musicvae_jax, sys\n'
      'from musicvae_jax import config_files, config_flag\n'
      'print(musicvae_jax.__file__)\n'
      'print(config_files.config_dir())\n'
      'print(config_flag.resolve("cat-mel_2bar_big"))\n'
      'print(config_files.load("hier:cpu").magenta_name)\n'))
  assert where.returncode == 0, where.stderr
  module_file, config_dir, magenta, hier = where.stdout.split()
  assert Path(module_file).is_relative_to(installed_wheel)
  assert Path(config_dir) == installed_wheel / 'musicvae_jax' / 'configs'
  assert magenta.startswith(config_dir) and magenta.endswith('mel_2bar.py:big')
  assert hier == 'hierdec-mel_16bar'
  # The shipped pretrained models are in the wheel and load from it, offline.
  shipped = sorted(d.name for d in (REPO / 'musicvae_jax' / 'pretrained').iterdir()
                   if (d / 'params.msgpack').is_file())
  models = _run_installed(installed_wheel, elsewhere, '-c', (
      'import musicvae_jax\n'
      'from musicvae_jax.trained_model import TrainedModel\n'
      'for entry in musicvae_jax.list_pretrained():\n'
      '  model = TrainedModel.from_pretrained(entry.name)\n'
      '  notes = len(model.sample(1, temperature=0.5, seed=0)[0].notes)\n'
      '  print(entry.name, entry.folder, notes)\n'))
  assert models.returncode == 0, models.stderr[-2000:]
  rows = [line.split() for line in models.stdout.splitlines()]
  assert [r[0] for r in rows] == shipped and shipped
  for name, folder, notes in rows:
    assert Path(folder).is_relative_to(installed_wheel) and int(notes) > 0, name
  # A run from a bare config name, outside any clone.
  for i in range(3):
    make_midi(f'data/song{i}.mid')
  data = tmp_path / 'data'
  trained = _run_installed(
      installed_wheel, elsewhere, '-m', 'musicvae_jax.train', '--config=mel_2bar:tiny',
      f'--workdir={tmp_path / "run"}', f'--config.train_dir={data}',
      f'--config.eval_dir={data}', f'--config.cache_dir={tmp_path / "cache"}',
      '--config.num_steps=2')
  assert trained.returncode == 0, trained.stderr[-2000:]
  assert (tmp_path / 'run' / 'config.json').is_file()
