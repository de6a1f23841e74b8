"""Portability: no POSIX-only module on the import path of any command, the
workdir lock works without them, and caches live under one cache root.

The POSIX-only modules (fcntl, termios, pwd, grp, resource) are hidden in a
child interpreter (`sys.modules[name] = None`, so importing one raises
ImportError as on Windows). Each command module is imported in its own process
since their absl flags clash in one.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musicvae_jax import paths

REPO = Path(__file__).resolve().parents[1]
POSIX_ONLY = ('fcntl', 'termios', 'pwd', 'grp', 'resource')
HIDE = (f'import sys\nfor _name in {POSIX_ONLY!r}:\n  sys.modules[_name] = None\n')
LIBRARY = ('musicvae_jax.workdir_lock', 'musicvae_jax.paths', 'musicvae_jax.trained_model',
           'musicvae_jax.trainer', 'musicvae_jax.studio.engine')
COMMANDS = ('musicvae_jax.train', 'musicvae_jax.generate', 'musicvae_jax.preprocess',
            'musicvae_jax.evaluate', 'musicvae_jax.convert_magenta',
            'musicvae_jax.export_magentajs', 'musicvae_jax.download_magenta',
            'musicvae_jax.studio.cli', 'musicvae_jax.studio.reproduce')

# Takes the lock, says so, holds it until told on stdin, releases it.
HOLDER = HIDE + '''
from musicvae_jax.workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1]).acquire()
print('held', flush=True)
sys.stdin.readline()
lock.release()
print('released', flush=True)
'''
# Must be refused while the holder runs, naming it.
SECOND = HIDE + '''
from musicvae_jax.workdir_lock import WorkdirBusyError, WorkdirLock, try_lock
try:
  WorkdirLock(sys.argv[1]).acquire()
except WorkdirBusyError as e:
  print('refused:', e)
assert try_lock(sys.argv[1], 'test') is None
'''


@pytest.fixture(scope='module')
def env():
  env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS='cpu')
  env.pop('MUSICVAE_CACHE_DIR', None)
  return env


def _python(env, code, *args, **kw):
  return subprocess.run([sys.executable, '-c', code, *map(str, args)], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300, **kw)


def _import_hidden(env, modules):
  code = HIDE + ''.join(f'import {m}\n' for m in modules) + (
      f'leaked = [n for n in {POSIX_ONLY!r} if sys.modules.get(n) is not None]\n'
      'assert not leaked, leaked\nprint("ok")\n')
  return subprocess.Popen([sys.executable, '-c', code], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_hiding_works(env):
  done = _python(env, HIDE + 'import fcntl')
  assert done.returncode != 0 and 'ModuleNotFoundError' in done.stderr


def test_library_and_every_command_import_without_posix_modules(env):
  started = time.monotonic()
  groups = [LIBRARY] + [(m,) for m in COMMANDS]
  failed, running = [], []
  for group in groups:  # two at a time: the test machines have 2 cores
    running.append((group, _import_hidden(env, group)))
    if len(running) == 2 or group is groups[-1]:
      for g, proc in running:
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0 or out.strip() != 'ok':
          failed.append(f'{g}: {err.strip().splitlines()[-1:]}')
      running = []
  assert not failed, failed
  print(f'{len(groups)} imports in {time.monotonic() - started:.1f}s')


def test_lock_without_posix_modules_refuses_a_second_process(env, tmp_path):
  workdir = tmp_path / 'run'
  holder = subprocess.Popen([sys.executable, '-c', HOLDER, str(workdir)], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held', holder.stderr.read()
    second = _python(env, SECOND, workdir)
    assert second.returncode == 0, second.stderr
    assert f'refused: {workdir} is in use by pid {holder.pid} on ' in second.stdout
    holder.stdin.write('\n')
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == 'released'
  finally:
    holder.kill()
    holder.wait()
  assert not (workdir / '.lock.json').exists()
  # Free again once released.
  again = _python(env, HIDE + 'from musicvae_jax.workdir_lock import WorkdirLock\n'
                  'WorkdirLock(sys.argv[1]).acquire().release()\nprint("ok")', workdir)
  assert again.returncode == 0 and again.stdout.strip() == 'ok', again.stderr


def test_cache_root_env_then_platform_folder(monkeypatch, tmp_path):
  from musicvae_jax import config_base, input_pipeline
  from musicvae_jax.data import folk_corpus
  import platformdirs
  monkeypatch.delenv(paths.ENV_VAR, raising=False)
  assert paths.cache_root() == Path(platformdirs.user_cache_dir('musicvae_jax', appauthor=False))
  if sys.platform.startswith('linux') and not os.environ.get('XDG_CACHE_HOME'):
    assert paths.cache_root() == Path.home() / '.cache' / 'musicvae_jax'  # nothing moved
  monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / 'c'))
  assert paths.cache_root() == tmp_path / 'c'
  config = config_base.base_config()
  config.cache_dir = ''
  assert input_pipeline.default_cache_dir(config) == tmp_path / 'c'
  assert folk_corpus._default_cache_dir() == tmp_path / 'c'
  config.cache_dir = str(tmp_path / 'own')  # a config's cache_dir still wins
  assert input_pipeline.default_cache_dir(config) == tmp_path / 'own'
