"""Benchmark suite for issue #8: compile time, training throughput, FLOPs and
utilisation, peak memory, sampling throughput and data-pipeline speed.

  python scripts/benchmark.py --config=configs/mel_2bar.py --batch_size=64
  python scripts/benchmark.py --config=configs/hier.py:cpu --batch_size=64 \
      --dtype=bfloat16 --steps=5 --json=/tmp/hier.json
  python scripts/benchmark.py --config=configs/hier.py --batch_size=64 \
      --config.enc_rnn_sizes='(512,512)' --config.dec_rnn_sizes='(512,512)' \
      --config.conductor_rnn_sizes='(512,512)'

What is measured (all in one process, on `jax.devices()[0]`):

* compile time: `jit(train_step).lower(state, batch).compile()`, wall clock.
* training throughput: after `--warmup` steps, `--windows` windows of
  `--steps` steps each; a window ends with `block_until_ready` on the new
  state, so asynchronous dispatch cannot hide work. Median window.
  One synthetic batch is reused (the data pipeline is measured separately).
* FLOPs per train step, two ways:
  - `xla`: `compiled.cost_analysis()['flops']` of the train step. Whether XLA
    multiplies a while loop's body by its trip count depends on the version,
    so this is reported as-is next to the analytic count.
  - `analytic`: matmul FLOPs only (2 per multiply-add) of the forward pass as
    this implementation runs it (token inputs are row gathers, 0 FLOPs; the
    conductor's zero input is a bias), times 3 for forward + backward
    (the backward of `x @ W` is two matmuls of the same size). Element-wise
    LSTM math, softmax, sampling and Adam are not counted.
  Achieved FLOP/s and the fraction of peak use the analytic count.
* peak matmul FLOP/s: a `[n, n] @ [n, n]` loop (default n = 4096) in float32
  and bfloat16, jitted, timed like the train step. Run after the training
  benchmark so that its buffers do not inflate the training peak memory.
* peak memory: CPU: `ru_maxrss` of the process after the training benchmark
  (includes the Python runtime, the compiler, and JAX's arena);
  accelerators: `memory_stats()['peak_bytes_in_use']`. Also XLA's own
  `compiled.memory_analysis()` (arguments + outputs + temporaries - aliased).
* sampling throughput: `MusicVAE.sample` (free-running, categorical samples)
  at `--sample_batch`; for a hierarchical 16-bar config these are 16-bar
  samples, for a flat config samples of the config's own length.
* data: `scripts/benchmark_data.py:data_throughput(folder)` if that module
  and the folder exist (files/s of the MIDI -> windows pipeline).

Every model family trains here (`family.get(config)`'s model and objective,
a random batch with the objective's keys); the analytic FLOP count exists for MusicVAE's flat
encoder with flat or hierarchical decoders and is n/a for the rest.

The suite (issue 17), one JSON and one markdown table for every config:

  python scripts/benchmark.py --suite --suite_out=runs/suite [--dtype=bfloat16]
  python scripts/benchmark.py --suite --suite_configs=mel_2bar.py:tiny,hier \
      --suite_batches=2 --latency_configs=mel_2bar.py:tiny --suite_out=/tmp/s

* training: each config in `configs/` at its default variant (or the
  `--suite_configs` list, NAME[.py][:VARIANT]) at each `--suite_batches`,
  measured as above, each entry in its own process (own peak memory; an
  error or an out-of-memory kill is a row of the table, the suite goes on).
* MFU: against `--peak_tflops`, else the measured matmul peak of the entry's
  dtype on CPU, else the device's bf16 dense peak (`DEVICE_PEAK_TFLOPS_BF16`).
* inference latency: `TrainedModel` (fresh parameters) `encode_tensors` and
  `decode_to_tensors` (greedy and temperature 1) per `--latency_batches`,
  median wall clock after warm-up, with a count of XLA compilations during
  the timed calls (must be 0: no recompilation for the same shapes).
* `scripts/accelerator_benchmark.sh` runs it on a GPU / TPU in one command.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from musicvae_jax import config_base, family, steps  # noqa: E402
from musicvae_jax.models import MusicVAE, TokenSpec  # noqa: E402

DEFAULT_DATA_DIR = '/work/shared/data/lmd/train'
# LSTM implementation switches (issue 17), recorded where the config has them.
LSTM_OPTIONS = ('lstm_fused_bidirectional', 'lstm_wavefront', 'lstm_save')


# ---------------------------------------------------------------- helpers --
def token_spec(config: ml_collections.ConfigDict) -> TokenSpec:
  """The config's token spec, from its converter when one exists."""
  try:
    from musicvae_jax import input_pipeline
    return input_pipeline.token_spec(family.get(config).make_converter(config))
  except Exception:  # noqa: BLE001 - converters for drums/trio may be missing
    depths = {'melody': (90,), 'drums': (512,), 'trio': (90, 90, 512)}
    return TokenSpec(depths[config.encoding])


def synthetic_batch(config, spec: TokenSpec, batch_size: int, seed: int = 0):
  """A random batch shaped like the pipeline's (full-length windows), with the
  keys of the config's objective (`objectives.py`): random `tokens` and
  int `controls` within their depths, uniform floats (GrooVAE's `inputs`,
  `targets`, `controls`), full `lengths`, unit `weights`."""
  rs = np.random.RandomState(seed)
  steps_ = config_base.sequence_length(config)
  tokens = np.stack([rs.randint(0, d, (batch_size, steps_))
                     for d in spec.part_depths], axis=-1).astype(np.int32)
  try:
    example = family.get(config).objective(config, spec).example_batch(
        config, batch_size)
  except Exception:  # noqa: BLE001 - no converter: MusicVAE's token keys
    example = {}
  out = {'tokens': tokens,
         'lengths': np.full((batch_size,), steps_, np.int32),
         'weights': np.ones((batch_size,), np.float32)}
  for key, value in example.items():
    if key in out and (key != 'tokens' or value.shape == tokens.shape):
      continue
    if key == 'controls' and np.issubdtype(value.dtype, np.integer):
      out[key] = np.stack([rs.randint(0, d, value.shape[:2])
                           for d in spec.control_depths], -1).astype(value.dtype)
    elif np.issubdtype(value.dtype, np.floating):
      out[key] = rs.uniform(size=value.shape).astype(value.dtype)
    else:
      out[key] = value
  if example and 'tokens' not in example:
    del out['tokens']
  return {k: jnp.asarray(v) for k, v in out.items()}


