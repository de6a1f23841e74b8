"""The start-up line and the accelerator extras."""

import configparser
import importlib.metadata
import types
from pathlib import Path

import numpy as np

from musicvae_jax import startup

REPO = Path(__file__).resolve().parents[1]


def _device(platform, kind):
  return types.SimpleNamespace(platform=platform, device_kind=kind)


def test_summary_line_names_platform_devices_parameters_and_data(monkeypatch):
  monkeypatch.setattr(startup, '_nvidia_present', lambda: False)
  params = {'a': {'kernel': np.zeros((3, 4))}, 'b': np.zeros((1500,))}
  data = types.SimpleNamespace(
      train_windows=np.zeros((1200, 2)), eval_windows=np.zeros((34, 2)),
      train=types.SimpleNamespace(summary={'files_used': 100, 'files_skipped': 3}),
      eval=types.SimpleNamespace(summary={'files_used': 7, 'files_skipped': 1}),
      eval_dir='/eval')
  gpus = [_device('gpu', 'NVIDIA H200')] * 8
  line = startup.summary_line(params, data, devices=gpus)
  assert line == ('platform gpu: 8 devices (NVIDIA H200); 1.5k parameters; '
                  'data: 1,200 train + 34 eval windows from 107 files (4 skipped)')
  assert startup.parameter_count(params) == 1512


def test_cpu_jax_on_a_gpu_machine_says_how_to_install(monkeypatch):
  monkeypatch.setattr(startup, '_nvidia_present', lambda: True)
  line = startup.device_summary([_device('cpu', 'cpu')])
  assert line.startswith('platform cpu: 1 device (cpu)')
  assert "pip install -e '.[cuda12]'" in line


def test_accelerator_extras_exist_in_jaxs_metadata():
  cfg = configparser.ConfigParser()
  cfg.read(REPO / 'setup.cfg')
  extras = cfg['options.extras_require']
  provided = set(importlib.metadata.metadata('jax').get_all('Provides-Extra'))
  for name in ('cuda12', 'cuda13', 'tpu'):
    requirement = extras[name].strip()
    assert requirement.startswith(f'jax[{name}]'), requirement
    assert name in provided, f'jax has no [{name}] extra'
  readme = (REPO / 'README.md').read_text()
  for name in ('cuda12', 'cuda13', 'tpu'):
    assert f"pip install -e '.[{name}]'" in readme
