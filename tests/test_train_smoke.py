"""End to end: the real entry point trains on generated MIDI, stops, and a
restart in the same workdir continues from the saved step."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

REPO = Path(__file__).resolve().parents[1]


def write_melodies(folder: Path, count: int = 6, bars: int = 18, seed: int = 0) -> None:
  """Simple 4/4 piano melodies at 120 qpm (a bar = 2 s)."""
  rng = np.random.default_rng(seed)
  folder.mkdir(parents=True, exist_ok=True)
  scale = [60, 62, 64, 65, 67, 69, 71, 72]
  for i in range(count):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    t = 0.0
    while t < bars * 2.0:
      length = float(rng.choice([0.25, 0.5, 1.0]))
      piano.notes.append(pretty_midi.Note(90, int(rng.choice(scale)), t, t + length * 0.9))
      t += length
    pm.instruments.append(piano)
    pm.write(str(folder / f'tune_{i:02d}.mid'))


def run_train(workdir: Path, data: Path, cache: Path, steps: int, config: str):
  cmd = [sys.executable, '-m', 'musicvae_jax.train', f'--config={config}',
         f'--workdir={workdir}', f'--config.train_dir={data}',
         f'--config.cache_dir={cache}', f'--config.num_steps={steps}',
         '--config.num_workers=1', '--config.eval_fraction=0.34']
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=600)


@pytest.mark.parametrize('config', ['configs/mel_2bar.py:tiny', 'configs/hier.py:tiny'])
def test_train_stop_and_resume(tmp_path, config):
  data, workdir, cache = tmp_path / 'midi', tmp_path / 'run', tmp_path / 'cache'
  write_melodies(data)
  first = run_train(workdir, data, cache, 4, config)
  assert first.returncode == 0, first.stderr[-3000:]
  assert 'step 4 [eval]' in first.stdout
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps[-1] == 4
  saved = json.loads((workdir / 'config.json').read_text())
  assert saved['num_steps'] == 4 and saved['train_dir'] == str(data)
  assert list((workdir / 'tensorboard').glob('events.out.tfevents.*'))

  second = run_train(workdir, data, cache, 6, config)
  assert second.returncode == 0, second.stderr[-3000:]
  assert 'resumed from' in second.stdout and 'at step 4' in second.stdout
  assert 'step 6/6' in second.stdout and 'step 2/' not in second.stdout
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps[-1] == 6


def test_bad_config_value_names_the_key(tmp_path):
  data = tmp_path / 'midi'
  write_melodies(data, count=2, bars=4)
  result = run_train(tmp_path / 'run', data, tmp_path / 'cache', 2,
                     'configs/mel_2bar.py:tiny')
  assert result.returncode == 0
  cmd = [sys.executable, '-m', 'musicvae_jax.train', '--config=configs/mel_2bar.py:tiny',
         f'--workdir={tmp_path / "run2"}', '--config.sampling_schedule=sometimes']
  bad = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert bad.returncode != 0
  assert 'config.sampling_schedule' in bad.stderr