def block(tree) -> None:
  jax.tree.map(lambda x: x.block_until_ready(), tree)


def timed_windows(fn, windows: int) -> list[float]:
  """Seconds of each of `windows` calls of `fn` (which must block)."""
  out = []
  for _ in range(windows):
    start = time.perf_counter()
    fn()
    out.append(time.perf_counter() - start)
  return out


def peak_memory_bytes() -> dict[str, Any]:
  """Peak memory so far: device peak where the backend reports it, else RSS."""
  dev = jax.devices()[0]
  out: dict[str, Any] = {}
  try:
    stats = dev.memory_stats() or {}
  except Exception:  # noqa: BLE001
    stats = {}
  if 'peak_bytes_in_use' in stats:
    out['device_peak_bytes'] = int(stats['peak_bytes_in_use'])
  # ru_maxrss is KiB on Linux, bytes on macOS.
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  out['host_max_rss_bytes'] = int(rss if sys.platform == 'darwin' else rss * 1024)
  return out


def cost_flops(compiled) -> float | None:
  try:
    cost = compiled.cost_analysis()
  except Exception:  # noqa: BLE001
    return None
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  if not cost or 'flops' not in cost:
    return None
  return float(cost['flops'])


def memory_analysis(compiled) -> dict[str, int] | None:
  try:
    m = compiled.memory_analysis()
  except Exception:  # noqa: BLE001
    return None
  if m is None:
    return None
  fields = ('argument_size_in_bytes', 'output_size_in_bytes',
            'temp_size_in_bytes', 'alias_size_in_bytes',
            'generated_code_size_in_bytes')
  out = {f: int(getattr(m, f, 0)) for f in fields}
  out['total_bytes'] = (out['argument_size_in_bytes']
                        + out['output_size_in_bytes']
                        + out['temp_size_in_bytes']
                        - out['alias_size_in_bytes'])
  return out


# ------------------------------------------------------------ FLOP count --
def _lstm_stack_flops(sizes, input_width: int, steps_: int, batch: int,
                      gathered_input: bool) -> float:
  """Forward matmul FLOPs of a stacked LSTM over `steps_ x batch` positions.

  Layer 0's input projection is skipped when it is a gather (tokens) or
  absent (zero input); the rest is `x @ W_in` and `h @ W_rec` per position.
  """
  flops, fan_in = 0.0, input_width
  for k, h in enumerate(sizes):
    positions = steps_ * batch
    if k > 0 or not gathered_input:
      flops += 2 * positions * fan_in * 4 * h
    flops += 2 * positions * h * 4 * h
    fan_in = h
  return flops


def analytic_flops_unsupported(config) -> str | None:
  """Why `analytic_flops` has no count for `config` (None: it has one).

  The count covers MusicVAE's flat or hierarchical (conductor) decoder with
  the flat bidirectional encoder on token inputs (chord controls, like
  tokens, are row gathers: 0 FLOPs); other families say n/a rather than get
  an invented number.
  """
  family = config.get('output_family', 'categorical') or 'categorical'
  if family != 'categorical':
    return f'no analytic count for the {family!r} family'
  if tuple(config.get('encoder_levels', ()) or ()):
    return 'no analytic count for the hierarchical encoder'
  if config.get('split_decoder', False):
    return 'no analytic count for the split decoder'
  return None


def analytic_flops(config, spec: TokenSpec, batch: int) -> dict[str, float]:
  """Matmul FLOPs of one train step (forward x 3), by component."""
  T = config_base.sequence_length(config)
  V = spec.output_depth
  Z = config.z_size
  enc = 0.0
  fan_in = 0
  for k, h in enumerate(config.enc_rnn_sizes):
    per_dir = _lstm_stack_flops([h], fan_in, T, batch, gathered_input=(k == 0))
    enc += 2 * per_dir
    fan_in = 2 * h
  enc += 2 * (2 * batch * fan_in * Z)                        # mu, sigma
  dec_sizes = list(config.dec_rnn_sizes)
  if config.use_hier:
    n = config.n_subsequences
    c_sizes = list(config.conductor_rnn_sizes)
    cond = 2 * batch * Z * 2 * sum(c_sizes)                 # z -> state
    cond += _lstm_stack_flops(c_sizes, config.conductor_embed_size, n, batch,
                              gathered_input=True)           # zero input
    C, N = c_sizes[-1], n * batch
  else:
    cond, C, N = 0.0, Z, batch
  dec = 2 * N * C * 2 * sum(dec_sizes)                      # cond -> state
  dec += 2 * N * C * 4 * dec_sizes[0]                        # cond gates
  dec += _lstm_stack_flops(dec_sizes, 0, T, batch, gathered_input=True)
  dec += 2 * T * batch * dec_sizes[-1] * V                   # logits
  fwd = enc + cond + dec
  return {'encoder_forward': enc, 'conductor_forward': cond,
          'decoder_forward': dec, 'forward': fwd, 'train_step': 3 * fwd}


# ---------------------------------------------------------- benchmarks --
def matmul_peak(dtype: str = 'float32', n: int = 4096, reps: int = 4,
                windows: int = 3) -> dict[str, float]:
  """Peak matmul FLOP/s: `reps` chained [n,n]@[n,n] products per call."""
  dt = jnp.dtype(dtype)
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dt)
  b = (jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
       / np.sqrt(n)).astype(dt)

  @jax.jit
  def chain(x, w):
    for _ in range(reps):
      x = jnp.dot(x, w, preferred_element_type=dt)
    return x

  chain(a, b).block_until_ready()
  times = timed_windows(lambda: chain(a, b).block_until_ready(), windows)
  best = min(times)
  flops = 2.0 * n ** 3 * reps
  return {'n': n, 'dtype': dtype, 'seconds_per_matmul': best / reps,
          'flops_per_second': flops / best,
          'flops_per_second_median': flops / statistics.median(times)}


