"""Fault injection: kills, damaged checkpoints, two writers, a full disk and
bad command-line input, each followed by the recovery a person relies on.

Every injected fault is counted (injected / recovered / lost) in
`<pytest basetemp>/fault_counts.jsonl`; the run's terminal summary adds them
up (tests/conftest.py). Training subprocesses share a persistent JAX
compilation cache so that only the first one compiles.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from musicvae_jax import checkpoints, config_base, config_check, workdir_lock
from test_train_smoke import write_melodies

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / 'tests' / '_fault_worker.py'
SEED = 15


def count_faults(tmp_path_factory, name, injected, recovered, **extra):
  base = tmp_path_factory.getbasetemp()
  root = base.parent if base.name.startswith('popen-gw') else base
  entry = dict(test=name, injected=injected, recovered=recovered,
               lost=injected - recovered, **extra)
  with open(root / 'fault_counts.jsonl', 'a') as f:
    f.write(json.dumps(entry) + '\n')


@pytest.fixture(scope='session')
def env(tmp_path_factory):
  cache = tmp_path_factory.mktemp('jax_compile_cache')
  out = dict(os.environ, JAX_PLATFORMS='cpu', JAX_COMPILATION_CACHE_DIR=str(cache),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
             PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))
  out.pop('MUSICVAE_VERBOSE', None)
  return out


@pytest.fixture(scope='session')
def music(tmp_path_factory):
  root = tmp_path_factory.mktemp('fault_music')
  write_melodies(root / 'midi', count=4, bars=6)
  return root / 'midi', root / 'cache'


def run(args, env, timeout=600, **kw):
  return subprocess.run([sys.executable] + [str(a) for a in args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=timeout, **kw)


def train_cli(env, workdir, music, *overrides):
  data, cache = music
  return run(['-m', 'musicvae_jax.train', '--config=configs/mel_2bar.py:tiny',
              f'--workdir={workdir}', f'--config.train_dir={data}',
              f'--config.cache_dir={cache}', '--config.num_workers=1',
              '--config.eval_fraction=0.25', *overrides], env)


def assert_one_error_line(result, *needles):
  """Exit code 1, stderr ends with one `error:` line naming `needles`, no traceback."""
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1, result.stderr[-3000:]
  assert lines and lines[-1].startswith('error: '), result.stderr[-3000:]
  assert 'Traceback' not in result.stderr, result.stderr[:3000]
  for needle in needles:
    assert needle in lines[-1], lines[-1]
  return lines[-1]


def worker(env, workdir, music, num_steps, plan=None):
  data, cache = music
  args = [WORKER, workdir, data, cache, num_steps] + ([plan] if plan else [])
  return run(args, env)


def final_of(result):
  line = [l for l in result.stdout.splitlines() if l.startswith('FINAL ')]
  assert line, result.stderr[-3000:]
  return line[-1]


# -- SIGKILL at seeded moments, inside saves too; the resumed run is exact --

def test_sigkill_inside_save_and_between_steps_resumes_bit_identical(
    env, music, tmp_path, tmp_path_factory):
  rng = np.random.default_rng(SEED)
  plans = [f'save:{rng.integers(1, 4)}:{rng.uniform(0.0, 0.01):.4f}',
           f'step:{rng.integers(7, 9)}']
  reference = worker(env, tmp_path / 'reference', music, 8)
  assert reference.returncode == 0, reference.stderr[-3000:]

  workdir = tmp_path / 'killed'
  inside_save = 0
  for plan in plans:
    killed = worker(env, workdir, music, 8, plan)
    assert killed.returncode == -signal.SIGKILL, (plan, killed.stderr[-3000:])
    inside_save += any(p.name.endswith('orbax-checkpoint-tmp')
                       for p in (workdir / 'checkpoints').iterdir())
  resumed = worker(env, workdir, music, 8)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resumed from' in resumed.stdout
  same = final_of(resumed) == final_of(reference)
  count_faults(tmp_path_factory, 'sigkill', len(plans), len(plans) if same else 0,
               plans=plans, kills_inside_a_save=inside_save)
  assert same, (final_of(resumed), final_of(reference))

  # The damaged newest checkpoint of this real run: TrainedModel falls back.
  from musicvae_jax.trained_model import TrainedModel
  newest = workdir / 'checkpoints' / '8'
  biggest = max((p for p in newest.rglob('*') if p.is_file()), key=lambda p: p.stat().st_size)
  biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 3])
  model = TrainedModel.from_workdir(workdir)
  assert model.step == 6
  assert [p.name for p in (workdir / 'checkpoints' / 'corrupt').iterdir()] == ['8-truncated']
  count_faults(tmp_path_factory, 'truncated newest (trained run)', 1, 1)

  # Resuming with other model sizes names each field, before any restore.
  from musicvae_jax import trainer
  import _fault_worker  # pylint: disable=import-outside-toplevel
  config = _fault_worker.tiny_config(*music, 10)
  config.z_size, config.learning_rate = 4, 3e-4
  with pytest.raises(config_check.ConfigMismatchError,
                     match=r'z_size: saved 8, new 4') as info:
    trainer.train_and_evaluate(config, workdir)
  assert 'learning_rate' not in str(info.value)
  config.ckpt_path = str(workdir)  # a fresh run from those weights: same check
  with pytest.raises(config_check.ConfigMismatchError,
                     match=rf'ckpt_path {workdir} holds a model with other settings: '
                           r'z_size: saved 8, new 4'):
    trainer.train_and_evaluate(config, tmp_path / 'fresh')
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['2', '4', '6', 'corrupt']

  # generate: garbage config.json and a missing input file, one line each.
  (workdir / 'config.json').write_text('{not json')
  bad = run(['-m', 'musicvae_jax.generate', f'--workdir={workdir}',
             f'--output_dir={tmp_path / "out"}'], env)
  assert_one_error_line(bad, str(workdir / 'config.json'))
  shutil.copy(workdir / 'checkpoints' / '6' / 'config' / 'metadata', workdir / 'config.json')
  missing = run(['-m', 'musicvae_jax.generate', f'--workdir={workdir}', '--mode=reconstruct',
                 f'--input_midi_1={tmp_path / "absent.mid"}',
                 f'--output_dir={tmp_path / "out"}'], env)
  assert_one_error_line(missing, str(tmp_path / 'absent.mid'), 'no such file')
  count_faults(tmp_path_factory, 'generate bad input', 2, 2)


# -- damaged files in the newest checkpoint ---------------------------------

def _damage(folder: Path, how: str) -> None:
  files = sorted((p for p in folder.rglob('*') if p.is_file()), key=lambda p: -p.stat().st_size)
  data_file = next(p for p in files if '/d/' in str(p))
  if how == 'truncate':
    data_file.write_bytes(data_file.read_bytes()[:len(data_file.read_bytes()) // 2])
  elif how == 'delete':
    data_file.unlink()
  elif how == 'garbage':
    for path in files:
      path.write_bytes(np.random.default_rng(SEED).bytes(path.stat().st_size))
  elif how == 'garbage_metadata':
    (folder / 'state' / '_METADATA').write_text('{"tree": garbage')
  elif how == 'no_state':
    shutil.rmtree(folder / 'state')
  elif how == 'garbage_metrics':
    (folder / 'metrics' / 'metrics').write_text('{garbage')


@pytest.mark.parametrize('how', ['truncate', 'delete', 'garbage', 'garbage_metadata',
                                 'no_state', 'garbage_metrics'])
def test_damaged_newest_checkpoint_falls_back(tmp_path, how, tmp_path_factory):
  config = config_base.base_config()
  ckpt = checkpoints.Checkpointer(tmp_path, async_save=False, keep_latest=5)
  saved = {}
  for step in (1, 2, 3):  # random values: the array files do not compress away
    saved[step] = {'w': np.random.default_rng(step).normal(size=(64, 64)).astype(np.float32),
                   'b': np.arange(7) * step}
    ckpt.save(step, saved[step], config, {'batch': step}, eval_loss=float(step))
  ckpt.close()
  _damage(tmp_path / 'checkpoints' / '3', how)

  lines = []
  again = checkpoints.Checkpointer(tmp_path, async_save=False, keep_latest=5,
                                   report=lines.append)
  step, state, data = again.restore_newest_intact(saved[1])
  again.close()
  moved = sorted(p.name for p in (tmp_path / 'checkpoints' / 'corrupt').iterdir())
  if how == 'garbage_metrics':  # the arrays are fine: only the metrics move
    assert step == 3 and moved == ['3-bad-metrics']
  else:
    assert step == 2, lines
    # (all-garbage files: the unreadable metrics are set aside first)
    assert moved and all(m.startswith('3-') for m in moved), moved
    assert any(m != '3-bad-metrics' for m in moved), moved
    assert any('checkpoints/3 cannot be restored' in l for l in lines), lines
  assert np.array_equal(state['w'], saved[step]['w']) and data == {'batch': step}
  assert lines and all('\n' not in l for l in lines)
  count_faults(tmp_path_factory, f'damaged newest: {how}', 1, 1)


def test_no_intact_checkpoint_is_one_message(tmp_path):
  config = config_base.base_config()
  ckpt = checkpoints.Checkpointer(tmp_path, async_save=False)
  state = {'w': np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)}
  for step in (1, 2):
    ckpt.save(step, state, config)
  ckpt.close()
  for step in (1, 2):
    _damage(tmp_path / 'checkpoints' / str(step), 'truncate')
  again = checkpoints.Checkpointer(tmp_path, async_save=False, report=lambda _: None)
  with pytest.raises(checkpoints.CheckpointError,
                     match=r'no checkpoint in .* can be restored: step 2 \(truncated\), '
                           r'step 1 \(truncated\); the damaged ones are in .*corrupt'):
    again.restore_newest_intact(state)
  again.close()
  assert sorted(p.name for p in (tmp_path / 'checkpoints' / 'corrupt').iterdir()) == [
      '1-truncated', '2-truncated']


# -- one writer per workdir --------------------------------------------------

HOLDER = ('import sys, time; from musicvae_jax.workdir_lock import WorkdirLock; '
          'WorkdirLock(sys.argv[1]).acquire(); print("held", flush=True); time.sleep(120)')


def test_second_writer_refuses_and_a_killed_holder_never_blocks(
    env, music, tmp_path, tmp_path_factory):
  workdir = tmp_path / 'run'
  holder = subprocess.Popen([sys.executable, '-c', HOLDER, str(workdir)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(workdir_lock.WorkdirBusyError, match=f'pid {holder.pid} on '):
      workdir_lock.WorkdirLock(workdir).acquire()
    second = train_cli(env, workdir, music)
    assert_one_error_line(second, f'{workdir} is in use by pid {holder.pid}')
    assert not (workdir / 'checkpoints').exists()
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  lock = workdir_lock.WorkdirLock(workdir).acquire()  # stale lock: free again
  assert json.loads((workdir / '.lock.json').read_text())['pid'] == os.getpid()
  lock.release()
  assert not (workdir / '.lock.json').exists()  # the holder's details go with it
  count_faults(tmp_path_factory, 'two writers + killed holder', 2, 2)


# -- full disk during a save ---------------------------------------------------

def test_full_disk_keeps_older_checkpoints(env, music, tmp_path, tmp_path_factory):
  mount = tmp_path / 'small_disk'
  mount.mkdir()
  if os.geteuid() != 0 or shutil.which('mount') is None:
    pytest.skip('mounting a small tmpfs needs root (CI runs tests as root)')
  made = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=900k', 'tmpfs', str(mount)],
                        capture_output=True, text=True)
  if made.returncode:
    pytest.skip(f'cannot mount a tmpfs here: {made.stderr.strip()}')
  try:
    result = train_cli(env, mount / 'run', music, '--config.num_steps=60',
                       '--config.keep_latest=100', '--config.advanced_every_steps=1000')
    line = assert_one_error_line(result, 'no space left on device', str(mount / 'run'))
    ckpt = checkpoints.Checkpointer(mount / 'run', read_only=True, async_save=False)
    kept = ckpt.all_steps()
    assert kept and f'steps: {", ".join(map(str, sorted(kept)))}' in line
    for step in kept:  # every listed checkpoint is complete and restores
      ckpt.manager.restore(step)
    ckpt.close()
  finally:
    subprocess.run(['umount', str(mount)], check=False)
  count_faults(tmp_path_factory, 'full disk', 1, 1, kept=sorted(kept))


# -- bad command-line input: one line each ------------------------------------

def test_cli_bad_input_one_line_each(env, tmp_path, tmp_path_factory):
  fake = tmp_path / 'fake_run'
  (fake / 'checkpoints' / '1').mkdir(parents=True)
  (fake / 'config.json').write_text('garbage')
  cases = {
      'config typo': (['-m', 'musicvae_jax.train', '--config=configs/mel_2bar.py:tiny',
                       f'--workdir={tmp_path / "w"}', '--config.lerning_rate=0.1'],
                      ['--config.lerning_rate', 'Did you mean "learning_rate"']),
      'unknown variant': (['-m', 'musicvae_jax.train', '--config=configs/mel_2bar.py:tinyy',
                           f'--workdir={tmp_path / "w"}'], ['tinyy']),
      'garbage config.json': (['-m', 'musicvae_jax.generate', f'--workdir={fake}',
                               f'--output_dir={tmp_path / "o"}'], [str(fake / 'config.json')]),
      'missing workdir': (['-m', 'musicvae_jax.generate', f'--workdir={tmp_path / "nope"}',
                           f'--output_dir={tmp_path / "o"}'], [str(tmp_path / 'nope')]),
      'preprocess missing folder': (
          ['-m', 'musicvae_jax.preprocess', '--config=configs/mel_2bar.py',
           f'--input_dir={tmp_path / "nope"}', f'--output_dir={tmp_path / "o"}'],
          [str(tmp_path / 'nope')]),
      'convert missing checkpoint': (
          ['-m', 'musicvae_jax.convert_magenta', '--magenta_config=cat-mel_2bar_small',
           f'--checkpoint={tmp_path / "nope.ckpt"}', f'--workdir={tmp_path / "c"}'],
          ['nope.ckpt']),
  }
  procs = {name: subprocess.Popen([sys.executable] + args, cwd=REPO, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
           for name, (args, _) in cases.items()}
  for name, proc in procs.items():
    out, err = proc.communicate(timeout=300)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_one_error_line(result, *cases[name][1])
  verbose = run(cases['config typo'][0], dict(env, MUSICVAE_VERBOSE='1'))
  assert 'Traceback' in verbose.stderr and verbose.returncode == 1
  assert verbose.stderr.strip().splitlines()[-1].startswith('error: --config.lerning_rate')
  count_faults(tmp_path_factory, 'bad CLI input', len(cases), len(cases))


def test_generate_input_errors_name_the_file(tmp_path):
  from musicvae_jax import generate
  import pretty_midi
  with pytest.raises(ValueError, match=f'{tmp_path / "absent.mid"}: no such file'):
    generate._load(str(tmp_path / 'absent.mid'))  # pylint: disable=protected-access
  empty = tmp_path / 'empty.mid'
  midi = pretty_midi.PrettyMIDI()
  midi.instruments.append(pretty_midi.Instrument(0))
  midi.write(str(empty))
  with pytest.raises(ValueError, match=f'{empty}: no notes'):
    generate._load(str(empty))  # pylint: disable=protected-access
