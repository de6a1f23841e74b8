"""Devices and hosts: distributed set-up, the device mesh, shardings, and the
assembly of global batches from per-process data.

Data parallel with JAX's own runtime (no home-made cluster code):

* one `jax.sharding.Mesh` with a single axis `'data'` (Auto axis type: under
  the Explicit axes that `jax.make_mesh` now defaults to, `nn.RNN` with
  `seq_lengths` fails);
* batches sharded over it (`P('data')`), parameters and optimizer state
  replicated (`param_sharding='replicated'`) or, for large models, each array
  split along its largest axis that divides evenly (`'fsdp'`, ZeRO-3 style);
  XLA inserts the all-reduces / all-gathers;
* every process loads only its share of each batch, and
  `jax.make_array_from_process_local_data` glues the shares into one global
  array.

Multi-host: `initialize_distributed()` calls `jax.distributed.initialize` from
JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID (see
docs/scaling.md).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'
PARAM_SHARDINGS = ('replicated', 'fsdp')


def initialize_distributed() -> None:
  """Calls `jax.distributed.initialize()` when the environment asks for it.

  Set JAX_COORDINATOR_ADDRESS (host:port of process 0), JAX_NUM_PROCESSES and
  JAX_PROCESS_ID (or run under a cluster JAX detects by itself, such as SLURM
  or Cloud TPU, and call `jax.distributed.initialize()` there). Must run before
  anything touches a JAX device.
  """
  if os.environ.get('JAX_COORDINATOR_ADDRESS'):
    num_processes = int(os.environ.get('JAX_NUM_PROCESSES', '1'))
    if num_processes > 1:
      # CPU hosts need a collectives backend for cross-process all-reduce
      # (gloo is jax 0.10's default; older versions defaulted to none).
      jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(
        coordinator_address=os.environ['JAX_COORDINATOR_ADDRESS'],
        num_processes=num_processes,
        process_id=int(os.environ.get('JAX_PROCESS_ID', '0')))


# ---- mesh -------------------------------------------------------------------

def make_mesh(mesh_shape: Sequence[int] = (-1,),
              devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A one-axis ('data') mesh.

  `mesh_shape=(-1,)` takes every device of every process; `(n,)` the first
  `n` devices (single process only: with several processes the mesh must span
  them all, or some would hold no data). Devices are in `jax.devices()` order,
  grouped by process, so process `i` owns rows `[i*B/P, (i+1)*B/P)` of each
  global batch, as `data.pipeline.TrainBatches` assumes.
  """
  devices = list(jax.devices() if devices is None else devices)
  shape = tuple(int(n) for n in mesh_shape)
  if len(shape) != 1:
    raise ValueError(f'config.mesh_shape={shape}: one entry expected (the '
                     f"'{DATA_AXIS}' axis)")
  n = shape[0]
  if n == -1:
    n = len(devices)
  if not 1 <= n <= len(devices):
    raise ValueError(f'config.mesh_shape={shape} asks for {n} devices; '
                     f'{len(devices)} are available')
  if n < len(devices) and jax.process_count() > 1:
    raise ValueError(f'config.mesh_shape={shape} uses {n} of {len(devices)} '
                     f'devices, but with {jax.process_count()} processes the '
                     'mesh must span every device (use -1)')
  return Mesh(np.array(devices[:n]), (DATA_AXIS,),
              axis_types=(AxisType.Auto,))


def data_size(mesh: Mesh) -> int:
  """Devices the batch is split over."""
  return mesh.shape[DATA_AXIS]