def train_benchmark(config, batch_size: int, steps_per_window: int = 5,
                    windows: int = 5, warmup: int = 2) -> dict[str, Any]:
  """Compile time, steps/s, sequences/s, FLOPs and memory of the train step."""
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.batch_size = batch_size
  spec = token_spec(config)
  fam = family.get(config)
  model, objective = fam.build_model(config, spec), fam.objective(config, spec)
  batch = synthetic_batch(config, spec, batch_size)
  state = steps.create_train_state(config, model, objective, batch)
  train, _, _ = steps.jit_steps(config, model, objective)

  start = time.perf_counter()
  lowered = train.lower(state, batch)
  lower_s = time.perf_counter() - start
  start = time.perf_counter()
  compiled = lowered.compile()
  compile_s = time.perf_counter() - start

  holder = {'state': state}
  del state

  def run(n):
    s = holder['state']
    metrics = None
    for _ in range(n):
      s, metrics = compiled(s, batch)
    block((s, metrics))
    holder['state'] = s
    return metrics

  start = time.perf_counter()
  metrics = run(max(warmup, 1))
  first_s = time.perf_counter() - start
  times = timed_windows(lambda: run(steps_per_window), windows)
  sec_per_step = statistics.median(times) / steps_per_window
  loss = float(metrics['loss'])
  no_flops = analytic_flops_unsupported(config)
  analytic = None if no_flops else analytic_flops(config, spec, batch_size)
  xla = cost_flops(compiled)
  out = {
      'magenta_name': config.get('magenta_name', '?'),
      'output_family': config.get('output_family', 'categorical') or 'categorical',
      'compute_dtype': config.compute_dtype,
      'scan_unroll': int(config.get('scan_unroll', 1)),
      **{name: config.get(name) for name in LSTM_OPTIONS},
      'batch_size': batch_size,
      'sequence_length': config_base.sequence_length(config),
      'num_params': int(sum(x.size for x in
                             jax.tree.leaves(holder['state'].params))),
      'lower_seconds': lower_s,
      'compile_seconds': compile_s,
      'warmup_seconds': first_s,
      'window_seconds': times,
      'steps_per_window': steps_per_window,
      'steps_per_second': 1.0 / sec_per_step,
      'sequences_per_second': batch_size / sec_per_step,
      'loss_after_warmup_and_windows': loss,
      'flops_analytic': analytic,
      'flops_analytic_unsupported': no_flops,
      'flops_xla_cost_analysis': xla,
      'achieved_flops_per_second': (None if analytic is None
                                    else analytic['train_step'] / sec_per_step),
      'xla_memory_analysis': memory_analysis(compiled),
      'memory': peak_memory_bytes(),
  }
  return out


def sample_benchmark(config, batch_size: int = 64, windows: int = 3,
                     temperature: float = 1.0) -> dict[str, Any]:
  """Free-running samples/s of `MusicVAE.sample` (random parameters)."""
  spec = token_spec(config)
  model = MusicVAE.from_config(config, spec)
  objective = family.get('categorical').objective(config, spec)  # MusicVAE's
  batch = synthetic_batch(config, spec, 2)
  params = steps.init_params(model, objective, jax.random.key(0), batch)
  z = jax.random.normal(jax.random.key(1), (batch_size, config.z_size))

  @jax.jit
  def sample(params, z, key):
    return model.apply({'params': params}, z, temperature,
                       rngs={'sample': key}, method=MusicVAE.sample)[0]

  start = time.perf_counter()
  compiled = sample.lower(params, z, jax.random.key(2)).compile()
  compile_s = time.perf_counter() - start
  compiled(params, z, jax.random.key(2)).block_until_ready()
  keys = iter(jax.random.split(jax.random.key(3), windows))
  times = timed_windows(
      lambda: compiled(params, z, next(keys)).block_until_ready(), windows)
  sec = statistics.median(times)
  bars = config.slice_bars
  return {'batch_size': batch_size, 'bars': bars,
          'steps': config_base.sequence_length(config),
          'what': f'{bars}-bar free-running samples',
          'compile_seconds': compile_s, 'seconds_per_batch': sec,
          'samples_per_second': batch_size / sec}


def data_benchmark(folder: str = DEFAULT_DATA_DIR) -> dict[str, Any]:
  """Files/s of the data pipeline, via scripts/benchmark_data.py if present."""
  module_path = Path(__file__).with_name('benchmark_data.py')
  if not module_path.is_file():
    return {'skipped': f'{module_path.name} not present'}
  if not Path(folder).is_dir():
    return {'skipped': f'data folder {folder} missing'}
  # A plain import (not importlib from a path), so that worker processes can
  # unpickle the module's functions.
  if str(module_path.parent) not in sys.path:
    sys.path.insert(0, str(module_path.parent))
  import benchmark_data as module
  if not hasattr(module, 'data_throughput'):
    return {'skipped': 'benchmark_data.py has no data_throughput()'}
  result = module.data_throughput(folder)
  if not isinstance(result, dict):
    result = {'files_per_second': result}
  if 'files_per_second' not in result:  # benchmark_data.py reports 3 paths
    for key in ('fast_parallel_files_per_s', 'fast_files_per_s',
                'reference_files_per_s'):
      if isinstance(result.get(key), (int, float)):
        result['files_per_second'] = result[key]
        result['files_per_second_path'] = key
        break
  return {'folder': folder, **result}


