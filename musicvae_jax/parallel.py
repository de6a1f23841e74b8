"""Multi-process set-up (devices, hosts). Data-parallel sharding lives here too."""

from __future__ import annotations

import os

import jax


def initialize_distributed() -> None:
  """Calls `jax.distributed.initialize()` when the environment asks for it.

  Set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID (or run
  under a cluster JAX detects by itself, such as SLURM or Cloud TPU).
  """
  if os.environ.get('JAX_COORDINATOR_ADDRESS'):
    jax.distributed.initialize(
        coordinator_address=os.environ['JAX_COORDINATOR_ADDRESS'],
        num_processes=int(os.environ.get('JAX_NUM_PROCESSES', '1')),
        process_id=int(os.environ.get('JAX_PROCESS_ID', '0')))
