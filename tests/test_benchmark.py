"""Smoke test of scripts/benchmark.py at tiny sizes (no timing assertions)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from musicvae_jax import config_base

import scripts_as_modules

SCRIPT = Path(__file__).resolve().parents[1] / 'scripts' / 'benchmark.py'


def _load():
  return scripts_as_modules.load(SCRIPT.name)


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


# ------------------------------------------------------ suite (issue 17) --
def test_suite_on_tiny_configs_writes_json_and_table(tmp_path):
  """A token config, a GrooVAE config and a failing entry, in this process."""
  bench = _load()
  configs = bench.suite_config_names(
      'mel_2bar.py:tiny,groovae_2bar_humanize:tiny,mel_2bar.py:no_such_variant')
  suite = bench.run_suite(configs, (2,), latency_configs=['mel_2bar.py:tiny'],
                          isolate=False, out_dir=tmp_path, log=lambda *a, **k: None,
                          steps=1, windows=1, warmup=1, matmul_n=64,
                          latency_batches=(1, 2), latency_repeats=2)
  saved = json.loads((tmp_path / 'suite.json').read_text())
  table = (tmp_path / 'suite.md').read_text()
  assert json.loads(json.dumps(suite, default=str)) == saved
  assert [e['config'] for e in saved['train']] == configs
  token, groove, failed = saved['train']
  for entry in (token, groove):
    tr = entry['result']
    for key in ('magenta_name', 'num_params', 'batch_size', 'compute_dtype',
                'steps_per_second', 'sequences_per_second', 'flops_analytic',
                'achieved_flops_per_second', 'fraction_of_matmul_peak', 'mfu',
                'xla_memory_analysis', 'memory', 'lstm_wavefront'):
      assert key in tr, key
    assert tr['batch_size'] == 2 and tr['sequences_per_second'] > 0
  assert token['result']['flops_analytic']['train_step'] > 0
  assert token['result']['mfu'] > 0          # CPU: against the measured peak
  assert groove['result']['flops_analytic'] is None     # n/a, not invented
  assert groove['result']['mfu'] is None
  assert 'no_such_variant' in failed['error'] and 'result' not in failed
  assert set(saved['matmul_peak']) == {'float32'}
  assert 'measured float32 matmul peak' in saved['mfu_peak']['float32']['what']
  (latency,) = saved['latency']
  rows = latency['result']['batches']
  assert [r['batch_size'] for r in rows] == [1, 2]
  for row in rows:
    assert row['encode_seconds'] > 0 and row['decode_greedy_seconds'] > 0
    assert row['encode_decode_sample_seconds'] > 0
    assert row['recompiled'] is False and row['compilations_in_timed_calls'] == 0
  assert latency['result']['recompiled'] is False
  assert 'groovae_2bar_humanize' in table and 'n/a' in table
  assert 'error: ValueError' in table and '| recompiled |' in table
  assert table.count('| mel_2bar.py:tiny | cat-mel_2bar_small |') == 3  # train + 2 latency


def test_trained_model_does_not_recompile_for_the_same_shapes():
  bench = _load()
  trained = bench.fresh_trained_model(config_base.load_config_file('mel_2bar.py:tiny'))
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, trained.spec.output_depth, (3, trained.seq_len, 1))
  z = rng.standard_normal((3, trained.config.z_size)).astype(np.float32)
  trained.encode_tensors(tokens)
  trained.decode_to_tensors(z, temperature=0.5)
  sizes = bench.jit_cache_sizes(trained)
  assert sizes['_encode_fn'] == 1 and sizes['_sample_fn'] == 1
  with bench.CompileCounter() as compiles:
    for seed in range(2):
      trained.encode_tensors(tokens)
      trained.decode_to_tensors(z, temperature=1.0, seed=seed)
  assert compiles.count == 0
  trained.encode_tensors(tokens[:2])  # batch 2: a new bucket, one more entry
  assert bench.jit_cache_sizes(trained)['_encode_fn'] == 2
  trained.decode_to_tensors(np.concatenate([z, z[:1]]))  # batch 4: the same bucket (4) as batch 3
  assert bench.jit_cache_sizes(trained) == {**sizes, '_encode_fn': 2}


def test_device_peak_table_and_config_names():
  bench = _load()
  gpu = {'platform': 'gpu', 'device': 'NVIDIA H100 80GB HBM3'}
  assert bench.device_peak(gpu, 'float32', {})[0] == 989e12
  assert bench.device_peak({'platform': 'gpu', 'device': 'NVIDIA H100 PCIe'},
                           'bfloat16', {})[0] == 756e12
  assert bench.device_peak({'platform': 'tpu', 'device': 'TPU v5 lite'},
                           'bfloat16', {})[0] == 197e12
  peak, what = bench.device_peak({'platform': 'gpu', 'device': 'Mystery'}, 'bfloat16', {})
  assert peak is None and '--peak_tflops' in what
  assert bench.device_peak(gpu, 'bfloat16', {}, peak_tflops=100)[0] == 100e12
  cpu = {'platform': 'cpu', 'device': 'cpu'}
  assert bench.device_peak(cpu, 'bfloat16', {'bfloat16': {'flops_per_second': 5.0}})[0] == 5.0
  names = bench.suite_config_names()
  assert 'mel_2bar.py' in names and 'groovae_2bar_humanize.py' in names
  assert bench.suite_config_names('hier:tiny, mel_2bar.py') == ['hier.py:tiny', 'mel_2bar.py']
  with pytest.raises(ValueError, match='no_such.py'):
    bench.suite_config_names('no_such')


def test_analytic_flops_exist_only_where_counted():
  bench = _load()
  load = config_base.load_config_file
  for name in ('mel_2bar.py', 'mel_2bar_chords.py', 'hier.py', 'flat_16bar.py'):
    assert bench.analytic_flops_unsupported(load(name)) is None, name
  for name, why in (('groovae_2bar_humanize.py', 'groove'), ('nade_drums_2bar.py', 'nade'),
                    ('hier_mel_16bar.py', 'hierarchical encoder'),
                    ('trio_16bar.py', 'split decoder')):
    assert why in bench.analytic_flops_unsupported(load(name)), name


def test_accelerator_script_is_valid_bash():
  script = SCRIPT.with_name('accelerator_benchmark.sh')
  subprocess.run(['bash', '-n', str(script)], check=True)


def test_isolated_entries_record_errors_and_killed_workers(tmp_path, monkeypatch):
  bench = _load()
  entry = {'kind': 'train', 'config': 'mel_2bar.py:no_such_variant', 'batch': 2}
  done = bench.run_entry_isolated(entry, bench.suite_options(), tmp_path)
  assert "no variant 'no_such_variant'" in done['error']
  assert done['config'] == entry['config']
  killer = tmp_path / 'killed.sh'   # a worker killed as the kernel's OOM killer would
  killer.write_text('#!/bin/sh\necho allocating\nkill -9 $$\n')
  killer.chmod(0o755)
  monkeypatch.setattr(bench.sys, 'executable', str(killer))
  done = bench.run_entry_isolated(entry, bench.suite_options(), tmp_path)
  assert done['error'].startswith('worker killed by signal 9') and 'allocating' in done['error']
  assert list(tmp_path.iterdir()) == [killer]   # no job files left behind


def _load_script(name):
  return scripts_as_modules.load(name)


def test_ab_overrides_and_memory_only_variants(capsys):
  ab = _load_script('benchmark_ab.py')
  assert ab.parse_overrides('a=1,b=(2, 3),c=states,d=True') == {
      'a': 1, 'b': (2, 3), 'c': 'states', 'd': True}
  assert ab.parse_overrides('') == {}
  _, plain = ab.build('hier.py:tiny', 2, {}, memory_only=True)
  _, states = ab.build('hier.py:tiny', 2, {'lstm_save': 'states'},
                       memory_only=True)
  assert plain > 0 and states > 0


def test_loop_limit_reports_a_rate():
  limits = _load_script('benchmark_limits.py')
  assert limits.loop_rate(4, 8, 32, steps=3, repeats=1) > 0
  assert limits.loop_rate(4, 32, 8, steps=3, repeats=1) > 0   # N < K tiles