def machine_info() -> dict[str, Any]:
  dev = jax.devices()[0]
  info = {'platform': dev.platform, 'device': str(dev.device_kind),
          'num_devices': jax.device_count(), 'jax': jax.__version__,
          'python': platform.python_version(), 'cpu_count': os.cpu_count(),
          'xla_flags': os.environ.get('XLA_FLAGS', ''),
          'date': datetime.datetime.now().isoformat(timespec='seconds')}
  try:
    info['load_average'] = os.getloadavg()
  except OSError:
    pass
  try:
    for line in Path('/proc/cpuinfo').read_text().splitlines():
      if line.startswith('model name'):
        info['cpu'] = line.split(':', 1)[1].strip()
        break
  except OSError:
    pass
  return info


def run_all(config, batch_size: int, *, steps_per_window: int = 5,
            windows: int = 5, warmup: int = 2, matmul_n: int = 4096,
            sample_batch: int = 64, data_dir: str | None = DEFAULT_DATA_DIR,
            skip: tuple[str, ...] = ()) -> dict[str, Any]:
  """Every measurement; `skip` may name 'train', 'sample', 'matmul', 'data'."""
  result: dict[str, Any] = {'machine': machine_info(),
                            'config': config.get('magenta_name', '?')}
  if 'train' not in skip:
    result['train'] = train_benchmark(config, batch_size, steps_per_window,
                                      windows, warmup)
  family = config.get('output_family', 'categorical') or 'categorical'
  if 'sample' not in skip and family != 'categorical':
    result['sample'] = {'skipped': f'MusicVAE.sample only, not the {family!r} family'}
  elif 'sample' not in skip:
    try:
      result['sample'] = sample_benchmark(config, sample_batch)
    except Exception as e:  # noqa: BLE001 - e.g. a family without MusicVAE.sample
      result['sample'] = {'skipped': f'error: {type(e).__name__}: {e}'}
  if 'matmul' not in skip:
    result['matmul_peak'] = {dt: matmul_peak(dt, matmul_n)
                             for dt in ('float32', 'bfloat16')}
    if result.get('train', {}).get('achieved_flops_per_second'):
      tr = result['train']
      peak = result['matmul_peak'][tr['compute_dtype']]['flops_per_second']
      tr['fraction_of_matmul_peak'] = tr['achieved_flops_per_second'] / peak
  if 'data' not in skip and data_dir:
    try:
      result['data'] = data_benchmark(data_dir)
    except Exception as e:  # noqa: BLE001 - another engineer's module
      result['data'] = {'skipped': f'error: {type(e).__name__}: {e}'}
  result['machine']['load_average_after'] = os.getloadavg()
  return result


# --------------------------------------------------- inference latency --
BACKEND_COMPILE_EVENT = '/jax/core/compile/backend_compile_duration'


class CompileCounter:
  """Counts XLA backend compilations while active (a `jax.monitoring` listener
  on jax's backend-compile event; cache hits of a jitted function send none).

    with CompileCounter() as compiles:
      ...
    compiles.count
  """

  def __init__(self):
    self.count = 0

  def _listen(self, event, *args, **kwargs):
    del args, kwargs
    if event == BACKEND_COMPILE_EVENT:
      self.count += 1

  def __enter__(self):
    jax.monitoring.register_event_duration_secs_listener(self._listen)
    return self

  def __exit__(self, *exc):
    jax.monitoring.unregister_event_duration_listener(self._listen)


def jit_cache_sizes(trained) -> dict[str, int]:
  """Compiled entries of a TrainedModel's jitted functions (`_cache_size`)."""
  out = {}
  for name in ('_encode_fn', '_sample_fn', '_logits_fn'):
    fn = getattr(trained, name, None)
    if hasattr(fn, '_cache_size'):
      out[name] = int(fn._cache_size())
  return out


def fresh_trained_model(config):
  """The product's `TrainedModel` for `config`, with parameters initialised
  from `config.seed` (no checkpoint)."""
  cls = family.get(config).trained_model_class()
  trained = cls(config, None)
  example = trained.objective.example_batch(config, 1)
  trained.params = steps.init_params(
      trained.model, trained.objective, jax.random.key(config.seed),
      {k: jnp.asarray(v) for k, v in example.items()})
  return trained


def latency_benchmark(config, batches=(1, 2, 4, 8, 16), repeats: int = 10,
                      warmup: int = 1, seed: int = 0) -> dict[str, Any]:
  """Interactive encode + decode latency through `TrainedModel`'s jitted paths.

  Per batch size: `encode_tensors` (tokens -> z, mu, sigma) and
  `decode_to_tensors` (z -> tokens) at temperature 1e-5 (greedy) and 1.0,
  wall clock of each call (they return host arrays, so they block), median
  and min of `repeats` calls after `warmup` calls. Compilations during the
  timed calls are counted (`CompileCounter`) next to the jit cache sizes
  before and after: both must stay unchanged (`recompiled` False).
  """
  from musicvae_jax import batch_buckets, trained_model
  if family.get(config).trained_model_class() is not trained_model.TrainedModel:
    return {'skipped': 'latency is measured for token MusicVAE models '
                       '(TrainedModel) only'}
  trained = fresh_trained_model(config)
  rs = np.random.RandomState(seed)
  rows, compiles_timed = [], 0
  for batch_size in batches:
    data = synthetic_batch(config, trained.spec, batch_size, seed)
    tokens = np.asarray(data['tokens'])
    controls = (np.asarray(data['controls']) if 'controls' in data else None)
    z = rs.standard_normal((batch_size, config.z_size)).astype(np.float32)
    calls = {
        'encode': lambda: trained.encode_tensors(tokens, controls=controls),
        'decode_greedy': lambda: trained.decode_to_tensors(
            z, temperature=1e-5, controls=controls),
        'decode_sample': lambda: trained.decode_to_tensors(
            z, temperature=1.0, controls=controls),
    }
    with CompileCounter() as compiles_warmup:
      for call in calls.values():
        for _ in range(max(warmup, 1)):
          call()
    before = jit_cache_sizes(trained)
    times = {}
    with CompileCounter() as compiles:
      for name, call in calls.items():
        times[name] = timed_windows(call, repeats)
    after = jit_cache_sizes(trained)
    compiles_timed += compiles.count
    row = {'batch_size': batch_size,
           'bucket': [size for _, _, size in batch_buckets.plan(
               batch_size, trained.max_batch, trained.buckets)],
           'compilations_in_warmup': compiles_warmup.count,
           'compilations_in_timed_calls': compiles.count,
           'jit_cache_sizes': after,
           'recompiled': compiles.count > 0 or before != after}
    for name, t in times.items():
      row[f'{name}_seconds'] = statistics.median(t)
      row[f'{name}_seconds_min'] = min(t)
    row['encode_decode_greedy_seconds'] = (row['encode_seconds']
                                           + row['decode_greedy_seconds'])
    row['encode_decode_sample_seconds'] = (row['encode_seconds']
                                           + row['decode_sample_seconds'])
    rows.append(row)
  return {'magenta_name': config.get('magenta_name', '?'),
          'bars': config.slice_bars,
          'steps': config_base.sequence_length(config),
          'compute_dtype': config.compute_dtype,
          'scan_unroll': int(config.get('scan_unroll', 1)),
          **{name: config.get(name) for name in LSTM_OPTIONS},
          'repeats': repeats, 'max_batch': trained.max_batch,
          'batches': rows,
          'compilations_in_timed_calls': compiles_timed,
          'recompiled': any(r['recompiled'] for r in rows)}


