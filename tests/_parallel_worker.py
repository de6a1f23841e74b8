"""Subprocess worker for tests/test_parallel.py (XLA_FLAGS must be set before
JAX is imported, so multi-device runs need their own process).

  python tests/_parallel_worker.py OUT --devices 4 \
      --train one:1:replicated:eval --train four:4:fsdp \
      --restore back:four:1:replicated

`--train NAME:MESH:SHARDING[:eval]`: NUM_STEPS train steps on fixed synthetic
global batches on a mesh of MESH devices (-1: all), optionally one eval batch
of 6 rows (padded to the device count), a checkpoint in OUT/NAME, and
OUT/NAME/result_<process>.npz (losses, eval sums, parameters, specs).
`--restore NAME:SOURCE:MESH:SHARDING`: restores OUT/SOURCE's checkpoint into
this mesh and sharding; OUT/NAME/result_<process>.npz holds its parameters.

Multi-process: set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

GLOBAL_BATCH = 8
NUM_STEPS = 3


def tiny_config():
  from musicvae_jax import config_base
  c = config_base.base_config()
  c.z_size = 4
  c.enc_rnn_sizes = (8,)
  c.dec_rnn_sizes = (8,)
  c.batch_size = GLOBAL_BATCH
  c.slice_bars = 2                     # 32 steps
  c.max_transpose = 0
  c.learning_rate = 1e-2               # visible parameter movement
  # Teacher forcing compiles faster; the eval step still runs the sampling
  # decoder (probability 1) on the sharded batch.
  c.sampling_schedule = 'none'
  c.beta_rate = 0.9
  return c


def global_batches(seq_len: int, count: int):
  import numpy as np
  rng = np.random.default_rng(0)
  for _ in range(count):
    yield {
        'tokens': rng.integers(0, 90, (GLOBAL_BATCH, seq_len, 1)).astype(np.int32),
        'lengths': rng.integers(seq_len // 2, seq_len + 1, GLOBAL_BATCH).astype(np.int32),
        'weights': np.ones(GLOBAL_BATCH, np.float32),
    }


def eval_batch(seq_len: int):
  import numpy as np
  rng = np.random.default_rng(1)
  rows = 6
  return {
      'tokens': rng.integers(0, 90, (rows, seq_len, 1)).astype(np.int32),
      'lengths': np.full(rows, seq_len, np.int32),
      'weights': np.ones(rows, np.float32),
  }


def _setup(mesh_n: int, sharding: str, abstract: bool = False):
  import jax
  from musicvae_jax import config_base, family, parallel, steps
  from musicvae_jax.models import MusicVAE, TokenSpec
  config = tiny_config()
  config.param_sharding = sharding
  config.mesh_shape = (mesh_n,)
  config_base.validate(config)
  spec = TokenSpec((90,))
  fam = family.get(config)
  model, objective = fam.build_model(config, spec), fam.objective(config, spec)
  assert isinstance(model, MusicVAE)
  mesh = parallel.make_mesh(config.mesh_shape)
  parallel.check_batch_size(config.batch_size, mesh)
  example = objective.example_batch(config, config.batch_size)
  init = lambda: steps.create_train_state(config, model, objective, example)
  if abstract:  # shapes, dtypes and shardings only: enough to restore into
    state = parallel.abstract_state(init, mesh, config.param_sharding)
    shardings = jax.tree.map(lambda s: s.sharding, state)
  else:
    state, shardings = parallel.create_sharded_state(init, mesh,
                                                     config.param_sharding)
  fns = steps.jit_steps(config, model, objective, shardings,
                        parallel.batch_sharding(mesh))
  return config, mesh, state, fns


def _host_params(params, mesh):
  """{path: numpy} of (possibly cross-host sharded) parameters."""
  import jax
  import numpy as np
  from musicvae_jax import parallel
  gathered = jax.jit(lambda p: p, out_shardings=parallel.replicated(mesh))(params)
  return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in
          jax.tree_util.tree_leaves_with_path(jax.device_get(gathered))}


def train(out: Path, mesh_n: int, sharding: str, do_eval: bool) -> None:
  """NUM_STEPS train steps (+ eval), a checkpoint, result_<process>.npz."""
  import jax
  import numpy as np
  from musicvae_jax import checkpoints, config_base, parallel
  config, mesh, state, (train_fn, eval_fn, _) = _setup(mesh_n, sharding)
  seq_len = config_base.sequence_length(config)
  index, count = jax.process_index(), jax.process_count()
  local = GLOBAL_BATCH // count
  losses, grad_norms = [], []
  tick = time.perf_counter()
  for batch in global_batches(seq_len, NUM_STEPS):
    mine = {k: v[index * local:(index + 1) * local] for k, v in batch.items()}
    state, metrics = train_fn(state, parallel.global_batch(mine, mesh))
    losses.append(float(metrics['loss']))
    grad_norms.append(float(metrics['grad_norm']))
  result = {'losses': np.array(losses), 'grad_norms': np.array(grad_norms),
            'train_seconds': np.array(time.perf_counter() - tick),
            'mesh': np.array(parallel.data_size(mesh)),
            'step': np.array(int(state.step))}
  if do_eval:
    sums = eval_fn(state.params, parallel.global_batch(
        eval_batch(seq_len), mesh, replicated_input=True),
                   jax.random.key(7), state.step)
    result.update({f'eval/{k}': np.asarray(v)
                   for k, v in jax.device_get(sums).items()})
  result.update({f'param/{k}': v for k, v in
                 _host_params(state.params, mesh).items()})
  result.update({f'spec/{jax.tree_util.keystr(path)}': np.array(str(leaf.sharding.spec))
                 for path, leaf in jax.tree_util.tree_leaves_with_path(state.params)})
  ckpt = checkpoints.Checkpointer(out, keep_latest=1, keep_best=0)
  ckpt.save(int(state.step), state, config, {'batch': NUM_STEPS})
  ckpt.close()
  np.savez(out / f'result_{index}.npz', **result)


def restore(source: Path, out: Path, mesh_n: int, sharding: str) -> None:
  """Restores `source` into this run's sharded state; writes its params."""
  import jax
  import numpy as np
  from musicvae_jax import checkpoints
  _, mesh, state, _ = _setup(mesh_n, sharding, abstract=True)
  reader = checkpoints.Checkpointer(source, read_only=True, async_save=False)
  restored, data_state = reader.restore(state)
  reader.close()
  assert data_state == {'batch': NUM_STEPS}, data_state
  for (path, got), ref in zip(jax.tree_util.tree_leaves_with_path(restored),
                              jax.tree.leaves(state)):
    assert got.sharding == ref.sharding, (jax.tree_util.keystr(path),
                                          got.sharding, ref.sharding)
  result = {'step': np.array(int(restored.step))}
  result.update({f'param/{k}': v for k, v in
                 _host_params(restored.params, mesh).items()})
  out.mkdir(parents=True, exist_ok=True)
  np.savez(out / f'result_{jax.process_index()}.npz', **result)


