"""Data parallel over devices and hosts (issue #5).

Multi-device runs need XLA_FLAGS before JAX is imported, so they run in
subprocesses (tests/_parallel_worker.py), started together once per module:

* X, one process with 4 simulated CPU devices: 3 train steps + eval on a
  1-device mesh (the reference), on 4 devices with replicated parameters, on
  4 devices FSDP; the 1-device checkpoint restored into the 4-device FSDP state.
* Z, two processes x 2 devices on localhost (jax.distributed, gloo CPU
  collectives), FSDP over all 4 devices, same global batches; checkpoint.
* Y (after X and Z), one process with 1 device: restores X's 4-device FSDP
  checkpoint and Z's two-process checkpoint.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from musicvae_jax import config_base, parallel

WORKER = Path(__file__).with_name('_parallel_worker.py')
ROOT = WORKER.parents[1]
TIMEOUT = 240
RTOL, ATOL = 1e-5, 1e-5


# ---- in-process unit tests ------------------------------------------------------

def test_fsdp_rule_shards_largest_divisible_axis():
  assert parallel.fsdp_spec((8, 32), 4) == jax.sharding.PartitionSpec(None, 'data')
  assert parallel.fsdp_spec((32, 6), 4) == jax.sharding.PartitionSpec('data', None)
  assert parallel.fsdp_spec((6, 10), 4) == jax.sharding.PartitionSpec()  # none divides
  assert parallel.fsdp_spec((), 4) == jax.sharding.PartitionSpec()       # scalars
  assert parallel.fsdp_spec((16, 16), 4) == jax.sharding.PartitionSpec('data', None)
  assert parallel.fsdp_spec((8, 32), 1) == jax.sharding.PartitionSpec()


def test_batch_must_divide_over_devices_with_clear_error():
  mesh = jax.sharding.AbstractMesh((4,), ('data',))
  parallel.check_batch_size(8, mesh)
  with pytest.raises(ValueError, match=r'batch_size=10 .* 4 devices.*multiple '
                     r'of 4 such as 8 or 12'):
    parallel.check_batch_size(10, mesh)
  with pytest.raises(ValueError, match=r'batch_size=3 .*such as 4'):
    parallel.check_batch_size(3, mesh)


def test_mesh_from_config_and_its_errors():
  mesh = parallel.make_mesh((-1,))
  assert mesh.axis_names == ('data',)
  assert parallel.data_size(mesh) == jax.device_count()
  assert mesh.axis_types == (jax.sharding.AxisType.Auto,)
  with pytest.raises(ValueError, match='asks for 99 devices'):
    parallel.make_mesh((99,))
  with pytest.raises(ValueError, match='one entry'):
    parallel.make_mesh((1, 1))


def test_config_fields_validate():
  config = config_base.base_config()
  assert config.mesh_shape == (-1,) and config.param_sharding == 'replicated'
  config_base.validate(config)
  config.param_sharding = 'zero'
  with pytest.raises(ValueError, match='param_sharding'):
    config_base.validate(config)
  config = config_base.base_config()
  config.mesh_shape = (0,)
  with pytest.raises(ValueError, match='mesh_shape'):
    config_base.validate(config)


def test_eval_batch_padding_and_global_batch_single_device():
  batch = {'tokens': np.ones((3, 4, 1), np.int32),
           'lengths': np.full(3, 4, np.int32),
           'weights': np.ones(3, np.float32)}
  padded = parallel.pad_batch(batch, 4)
  assert padded['tokens'].shape == (4, 4, 1)
  np.testing.assert_array_equal(padded['weights'], [1, 1, 1, 0])
  np.testing.assert_array_equal(padded['lengths'], [4, 4, 4, 4])
  assert parallel.pad_batch(batch, 3) is batch
  mesh = parallel.make_mesh((1,))
  out = parallel.global_batch(batch, mesh)
  assert out['tokens'].shape == (3, 4, 1)
  assert out['tokens'].sharding == parallel.batch_sharding(mesh)


# ---- subprocess runs ---------------------------------------------------------------

def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _start(out: Path, log: str, *args: str, env: dict | None = None):
  full_env = {**os.environ, 'JAX_PLATFORMS': 'cpu', **(env or {})}
  full_env.pop('XLA_FLAGS', None)
  full_env['PYTHONPATH'] = str(ROOT) + os.pathsep + full_env.get('PYTHONPATH', '')
  handle = open(out / log, 'w')
  proc = subprocess.Popen([sys.executable, str(WORKER), str(out), *args],
                          stdout=handle, stderr=subprocess.STDOUT, env=full_env,
                          cwd=ROOT)
  proc.log_path = out / log
  return proc


def _wait(proc, deadline: float) -> tuple[int, str]:
  try:
    rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
    rc = 'timeout'
  return rc, proc.log_path.read_text()


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  out = tmp_path_factory.mktemp('parallel')
  deadline = time.monotonic() + TIMEOUT
  x = _start(out, 'x.log', '--devices', '4',
             '--train', 'one:1:replicated:eval',
             '--train', 'four:4:replicated:eval',
             '--train', 'fsdp:4:fsdp',
             '--restore', 'one_on_four:one:4:fsdp')
  port = _free_port()
  z = [_start(out, f'z{i}.log', '--devices', '2', '--train', 'multi:-1:fsdp:eval',
              env={'JAX_COORDINATOR_ADDRESS': f'localhost:{port}',
                   'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': str(i)})
       for i in range(2)]
  x_rc, x_log = _wait(x, deadline)
  z_res = [_wait(p, deadline) for p in z]
  assert x_rc == 0, f'4-device worker failed ({x_rc}):\n{x_log[-4000:]}'
  multi_ok = all(rc == 0 for rc, _ in z_res)
  if not multi_ok:  # the platform, or our code? Ask a bare collective.
    port = _free_port()
    probes = [_start(out, f'probe{i}.log', '--devices', '1', '--probe',
                     env={'JAX_COORDINATOR_ADDRESS': f'localhost:{port}',
                          'JAX_NUM_PROCESSES': '2', 'JAX_PROCESS_ID': str(i)})
              for i in range(2)]
    probe_res = [_wait(p, time.monotonic() + 60) for p in probes]
    if any(rc != 0 for rc, _ in probe_res):
      z_res = [('no-collectives', log) for _, log in probe_res]
  restores = ['--restore', 'fsdp_on_one:fsdp:1:replicated']
  if multi_ok:
    restores += ['--restore', 'multi_on_one:multi:1:replicated']
  y = _start(out, 'y.log', '--devices', '1', *restores)
  y_rc, y_log = _wait(y, deadline)
  assert y_rc == 0, f'1-device restore worker failed ({y_rc}):\n{y_log[-4000:]}'
  return out, multi_ok, z_res


def _load(out: Path, name: str, process: int = 0) -> dict[str, np.ndarray]:
  with np.load(out / name / f'result_{process}.npz') as data:
    return dict(data)


def _params(result):
  return {k[len('param/'):]: v for k, v in result.items() if k.startswith('param/')}


def _assert_params_close(got, want, **tol):
  assert got.keys() == want.keys()
  for key in want:
    np.testing.assert_allclose(got[key], want[key], err_msg=key,
                               **(tol or dict(rtol=RTOL, atol=ATOL)))


def test_four_devices_match_one_device(runs):
  out, _, _ = runs
  one, four = _load(out, 'one'), _load(out, 'four')
  assert int(one['mesh']) == 1 and int(four['mesh']) == 4
  np.testing.assert_allclose(four['losses'], one['losses'], rtol=RTOL)
  np.testing.assert_allclose(four['grad_norms'], one['grad_norms'], rtol=1e-4)
  _assert_params_close(_params(four), _params(one))
  # The 6-row eval batch was padded to 8 on 4 devices (weight 0): same sums.
  assert float(four['eval/examples']) == float(one['eval/examples']) == 6
  for key in one:
    if key.startswith('eval/'):
      np.testing.assert_allclose(four[key], one[key], rtol=RTOL, err_msg=key)
  # Replicated parameters really are replicated.
  assert all(str(v) == 'P()' for k, v in four.items() if k.startswith('spec/'))


def test_fsdp_matches_one_device_and_shards_parameters(runs):
  out, _, _ = runs
  one, fsdp = _load(out, 'one'), _load(out, 'fsdp')
  np.testing.assert_allclose(fsdp['losses'], one['losses'], rtol=RTOL)
  _assert_params_close(_params(fsdp), _params(one))
  specs = {k: str(v) for k, v in fsdp.items() if k.startswith('spec/')}
  sharded = [k for k, v in specs.items() if "'data'" in v]
  assert len(sharded) >= len(specs) // 2, specs
  assert "'data'" in specs["spec/['decoder']['lstm']['layer_0']['input_kernel']"]


def test_checkpoint_written_on_one_device_restores_on_four(runs):
  out, _, _ = runs
  one, restored = _load(out, 'one'), _load(out, 'one_on_four')
  assert int(restored['step']) == 3
  _assert_params_close(_params(restored), _params(one), rtol=0, atol=0)


def test_checkpoint_written_on_four_devices_restores_on_one(runs):
  out, _, _ = runs
  fsdp, restored = _load(out, 'fsdp'), _load(out, 'fsdp_on_one')
  assert int(restored['step']) == 3
  _assert_params_close(_params(restored), _params(fsdp), rtol=0, atol=0)


def test_two_processes_train_in_lockstep(runs):
  out, multi_ok, z_res = runs
  if not multi_ok:
    logs = '\n'.join(log[-2000:] for _, log in z_res)
    if any(rc == 'no-collectives' for rc, _ in z_res):
      pytest.skip('this platform cannot run jax.distributed with CPU '
                  f'collectives on localhost (a bare 2-process sum failed):\n{logs}')
    pytest.fail(f'two-process run failed {[rc for rc, _ in z_res]}:\n{logs}')
  p0, p1 = _load(out, 'multi', 0), _load(out, 'multi', 1)
  one = _load(out, 'one')
  assert int(p0['mesh']) == int(p1['mesh']) == 4
  # Lockstep: both processes see the same losses and parameters every step.
  np.testing.assert_array_equal(p0['losses'], p1['losses'])
  _assert_params_close(_params(p0), _params(p1), rtol=0, atol=0)
  # ... and they equal one process on one device with the same global batch.
  np.testing.assert_allclose(p0['losses'], one['losses'], rtol=RTOL)
  _assert_params_close(_params(p0), _params(one))
  for key in one:
    if key.startswith('eval/'):
      np.testing.assert_allclose(p0[key], one[key], rtol=RTOL, err_msg=key)
  # The checkpoint both processes wrote (FSDP across hosts) restores on one.
  restored = _load(out, 'multi_on_one')
  _assert_params_close(_params(restored), _params(p0), rtol=0, atol=0)