# -------------------------------------------------------------- output --
def _g(x: float | None, unit: str = '') -> str:
  if x is None:
    return 'n/a'
  for scale, prefix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
    if abs(x) >= scale:
      return f'{x / scale:.3g} {prefix}{unit}'
  return f'{x:.3g} {unit}'


def format_table(result: dict[str, Any]) -> str:
  rows: list[tuple[str, str]] = []
  m = result['machine']
  rows.append(('machine', f"{m['platform']} {m.get('cpu', m['device'])} "
                          f"({m['cpu_count']} cpus), load {m.get('load_average')}"))
  rows.append(('config', str(result['config'])))
  tr = result.get('train')
  if tr:
    rows += [
        ('dtype / unroll / batch', f"{tr['compute_dtype']} / "
                                   f"{tr['scan_unroll']} / {tr['batch_size']}"),
        ('parameters', f"{tr['num_params']:,}"),
        ('compile time', f"{tr['compile_seconds']:.2f} s "
                         f"(+ lowering {tr['lower_seconds']:.2f} s)"),
        ('train steps/s', f"{tr['steps_per_second']:.3f}"),
        ('train sequences/s', f"{tr['sequences_per_second']:.1f}"),
        ('FLOPs/step analytic (matmuls)',
         _g(tr['flops_analytic']['train_step']) if tr['flops_analytic']
         else f"n/a ({tr['flops_analytic_unsupported']})"),
        ('FLOPs/step XLA cost analysis', _g(tr['flops_xla_cost_analysis'])),
        ('achieved FLOP/s (analytic)', _g(tr['achieved_flops_per_second'], 'FLOP/s')),
    ]
    if 'fraction_of_matmul_peak' in tr:
      rows.append(('fraction of matmul peak',
                   f"{100 * tr['fraction_of_matmul_peak']:.1f} %"))
    mem = tr['memory']
    if 'device_peak_bytes' in mem:
      rows.append(('peak device memory', _g(mem['device_peak_bytes'], 'B')))
    rows.append(('peak host RSS', _g(mem['host_max_rss_bytes'], 'B')))
    if tr['xla_memory_analysis']:
      rows.append(('XLA step memory (args+out+temp)',
                   _g(tr['xla_memory_analysis']['total_bytes'], 'B')))
  if 'sample' in result and 'skipped' in result['sample']:
    rows.append(('sampling', f"skipped: {result['sample']['skipped']}"))
  elif 'sample' in result:
    s = result['sample']
    rows.append((f"sampling ({s['what']}, batch {s['batch_size']})",
                 f"{s['samples_per_second']:.1f} samples/s"))
  for dt, mm in result.get('matmul_peak', {}).items():
    rows.append((f"matmul peak {dt} [{mm['n']}x{mm['n']}]",
                 _g(mm['flops_per_second'], 'FLOP/s')))
  if 'data' in result:
    d = result['data']
    if 'skipped' in d:
      rows.append(('data pipeline', f"skipped: {d['skipped']}"))
    else:
      fps = d.get('files_per_second')
      rows.append(('data pipeline files/s',
                   f'{fps:.1f}' if isinstance(fps, (int, float)) else str(d)))
  width = max(len(k) for k, _ in rows)
  return '\n'.join(f'{k:<{width}}  {v}' for k, v in rows)


# ---------------------------------------------------------------- suite --
# bf16 dense matmul peak in TFLOP/s, by substring of
# `jax.devices()[0].device_kind`; the first match wins (specific names first).
# --peak_tflops overrides it (say, for a device missing here).
DEVICE_PEAK_TFLOPS_BF16 = (
    ('H100 PCIe', 756.0),
    ('H200', 989.0),
    ('H100', 989.0),     # SXM
    ('A100', 312.0),
    ('TPU v5 lite', 197.0),
    ('TPU v5e', 197.0),
    ('TPU v5p', 459.0),
    ('TPU v5', 459.0),
    ('TPU v4', 275.0),
)
CONFIG_DIR = REPO / 'configs'
DEFAULT_LATENCY_CONFIGS = ('mel_2bar.py', 'hier.py')  # a 2-bar and a 16-bar model


def device_peak(machine: dict[str, Any], dtype: str,
                matmul_peaks: dict[str, dict], peak_tflops: float = 0.0):
  """(FLOP/s, description) that MFU is measured against for `dtype`.

  `--peak_tflops` when given; on CPU the measured matmul peak of `dtype`;
  on a GPU / TPU the bf16 dense peak of `DEVICE_PEAK_TFLOPS_BF16`.
  """
  if peak_tflops:
    return peak_tflops * 1e12, f'--peak_tflops={peak_tflops:g}'
  if machine.get('platform') == 'cpu':
    mm = matmul_peaks.get(dtype)
    if mm and 'flops_per_second' in mm:
      return mm['flops_per_second'], f'measured {dtype} matmul peak (CPU)'
    return None, f'no measured {dtype} matmul peak'
  kind = str(machine.get('device', ''))
  for name, tflops in DEVICE_PEAK_TFLOPS_BF16:
    if name.lower() in kind.lower():
      return tflops * 1e12, f'{kind}: bf16 dense peak {tflops:g} TFLOP/s'
  return None, f'{kind}: peak unknown, pass --peak_tflops'


