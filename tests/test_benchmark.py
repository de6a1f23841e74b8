"""Smoke test of scripts/benchmark.py at tiny sizes (no timing assertions)."""

import importlib.util
import json
from pathlib import Path

from musicvae_jax import config_base

SCRIPT = Path(__file__).resolve().parents[1] / 'scripts' / 'benchmark.py'


def _load():
  spec = importlib.util.spec_from_file_location('benchmark', SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_run_all_tiny_hier_reports_every_field(tmp_path):
  bench = _load()
  config = config_base.load_config_file('hier.py:tiny')
  result = bench.run_all(config, 2, steps_per_window=1, windows=1, warmup=1,
                         matmul_n=64, sample_batch=2,
                         data_dir=str(tmp_path / 'missing'))
  tr = result['train']
  assert tr['steps_per_second'] > 0 and tr['sequences_per_second'] > 0
  assert tr['compile_seconds'] > 0
  assert tr['flops_analytic']['train_step'] > 0
  assert tr['memory']['host_max_rss_bytes'] > 0
  assert 0 < tr['fraction_of_matmul_peak']
  assert result['sample']['bars'] == 16 and result['sample']['samples_per_second'] > 0
  assert set(result['matmul_peak']) == {'float32', 'bfloat16'}
  assert 'skipped' in result['data']
  table = bench.format_table(result)
  assert 'train sequences/s' in table and 'matmul peak float32' in table
  json.dumps(result, default=str)


def test_analytic_flops_of_mel_2bar_small():
  bench = _load()
  config = config_base.load_config_file('mel_2bar.py')
  flops = bench.analytic_flops(config, bench.token_spec(config), 64)
  # Encoder: 2 directions x 32 steps x 64 x (512 x 2048) multiply-adds, plus
  # the mu/sigma heads; the one-hot input is a gather (0 FLOPs).
  enc = 2 * 2 * 32 * 64 * 512 * 2048 + 2 * 2 * 64 * 1024 * 256
  assert flops['encoder_forward'] == enc
  assert flops['train_step'] == 3 * flops['forward']
