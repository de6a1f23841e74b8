"""The persistent compilation cache: where it lives, its flags, and a second
process reading what the first compiled (a tiny model's decode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# One process: the cache as the flags say, a tiny model's sample, the counts.
_CHILD = r'''
import json, sys
from absl import flags
from musicvae_jax import compile_cache, compile_events
compile_cache.define_flags()
flags.FLAGS(sys.argv)
folder = compile_cache.enable_from_flags()
import jax
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)  # tiny: everything
counter = compile_events.Counter()
from musicvae_jax import config_base, family, steps
from musicvae_jax.trained_model import TrainedModel
config = config_base.load_config_file('configs/mel_2bar.py:tiny')
parts = family.build(config)
params = jax.eval_shape(lambda b: steps.init_params(parts.model, parts.objective,
                                                    jax.random.key(0), b),
                        parts.objective.example_batch(config, 1))
params = jax.tree.map(lambda s: jax.numpy.full(s.shape, 0.01, s.dtype), params)
tokens = TrainedModel(config, params).decode_to_tensors(
    jax.numpy.ones((3, config.z_size)), temperature=0.5)
print(json.dumps({'folder': str(folder) if folder else None, 'compiled': counter.compiled,
                  'from_disk': counter.from_disk, 'tokens': tokens.tolist()}))
'''


def _child(*args, env=None) -> dict:
  result = subprocess.run([sys.executable, '-c', _CHILD, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_default_folder_is_under_the_cache_root(monkeypatch, tmp_path):
  from musicvae_jax import compile_cache, paths
  monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / 'root'))
  assert compile_cache.default_dir() == tmp_path / 'root' / 'xla'


def test_a_second_process_reads_what_the_first_compiled(tmp_path):
  env = {**os.environ, 'MUSICVAE_CACHE_DIR': str(tmp_path / 'root'),
         'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])}
  first = _child(env=env)
  folder = tmp_path / 'root' / 'xla'
  assert first['folder'] == str(folder) and first['from_disk'] == 0
  written = sorted(p.name for p in folder.iterdir())
  assert written, 'nothing was written to the cache'
  second = _child(env=env)
  assert second['compiled'] == first['compiled']          # the same programs ...
  assert 1 <= second['from_disk'] <= len(written)         # ... read back, not compiled
  assert second['tokens'] == first['tokens']
  # --nocompilation_cache: nothing read, nothing written
  off = _child('--nocompilation_cache', env=env)
  assert off['folder'] is None and off['from_disk'] == 0
  assert sorted(p.name for p in folder.iterdir()) == written
  # --compilation_cache_dir: another folder
  other = _child(f'--compilation_cache_dir={tmp_path / "elsewhere"}', env=env)
  assert other['folder'] == str(tmp_path / 'elsewhere') and other['from_disk'] == 0
  assert any((tmp_path / 'elsewhere').iterdir())