def suite_config_names(selection: str = '') -> list[str]:
  """`configs/*.py` (default variants), or the comma list `selection` of
  names, each `NAME[.py][:VARIANT]`."""
  available = sorted(p.name for p in CONFIG_DIR.glob('*.py')
                     if not p.name.startswith('_'))
  if not selection.strip():
    return available
  out = []
  for item in (s.strip() for s in selection.split(',')):
    if not item:
      continue
    name, _, variant = item.partition(':')
    name = name if name.endswith('.py') else name + '.py'
    if name not in available:
      raise ValueError(f'--suite_configs: {name} is not in {CONFIG_DIR} '
                       f'(choose from {", ".join(available)})')
    out.append(f'{name}:{variant}' if variant else name)
  return out


def _int_list(text) -> tuple[int, ...]:
  if isinstance(text, (list, tuple)):
    return tuple(int(x) for x in text)
  return tuple(int(x) for x in str(text).split(',') if x.strip())


def suite_options(**kw) -> dict[str, Any]:
  """The suite's options with their defaults (the flags of the same names)."""
  opts = {'steps': 5, 'windows': 5, 'warmup': 2, 'matmul_n': 4096,
          'dtype': '', 'unroll': 0, 'peak_tflops': 0.0,
          'latency_batches': (1, 2, 4, 8, 16), 'latency_repeats': 10}
  unknown = set(kw) - set(opts)
  if unknown:
    raise TypeError(f'unknown suite options {sorted(unknown)}')
  opts.update(kw)
  opts['latency_batches'] = _int_list(opts['latency_batches'])
  return opts


def _load_suite_config(name: str, opts: dict[str, Any]):
  config = config_base.load_config_file(str(CONFIG_DIR / name))
  with config.unlocked():
    if opts['dtype']:
      config.compute_dtype = opts['dtype']
    if opts['unroll']:
      config.scan_unroll = opts['unroll']
  return config


def _error_text(e: BaseException) -> str:
  lines = str(e).strip().splitlines()
  first = next((l for l in lines if l.strip()), '')
  return f'{type(e).__name__}: {first}'[:300]


def run_entry(entry: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
  """One suite entry in this process: `kind` 'train' (`config`, `batch`),
  'latency' (`config`) or 'matmul' (`dtype`). An exception (an unknown
  config, out of memory, a compile failure) is recorded in `error`."""
  out = dict(entry)
  try:
    if entry['kind'] == 'matmul':
      out['result'] = matmul_peak(entry['dtype'], opts['matmul_n'])
      out['machine'] = machine_info()
      return out
    config = _load_suite_config(entry['config'], opts)
    out['magenta_name'] = config.get('magenta_name', '?')
    if entry['kind'] == 'train':
      out['result'] = train_benchmark(config, entry['batch'], opts['steps'],
                                      opts['windows'], opts['warmup'])
    elif entry['kind'] == 'latency':
      result = latency_benchmark(config, opts['latency_batches'],
                                 opts['latency_repeats'])
      if 'skipped' in result:
        out['skipped'] = result['skipped']
      else:
        out['result'] = result
    else:
      raise ValueError(f"unknown suite entry kind {entry['kind']!r}")
  except Exception as e:  # noqa: BLE001 - recorded; the suite goes on
    out['error'] = _error_text(e)
  return out


def run_entry_isolated(entry: dict[str, Any], opts: dict[str, Any],
                       folder: Path) -> dict[str, Any]:
  """`run_entry` in a child process (`--suite_entry`), so that each entry has
  its own peak memory and a crash or an out-of-memory kill of one entry is
  recorded rather than ending the suite."""
  import subprocess
  import tempfile
  with tempfile.TemporaryDirectory(dir=folder) as tmp:
    job = Path(tmp) / 'entry.json'
    job.write_text(json.dumps({'entry': entry, 'opts': opts}))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), f'--suite_entry={job}'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = job.with_suffix('.out.json')
    if proc.returncode == 0 and result.is_file():
      return json.loads(result.read_text())
  tail = ' | '.join(proc.stdout.strip().splitlines()[-3:])[-300:]
  why = (f'killed by signal {-proc.returncode} (out of memory?)'
         if proc.returncode < 0 else f'exit status {proc.returncode}')
  return {**entry, 'error': f'worker {why}: {tail}'}


