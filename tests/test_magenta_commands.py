"""Magenta's generate command lines, as its README writes them, run with our
modules against `.tar` files built from the shared Magenta fixtures; the same
model-source flags for evaluate and the studio; the conversion cache.

The tars hold `<name>.ckpt.index` and `<name>.ckpt.data-00000-of-00001`, the
layout of Magenta's published checkpoints (its TrainedModel restores the one
`.index` member's prefix). The fixture checkpoints are small (e.g.
cat-mel_2bar_small trained with enc_rnn_size=[128], dec_rnn_size=[64,64],
z_size=32), so `--config=cat-mel_2bar_small` works only because the sizes are
read off the checkpoint. Every command runs in its own process (absl flags);
MUSICVAE_CACHE_DIR points at a temporary folder.
"""

import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import write_midi

REPO = Path(__file__).resolve().parents[1]


def _fixture(shared_dir: Path, name: str) -> tuple[Path, str]:
  folder = shared_dir / 'fixtures' / 'magenta' / name
  if not (folder / 'checkpoint_name.txt').is_file():
    pytest.skip(f'no Magenta fixture at {folder}')
  return folder, (folder / 'checkpoint_name.txt').read_text().strip()


def _magenta_files(shared_dir: Path, name: str, folder: Path) -> Path:
  """The fixture's checkpoint renamed as Magenta publishes it:
  `folder/<name>.ckpt.index` and `.ckpt.data-00000-of-00001`; returns the prefix."""
  source, prefix = _fixture(shared_dir, name)
  folder.mkdir(parents=True, exist_ok=True)
  for part in ('index', 'data-00000-of-00001'):
    (folder / f'{name}.ckpt.{part}').write_bytes((source / f'{prefix}.{part}').read_bytes())
  return folder / f'{name}.ckpt'


def _magenta_tar(shared_dir: Path, name: str, root: Path) -> Path:
  prefix = _magenta_files(shared_dir, name, root / f'{name}_files')
  archive = root / f'{name}.tar'
  with tarfile.open(archive, 'w') as tar:
    for part in ('index', 'data-00000-of-00001'):
      tar.add(f'{prefix}.{part}', arcname=f'{name}.ckpt.{part}')
  return archive


@pytest.fixture(scope='module')
def root(shared_dir, tmp_path_factory):
  """A folder with cat-mel_2bar_small.tar, hierdec-mel_16bar.tar, two 2-bar
  melodies (1.mid, 2.mid) and the cache (cache/)."""
  root = tmp_path_factory.mktemp('magenta_commands')
  for name in ('cat-mel_2bar_small', 'hierdec-mel_16bar'):
    _magenta_tar(shared_dir, name, root)
  write_midi(root / '1.mid', [(60 + i % 5, i * 0.25, i * 0.25 + 0.2) for i in range(16)])
  write_midi(root / '2.mid', [(72 - i % 7, i * 0.25, i * 0.25 + 0.2) for i in range(16)])
  return root


def _run(root: Path, module: str, *args, timeout: int = 300):
  env = dict(os.environ, MUSICVAE_CACHE_DIR=str(root / 'cache'), JAX_PLATFORMS='cpu')
  env.pop('MUSICVAE_VERBOSE', None)
  return subprocess.run([sys.executable, '-m', module, *map(str, args)], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=timeout)


def _generate(root: Path, *args):
  result = _run(root, 'musicvae_jax.generate', *args)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout.strip().splitlines()


def _error_line(result) -> str:
  """The one `error:` line of a failed command (exit 1, no traceback)."""
  assert result.returncode == 1, result.stdout[-1000:] + result.stderr[-2000:]
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert lines and lines[-1].startswith('error: '), result.stderr[-2000:]
  return lines[-1]


def _entries(root: Path) -> list[Path]:
  return sorted(p for p in (root / 'cache' / 'magenta_checkpoints').iterdir() if p.is_dir())


# -- Magenta's README command lines ---------------------------------------------------------

def test_readme_sample_converts_once_and_interpolate_reuses(root):
  out = root / 'generated'
  # music_vae/README.md, "Sample", with our module in place of music_vae_generate.
  lines = _generate(root, '--config=cat-mel_2bar_small',
                    f'--checkpoint_file={root / "cat-mel_2bar_small.tar"}',
                    '--mode=sample', '--num_outputs=5', f'--output_dir={out}')
  [entry] = _entries(root)
  assert lines[0].startswith(f'converted {root / "cat-mel_2bar_small.tar"} into {entry}')
  assert entry.name.startswith('cat-mel_2bar_small-') and len(entry.name) == len(
      'cat-mel_2bar_small-') + 16
  assert len(list(out.glob('sample_*.mid'))) == 5 and (out / 'index.html').is_file()
  stamp = (entry / 'config.json').stat().st_mtime_ns
  # "Interpolate", with the flags of Magenta's generate script it does not show.
  interp = root / 'interp'
  lines = _generate(root, '--config=cat-mel_2bar_small',
                    f'--checkpoint_file={root / "cat-mel_2bar_small.tar"}',
                    '--mode=interpolate', '--num_outputs=5', f'--input_midi_1={root / "1.mid"}',
                    f'--input_midi_2={root / "2.mid"}', f'--output_dir={interp}',
                    '--temperature=0.5', '--max_batch_size=8')
  assert lines[0] == (f'reused the conversion of {root / "cat-mel_2bar_small.tar"} '
                      f'in {entry}')
  assert _entries(root) == [entry] and (entry / 'config.json').stat().st_mtime_ns == stamp
  assert len(list(interp.glob('interp_*.mid'))) == 5
  assert (interp / 'interpolation.png').is_file()