def probe() -> None:
  """A cross-process sum: does this platform do CPU collectives at all?"""
  import jax
  import numpy as np
  from musicvae_jax import parallel
  mesh = parallel.make_mesh((-1,))
  x = parallel.global_batch({'weights': np.ones(len(mesh.local_devices),
                                                np.float32)}, mesh)['weights']
  total = jax.jit(lambda a: a.sum(), out_shardings=parallel.replicated(mesh))(x)
  assert float(total) == jax.device_count(), float(total)
  print('collectives ok')


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('out', help='results go to OUT/<name>/')
  parser.add_argument('--devices', type=int, default=1,
                      help='simulated CPU devices in this process')
  parser.add_argument('--train', action='append', default=[],
                      help='NAME:MESH:SHARDING[:eval] (in order)')
  parser.add_argument('--restore', action='append', default=[],
                      help='NAME:SOURCE_NAME:MESH:SHARDING')
  parser.add_argument('--probe', action='store_true',
                      help='only check cross-process collectives')
  args = parser.parse_args()
  # Cheaper CPU compiles (about 40% less CPU time here): every run uses the
  # same flags, so comparisons across device counts stay like for like.
  os.environ['XLA_FLAGS'] = ' '.join((
      os.environ.get('XLA_FLAGS', ''),
      f'--xla_force_host_platform_device_count={args.devices}',
      '--xla_backend_optimization_level=0',
      '--xla_llvm_disable_expensive_passes=true'))
  os.environ.setdefault('JAX_PLATFORMS', 'cpu')
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
  from musicvae_jax import parallel
  parallel.initialize_distributed()
  if args.probe:
    return probe()
  root = Path(args.out)
  for item in args.train:
    name, mesh_n, sharding, *flag = item.split(':')
    train(root / name, int(mesh_n), sharding, flag == ['eval'])
  for item in args.restore:
    name, source, mesh_n, sharding = item.split(':')
    restore(root / source, root / name, int(mesh_n), sharding)


if __name__ == '__main__':
  main()