def run_suite(configs: list[str], batches=(64, 512), *,
              latency_configs=DEFAULT_LATENCY_CONFIGS, isolate: bool = True,
              out_dir: str | Path | None = None, log=print,
              **options) -> dict[str, Any]:
  """Every config in `configs` at every batch size, the inference latencies
  of `latency_configs`, and one matmul peak per dtype used; writes
  `suite.json` and `suite.md` into `out_dir` when given."""
  opts = suite_options(**options)
  out_dir = Path(out_dir) if out_dir else None
  if out_dir:
    out_dir.mkdir(parents=True, exist_ok=True)
  work = out_dir or Path.cwd()
  runner = ((lambda e: run_entry_isolated(e, opts, work)) if isolate
            else (lambda e: run_entry(e, opts)))
  entries = [{'kind': 'train', 'config': c, 'batch': int(b)}
             for c in configs for b in _int_list(batches)]
  entries += [{'kind': 'latency', 'config': c} for c in latency_configs]
  results = []
  for entry in entries:
    start = time.perf_counter()
    log(f"suite: {entry['kind']} {entry['config']}"
        + (f" batch {entry['batch']}" if 'batch' in entry else ''), flush=True)
    done = runner(entry)
    done['wall_seconds'] = time.perf_counter() - start
    results.append(done)
    if 'error' in done:
      log(f"  error: {done['error']}", flush=True)
  dtypes = sorted({r['result']['compute_dtype'] for r in results
                   if r.get('result', {}).get('compute_dtype')}
                  | {opts['dtype'] or 'float32'})
  matmul, machine = {}, {}
  for dtype in dtypes:
    done = runner({'kind': 'matmul', 'dtype': dtype})
    matmul[dtype] = done.get('result') or {'error': done.get('error', '?')}
    machine = done.get('machine') or machine
  peaks = {dt: device_peak(machine, dt, matmul, opts['peak_tflops'])
           for dt in dtypes}
  for r in results:
    tr = r.get('result', {})
    if r['kind'] != 'train' or 'compute_dtype' not in tr:
      continue
    achieved = tr.get('achieved_flops_per_second')
    mm = matmul.get(tr['compute_dtype'], {}).get('flops_per_second')
    peak, _ = peaks.get(tr['compute_dtype'], (None, ''))
    tr['fraction_of_matmul_peak'] = achieved / mm if achieved and mm else None
    tr['mfu'] = achieved / peak if achieved and peak else None
  suite = {
      'machine': machine,
      'command': ' '.join(sys.argv),
      'options': {**opts, 'configs': list(configs),
                  'batches': list(_int_list(batches)),
                  'latency_configs': list(latency_configs),
                  'isolate': isolate},
      'matmul_peak': matmul,
      'mfu_peak': {dt: {'flops_per_second': p, 'what': what}
                   for dt, (p, what) in peaks.items()},
      'train': [r for r in results if r['kind'] == 'train'],
      'latency': [r for r in results if r['kind'] == 'latency'],
  }
  if out_dir:
    (out_dir / 'suite.json').write_text(json.dumps(suite, indent=2, default=str))
    (out_dir / 'suite.md').write_text(format_suite(suite))
  return suite


def _pct(x) -> str:
  return 'n/a' if x is None else f'{100 * x:.1f} %'


def _notes(r: dict[str, Any]) -> str:
  if 'error' in r:
    return f"error: {r['error']}"
  if 'skipped' in r:
    return f"skipped: {r['skipped']}"
  tr = r['result']
  notes = [f"compile {tr['compile_seconds']:.1f} s"]
  if tr.get('flops_analytic_unsupported'):
    notes.append(f"FLOPs n/a: {tr['flops_analytic_unsupported']}")
  if tr.get('scan_unroll', 1) != 1:
    notes.append(f"unroll {tr['scan_unroll']}")
  notes += [f'{k}={tr[k]}' for k in LSTM_OPTIONS if tr.get(k) is not None]
  return '; '.join(notes)


def format_suite(suite: dict[str, Any]) -> str:
  """The suite as markdown: a header, the training table, the latency table."""
  m = suite['machine']
  lines = ['# Benchmark suite', '',
           f"Machine: {m.get('platform', '?')} {m.get('cpu', m.get('device', '?'))}"
           f" ({m.get('num_devices', '?')} device(s), {m.get('cpu_count', '?')} cpus),"
           f" jax {m.get('jax', '?')}, {m.get('date', '')}.",
           f"Command: `{suite['command']}`", '']
  for dt, mm in suite['matmul_peak'].items():
    lines.append(f"- measured matmul peak {dt}: "
                 + (_g(mm['flops_per_second'], 'FLOP/s') if 'flops_per_second' in mm
                    else f"error: {mm.get('error')}"))
  for dt, p in suite['mfu_peak'].items():
    lines.append(f"- MFU of {dt} entries against: {p['what']}"
                 + (f" ({_g(p['flops_per_second'], 'FLOP/s')})"
                    if p['flops_per_second'] else ''))
  lines += ['', '| config | magenta name | params | batch | dtype | steps/s | seq/s '
            '| analytic FLOPs/step | achieved FLOP/s | % of matmul peak | MFU '
            '| XLA step memory | device / host peak memory | notes |',
            '|' + '---|' * 14]
  for r in suite['train']:
    tr = r.get('result') or {}
    if not tr:
      lines.append(f"| {r['config']} | {r.get('magenta_name', '?')} | | "
                   f"{r['batch']} | | | | | | | | | | {_notes(r)} |")
      continue
    mem = tr['memory']
    xla = (tr.get('xla_memory_analysis') or {}).get('total_bytes')
    peak_mem = (_g(mem['device_peak_bytes'], 'B') + ' / '
                if 'device_peak_bytes' in mem else '- / ')
    peak_mem += _g(mem['host_max_rss_bytes'], 'B')
    flops = (tr['flops_analytic'] or {}).get('train_step')
    lines.append(
        f"| {r['config']} | {tr['magenta_name']} | {tr['num_params']:,} | "
        f"{tr['batch_size']} | {tr['compute_dtype']} | "
        f"{tr['steps_per_second']:.3g} | {tr['sequences_per_second']:.4g} | "
        f"{_g(flops)} | {_g(tr['achieved_flops_per_second'], 'FLOP/s')} | "
        f"{_pct(tr.get('fraction_of_matmul_peak'))} | {_pct(tr.get('mfu'))} | "
        f"{_g(xla, 'B')} | {peak_mem} | {_notes(r)} |")
  if not suite['latency']:
    return '\n'.join(lines) + '\n'
  lines += ['', 'Inference latency (`TrainedModel`, fresh parameters; median ms '
            'after warm-up; greedy = temperature 1e-5):', '',
            '| config | magenta name | batch | encode ms | decode greedy ms '
            '| decode T=1 ms | encode + decode greedy ms | encode + decode T=1 ms '
            '| recompiled |', '|' + '---|' * 9]
  for r in suite['latency']:
    res = r.get('result')
    if not res:
      lines.append(f"| {r['config']} | {r.get('magenta_name', '?')} | | | | | | | "
                   f"{_notes(r)} |")
      continue
    for row in res['batches']:
      ms = lambda k: f"{1e3 * row[k]:.2f}"  # noqa: E731
      lines.append(
          f"| {r['config']} | {res['magenta_name']} | {row['batch_size']} | "
          f"{ms('encode_seconds')} | {ms('decode_greedy_seconds')} | "
          f"{ms('decode_sample_seconds')} | {ms('encode_decode_greedy_seconds')} | "
          f"{ms('encode_decode_sample_seconds')} | "
          f"{'yes' if row['recompiled'] else 'no'} |")
  return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------- main --