def test_hierdec_16bar_samples_through_checkpoint_file(root):
  out = root / 'hierdec'
  lines = _generate(root, '--config=hierdec-mel_16bar',
                    f'--checkpoint_file={root / "hierdec-mel_16bar.tar"}',
                    '--mode=sample', '--num_outputs=2', f'--output_dir={out}')
  assert lines[0].startswith('converted ') and 'hierdec-mel_16bar-' in lines[0]
  assert lines[-1].startswith('wrote 2 outputs')
  assert len(list(out.glob('sample_*.mid'))) == 2


def test_evaluate_reads_a_ckpt_prefix(root):
  """evaluate with --checkpoint_file=X.ckpt (an extracted tar, as in the
  README's interpolate line) on a tiny eval folder."""
  eval_dir = root / 'eval'
  eval_dir.mkdir()
  for name in ('1.mid', '2.mid'):
    (eval_dir / name).write_bytes((root / name).read_bytes())
  prefix = root / 'cat-mel_2bar_small_files' / 'cat-mel_2bar_small.ckpt'
  output = root / 'evaluate.json'
  result = _run(root, 'musicvae_jax.evaluate', '--config=cat-mel_2bar_small',
                f'--checkpoint_file={prefix}', f'--eval_dir={eval_dir}', '--num_samples_k=2',
                '--seeds=1', '--batch_size=2', f'--output={output}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.splitlines()[0].startswith(f'converted {prefix} into ')
  report = json.loads(output.read_text())
  assert report['windows'] == 2 and report['model']['z_size'] == 32
  assert report['model_source'] == {'flags': [f'--checkpoint_file={prefix}'],
                                    'config': 'cat-mel_2bar_small', 'hparams': ''}


# -- one-line errors ------------------------------------------------------------------------

def test_a_size_in_hparams_that_disagrees_is_one_line(root):
  line = _error_line(_run(
      root, 'musicvae_jax.generate', '--config=cat-mel_2bar_small',
      f'--checkpoint_file={root / "cat-mel_2bar_small.tar"}', '--hparams=z_size=64',
      '--mode=sample', f'--output_dir={root / "bad"}'))
  assert line == (f'error: cannot convert --checkpoint_file={root / "cat-mel_2bar_small.tar"} '
                  'as --config=cat-mel_2bar_small: hparams z_size=64 but the checkpoint holds 32')


def test_workdir_and_checkpoint_file_together_is_one_line(root, tmp_path):
  line = _error_line(_run(
      root, 'musicvae_jax.generate', f'--workdir={tmp_path}', '--config=cat-mel_2bar_small',
      f'--checkpoint_file={root / "cat-mel_2bar_small.tar"}', f'--output_dir={tmp_path}'))
  assert line == ('error: give exactly one of --workdir, --run_dir, --checkpoint_file or --model '
                  f'(got --workdir={tmp_path} and --checkpoint_file='
                  f'{root / "cat-mel_2bar_small.tar"})')


def test_resolve_names_the_flag_or_file(root, tmp_path, monkeypatch):
  from musicvae_jax import model_source
  from musicvae_jax.model_source import ModelSourceError, Source
  monkeypatch.setenv('MUSICVAE_CACHE_DIR', str(tmp_path / 'cache'))
  tar = str(root / 'cat-mel_2bar_small.tar')
  cases = {
      Source(): 'give exactly one of --workdir, --run_dir, --checkpoint_file or --model (got none)',
      Source(checkpoint_file=str(tmp_path / 'gone.tar'), config='cat-mel_2bar_small'):
          f'--checkpoint_file={tmp_path / "gone.tar"}: no such file or folder',
      Source(workdir=str(tmp_path / 'gone')): f'--workdir={tmp_path / "gone"}: no such folder',
      Source(checkpoint_file=tar): f'--checkpoint_file={tar} needs --config',
      Source(checkpoint_file=tar, config='cat-mel_2bar_huge'):
          '--config=cat-mel_2bar_huge: not a Magenta config name',
      Source(workdir=str(tmp_path), hparams='z_size=8'): '--hparams goes with --checkpoint_file',
      Source(run_dir=str(tmp_path)): f'--run_dir={tmp_path}: neither a run of ours',
  }
  for source, message in cases.items():
    with pytest.raises(ModelSourceError) as error:
      model_source.resolve(source, log=pytest.fail)
    assert str(error.value).startswith(message), (source, str(error.value))
    assert '\n' not in str(error.value)
  assert not (tmp_path / 'cache').exists()  # nothing converted, nothing half written


def test_run_dir_reads_a_magenta_training_run(shared_dir, tmp_path, monkeypatch):
  """Magenta's --run_dir: RUN_DIR/train holds its checkpoints and a
  `checkpoint` file naming the latest; ours converts that one."""
  from musicvae_jax import checkpoints, model_source
  monkeypatch.setenv('MUSICVAE_CACHE_DIR', str(tmp_path / 'cache'))
  source, prefix = _fixture(shared_dir, 'cat-mel_2bar_small')
  train = tmp_path / 'run' / 'train'
  train.mkdir(parents=True)
  for path in source.glob(f'{prefix}.*'):
    (train / path.name).write_bytes(path.read_bytes())
  (train / 'checkpoint').write_text(f'model_checkpoint_path: "{prefix}"\n')
  said = []
  workdir = model_source.resolve(model_source.Source(
      run_dir=str(tmp_path / 'run'), config='cat-mel_2bar_small'), log=said.append)
  assert said == [f'converted {train} into {workdir} (later runs reuse it)']
  assert checkpoints.load_config(workdir).z_size == 32
  # A run of ours given as --run_dir is used as it is (Magenta's --config noted, unused).
  assert model_source.resolve(model_source.Source(
      run_dir=str(workdir), config='cat-mel_2bar_small'), log=said.append) == workdir
  assert said[-1].startswith(f'note: --run_dir={workdir} is a run of ours')


# -- the cache: atomic entries, one converter at a time ------------------------------------

def test_a_failed_or_killed_conversion_leaves_no_entry(root, tmp_path):
  import filelock

  from musicvae_jax.magenta import converted
  tar = root / 'cat-mel_2bar_small.tar'
  cache = tmp_path / 'cache'
  with pytest.raises(ValueError, match='z_size=64'):
    converted.workdir_for('cat-mel_2bar_small', tar, 'z_size=64', root=cache, log=print)
  assert [p.name for p in cache.iterdir() if not p.name.endswith('.lock')] == []
  # A killed conversion's temporary folder is removed by the next conversion.
  name = (f'{converted.entry_name("cat-mel_2bar_small", tar)}-'
          f'{converted.cache_key("cat-mel_2bar_small", tar)}')
  stale = cache / f'.{name}.x1y2.partial'
  stale.mkdir()
  (stale / 'config.json').write_text('{')
  # Another process holds the entry's lock: this one waits, then converts.
  said = []
  lock = filelock.FileLock(str(cache / name) + '.lock')
  lock.acquire()
  worker = threading.Thread(target=lambda: said.append(converted.workdir_for(
      'cat-mel_2bar_small', tar, root=cache, log=said.append)))
  worker.start()
  for _ in range(100):
    if said:
      break
    worker.join(0.05)
  assert said and said[0].startswith('waiting for another process converting')
  lock.release()
  worker.join(120)
  assert said[-1] == cache / name and said[-2].startswith('converted ')
  assert sorted(p.name for p in cache.iterdir() if not p.name.endswith('.lock')) == [name]


# -- --help of the studio (and generate) lists their own and the model-source flags ----------

def test_help_lists_each_commands_own_flags(root):
  studio = _run(root, 'musicvae_jax.studio', '--help', timeout=120)  # absl: exit code 1
  for flag in ('--port', '--host', '--checkpoint_file', '--config', '--workdir', '--hparams'):
    assert f'  {flag}: ' in studio.stdout, flag
  # The console script (musicvae-studio): another program name, same flags.
  script = subprocess.run(
      [sys.executable, '-c', 'import sys; sys.argv[0] = "musicvae-studio"; '
       'from musicvae_jax.studio.cli import run; run()', '--help'],
      cwd=REPO, capture_output=True, text=True, timeout=120)
  assert '  --port: ' in script.stdout and '  --checkpoint_file: ' in script.stdout
  generate = _run(root, 'musicvae_jax.generate', '--help', timeout=120).stdout
  for flag in ('--checkpoint_file', '--config', '--max_batch_size', '--run_dir', '--log',
               '--input_midi_1', '--input_midi_2', '--num_outputs', '--temperature'):
    assert f'  {flag}: ' in generate, flag


def test_input_midi_is_the_old_name_of_input_midi_1(tmp_path):
  from musicvae_jax import generate
  one = str(tmp_path / 'a.mid')
  assert generate._groove_input('humanize', one, '') == one
  assert generate._groove_input('humanize', '', one) == one
  assert generate._groove_input('drumify', one, one) == one
  with pytest.raises(ValueError, match='--input_midi is the old name of --input_midi_1'):
    generate._groove_input('humanize', one, str(tmp_path / 'b.mid'))
  with pytest.raises(ValueError, match='--mode=drumify needs --input_midi_1'):
    generate._groove_input('drumify', '', '')
