"""One start-up line for every command: where it runs and on what.

    platform gpu: 8 devices (NVIDIA H100 80GB HBM3); 5.3M parameters; data:
    61,440 train + 3,072 eval windows from 1,200 files (14 skipped)

`train`, `generate` and the studio print it first, so that a GPU user who
installed the CPU-only jax sees `platform cpu` (with a hint when an NVIDIA
driver is present) before anything else happens.
"""

from __future__ import annotations

import os
import platform
import shutil
from typing import Any


def parameter_count(params) -> int:
  """Number of scalars in a parameter tree (arrays or shape structs)."""
  import jax
  import numpy as np
  return int(sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params)))


def _short(n: int) -> str:
  for scale, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
    if n >= scale:
      return f'{n / scale:.1f}{suffix}'
  return str(n)


def _nvidia_present() -> bool:
  return os.path.exists('/proc/driver/nvidia/version') or bool(shutil.which('nvidia-smi'))


def device_summary(devices=None) -> str:
  """'platform cpu: 1 device (cpu)', 'platform gpu: 8 devices (NVIDIA H100)'.

  Counts every process's devices; adds an install hint when jax runs on the
  CPU of a machine with an NVIDIA driver.
  """
  import jax
  devices = jax.devices() if devices is None else devices
  kind = devices[0].platform if devices else 'none'
  kinds = sorted({d.device_kind for d in devices})
  count = len(devices)
  text = (f'platform {kind}: {count} device{"s" * (count != 1)} '
          f'({", ".join(kinds)})')
  if kind == 'cpu' and _nvidia_present():
    text += (" [an NVIDIA GPU is present but this jax has no CUDA backend: "
             "pip install -e '.[cuda12]' (or '.[cuda13]')]")
  return text


def cpu_model() -> str:
  """The processor's name ('AMD EPYC 7B13'), or '' where the system does not
  say (read from /proc/cpuinfo on Linux, else `platform.processor()`)."""
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as info:
      for line in info:
        if line.startswith('model name'):
          return line.partition(':')[2].strip()
  except OSError:
    pass
  return platform.processor().strip()


def machine_summary(devices=None) -> str:
  """What a run trains on, for its record (config_history.jsonl):
  'gpu: 8 x NVIDIA H100 80GB HBM3, 16 CPU cores (AMD EPYC 7B13)',
  'cpu: 1 x cpu, 2 CPU cores (AMD EPYC)'."""
  import jax
  devices = jax.devices() if devices is None else devices
  kind = devices[0].platform if devices else 'none'
  kinds = ', '.join(sorted({d.device_kind for d in devices})) or 'none'
  model = cpu_model()
  return (f'{kind}: {len(devices)} x {kinds}, {os.cpu_count()} CPU cores'
          + (f' ({model})' if model else ''))


def data_summary(data) -> str:
  """Window and file counts of an `input_pipeline.Data`."""
  train, evals = data.train.summary, data.eval.summary
  used = int(train.get('files_used', 0))
  skipped = int(train.get('files_skipped', 0))
  if data.eval_dir and evals is not train:  # a separate eval folder
    used += int(evals.get('files_used', 0))
    skipped += int(evals.get('files_skipped', 0))
  meters = train.get('skipped_meter_files') or {}
  other = (', meters not read: ' + ', '.join(f'{m} in {n:,} files' for m, n in meters.items())
           if meters else '')
  return (f'data: {len(data.train_windows):,} train + {len(data.eval_windows):,} '
          f'eval windows from {used:,} files ({skipped:,} skipped{other})')


def summary_line(params=None, data=None, extra: dict[str, Any] | None = None,
                 devices=None) -> str:
  """The start-up line: devices, parameter count, data counts, extras."""
  parts = [device_summary(devices)]
  if params is not None:
    parts.append(f'{_short(parameter_count(params))} parameters')
  if data is not None:
    parts.append(data_summary(data))
  for key, value in (extra or {}).items():
    parts.append(f'{key} {value}')
  return '; '.join(parts)


def print_summary(params=None, data=None, extra: dict[str, Any] | None = None) -> str:
  """Prints `summary_line` on process 0 (flushed) and returns it."""
  import jax
  line = summary_line(params, data, extra)
  if jax.process_index() == 0:
    print(line, flush=True)
  return line