def main(argv) -> None:
  del argv
  from absl import flags
  FLAGS = flags.FLAGS
  if FLAGS.suite_entry:  # a child of run_entry_isolated
    job = Path(FLAGS.suite_entry)
    spec = json.loads(job.read_text())
    done = run_entry(spec['entry'], spec['opts'])
    job.with_suffix('.out.json').write_text(json.dumps(done, default=str))
    return
  if FLAGS.suite:
    options = dict(steps=FLAGS.steps, windows=FLAGS.windows, warmup=FLAGS.warmup,
                   matmul_n=FLAGS.matmul_n, dtype=FLAGS.dtype,
                   unroll=FLAGS.unroll, peak_tflops=FLAGS.peak_tflops,
                   latency_batches=FLAGS.latency_batches,
                   latency_repeats=FLAGS.latency_repeats)
    latency = [c for c in FLAGS.latency_configs.split(',') if c.strip()]
    suite = run_suite(suite_config_names(FLAGS.suite_configs),
                      _int_list(FLAGS.suite_batches),
                      latency_configs=suite_config_names(','.join(latency))
                      if latency else [],
                      isolate=FLAGS.suite_isolate, out_dir=FLAGS.suite_out or None,
                      **options)
    print(format_suite(suite), flush=True)
    if FLAGS.suite_out:
      print(f'wrote {Path(FLAGS.suite_out) / "suite.json"} and suite.md')
    return
  config = FLAGS.config
  if FLAGS.dtype:
    with config.unlocked():
      config.compute_dtype = FLAGS.dtype
  if FLAGS.unroll:
    with config.unlocked():
      config.scan_unroll = FLAGS.unroll
  batch_size = FLAGS.batch_size or config.batch_size
  skip = tuple(s for s in FLAGS.skip.split(',') if s)
  result = run_all(config, batch_size, steps_per_window=FLAGS.steps,
                   windows=FLAGS.windows, warmup=FLAGS.warmup,
                   matmul_n=FLAGS.matmul_n, sample_batch=FLAGS.sample_batch,
                   data_dir=FLAGS.data_dir, skip=skip)
  result['command'] = ' '.join(sys.argv)
  print(format_table(result), flush=True)
  if FLAGS.json:
    Path(FLAGS.json).write_text(json.dumps(result, indent=2, default=str))
    print(f'wrote {FLAGS.json}')


def _define_flags() -> None:
  from absl import flags
  from ml_collections import config_flags
  config_flags.DEFINE_config_file(
      'config', str(REPO / 'configs' / 'mel_2bar.py'),
      'Config file (FILE.py[:VARIANT]); override fields with --config.X=Y.',
      lock_config=False)
  flags.DEFINE_integer('batch_size', 64, 'Batch size (0: the config\'s).')
  flags.DEFINE_string('dtype', '', "Compute dtype override: 'float32' or "
                      "'bfloat16' (params stay float32).")
  flags.DEFINE_integer('unroll', 0, 'scan unroll override (0: config).')
  flags.DEFINE_integer('steps', 5, 'Train steps per timed window.')
  flags.DEFINE_integer('windows', 5, 'Timed windows (the median is reported).')
  flags.DEFINE_integer('warmup', 2, 'Untimed steps after compilation.')
  flags.DEFINE_integer('matmul_n', 4096, 'Size of the peak matmul benchmark.')
  flags.DEFINE_integer('sample_batch', 64, 'Batch of the sampling benchmark.')
  flags.DEFINE_string('data_dir', DEFAULT_DATA_DIR,
                      'MIDI folder for the data benchmark (empty: skip).')
  flags.DEFINE_string('skip', '', 'Comma list of parts to skip: '
                      'train,sample,matmul,data.')
  flags.DEFINE_string('json', '', 'Write the results here as JSON.')
  # The suite (issue 17): every config, one JSON and one table.
  flags.DEFINE_bool('suite', False, 'Run the suite: every config in configs/ '
                    'at its default sizes at each --suite_batches, the '
                    'inference latencies and the matmul peak (--config, '
                    '--batch_size and --skip do not apply).')
  flags.DEFINE_string('suite_configs', '', 'Comma list of configs for the '
                      'suite, NAME[.py][:VARIANT] (default: all, default '
                      'variants).')
  flags.DEFINE_string('suite_batches', '64,512', 'Batch sizes of the suite.')
  flags.DEFINE_string('suite_out', '', 'Folder for suite.json and suite.md.')
  flags.DEFINE_bool('suite_isolate', True, 'Run each suite entry in its own '
                    'process (own peak memory; a crash is recorded).')
  flags.DEFINE_string('latency_configs', ','.join(DEFAULT_LATENCY_CONFIGS),
                      'Configs of the suite\'s inference latency entries '
                      '(empty: none).')
  flags.DEFINE_string('latency_batches', '1,2,4,8,16',
                      'Batch sizes of the latency entries.')
  flags.DEFINE_integer('latency_repeats', 10, 'Timed calls per latency '
                       '(median reported).')
  flags.DEFINE_float('peak_tflops', 0.0, 'Device peak (TFLOP/s) for MFU; '
                     'default: the measured matmul peak on CPU, the bf16 dense '
                     'peak of DEVICE_PEAK_TFLOPS_BF16 on a GPU / TPU.')
  flags.DEFINE_string('suite_entry', '', 'Internal: run one suite entry '
                      'from this JSON file.')


if __name__ == '__main__':
  from absl import app
  _define_flags()
  app.run(main)