def describe(mesh: Mesh) -> str:
  """'8 devices on the 'data' axis (2 process(es) x 4 local device(s), gpu)'."""
  text = f"{data_size(mesh)} devices on the '{DATA_AXIS}' axis"
  if isinstance(mesh, Mesh):
    text += (f' ({jax.process_count()} process(es) x '
             f'{len(mesh.local_devices)} local device(s), '
             f'{mesh.devices.flat[0].platform})')
  return text


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  """The global batch must split evenly over devices (and so over hosts)."""
  n = data_size(mesh)
  if batch_size % n:
    lower, upper = (batch_size // n) * n, (batch_size // n + 1) * n
    hint = f'{lower} or {upper}' if lower else f'{upper}'
    raise ValueError(
        f'config.batch_size={batch_size} does not divide evenly over '
        f'{describe(mesh)}; use a multiple of {n} such as {hint}, or change '
        'config.mesh_shape')


# ---- shardings ----------------------------------------------------------------

def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over 'data'; the rest whole."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def fsdp_spec(shape: Sequence[int], n: int) -> P:
  """Shards the largest axis that `n` divides (ties: the first); scalars and
  arrays with no such axis stay replicated."""
  if n <= 1:
    return P()
  candidates = [(size, -axis) for axis, size in enumerate(shape)
                if size % n == 0]
  if not candidates:
    return P()
  _, neg_axis = max(candidates)
  spec = [None] * len(shape)
  spec[-neg_axis] = DATA_AXIS
  return P(*spec)


def state_sharding(abstract_state: Any, mesh: Mesh,
                   param_sharding: str = 'replicated') -> Any:
  """A tree of NamedShardings for a (train) state, leaf by leaf.

  The FSDP rule depends only on each leaf's shape, so Adam's moments are
  sharded exactly like the parameters they follow.
  """
  if param_sharding not in PARAM_SHARDINGS:
    raise ValueError(f'config.param_sharding={param_sharding!r}: must be one '
                     f'of {PARAM_SHARDINGS}')
  n = data_size(mesh)

  def rule(leaf):
    if param_sharding == 'fsdp':
      return NamedSharding(mesh, fsdp_spec(leaf.shape, n))
    return replicated(mesh)

  return jax.tree.map(rule, abstract_state)


def abstract_state(init_fn: Callable[[], Any], mesh: Mesh,
                   param_sharding: str = 'replicated') -> Any:
  """`jax.ShapeDtypeStruct`s with shardings for what `init_fn` returns: the
  target to restore a checkpoint into, without computing an initial state."""
  shapes = jax.eval_shape(init_fn)
  return jax.tree.map(
      lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
      shapes, state_sharding(shapes, mesh, param_sharding))


def create_sharded_state(init_fn: Callable[[], Any], mesh: Mesh,
                         param_sharding: str = 'replicated') -> tuple[Any, Any]:
  """Runs `init_fn` (no arguments) under jit so that every array is created
  directly in its sharding; returns (state, its sharding tree)."""
  shardings = state_sharding(jax.eval_shape(init_fn), mesh, param_sharding)
  return jax.jit(init_fn, out_shardings=shardings)(), shardings


# ---- batches ------------------------------------------------------------------

def pad_batch(batch: dict[str, np.ndarray], multiple: int) -> dict[str, np.ndarray]:
  """Pads rows to a multiple of `multiple` with zero tokens and weight 0."""
  rows = len(batch['weights'])
  pad = -rows % multiple
  if not pad:
    return batch
  out = {}
  for key, value in batch.items():
    value = np.asarray(value)
    fill = np.zeros((pad,) + value.shape[1:], value.dtype)
    if key == 'lengths':
      fill[:] = value[0] if rows else 0  # a valid length; weight 0 drops it
    out[key] = np.concatenate([value, fill])
  return out


def global_batch(batch: dict[str, np.ndarray], mesh: Mesh, *,
                 replicated_input: bool = False) -> dict[str, jax.Array]:
  """One global batch sharded over the mesh's 'data' axis.

  By default `batch` is this process's share (rows `[i*B/P, (i+1)*B/P)` of
  the global batch, as `TrainBatches(process_index=i, process_count=P)`
  yields) and must split evenly over the local devices.

  With `replicated_input=True`, `batch` is the whole global batch, identical
  on every process (evaluation batches): it is padded with weight-0 rows to a
  multiple of the device count, and each process keeps the rows its devices
  hold.
  """
  sharding = batch_sharding(mesh)
  n = data_size(mesh)
  if replicated_input:
    batch = pad_batch(batch, n)
    return {k: jax.make_array_from_process_local_data(
        sharding, np.asarray(v), np.shape(v)) for k, v in batch.items()}
  local_devices = len(mesh.local_devices)
  rows = len(batch['weights'])
  if rows % local_devices:
    raise ValueError(
        f'this process holds {rows} rows of the batch, which does not divide '
        f'evenly over its {local_devices} local devices ({describe(mesh)}); '
        f'the global batch must be a multiple of {n}')
  processes = n // local_devices
  return {k: jax.make_array_from_process_local_data(
      sharding, np.asarray(v), (rows * processes,) + np.shape(v)[1:])
          for k, v in batch.items()}
