"""MIDI -> windows throughput on a folder, and whether the paths agree.

  python scripts/benchmark_data.py /work/shared/data/lmd/train [--max_files N] [--workers N]

Paths: (a) note_seq.midi_file_to_note_sequence + the note_seq reference
extraction, (b) the fast reader + vectorised extraction in one process,
(c) the fast path over all cores (a process pool). Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicvae_jax.data import converters, midi_io  # noqa: E402


def _converter(programs):
  return converters.MelodyConverter(slice_bars=2, valid_programs=programs, max_windows=0)


def _reference(path, programs=None):
  try:
    return _converter(programs).all_windows(midi_io.load_note_sequence(path, fast=False))
  except midi_io.BadInputError:
    return None


def _fast(path, programs=None):
  try:
    return _converter(programs).fast_windows(midi_io.load_note_arrays(path)[0])
  except midi_io.BadInputError:
    return None


def _fast_chunk(paths):
  return [_fast(p) for p in paths]


def data_throughput(folder, max_files=None, workers=None, programs=None) -> dict:
  """files/s of the three paths on `folder` (recursive), and exactness.

  Returns {'files', 'reference_files_per_s', 'fast_files_per_s',
  'fast_parallel_files_per_s', 'workers', 'speedup', 'speedup_parallel',
  'identical_files', 'different_files', 'windows'}.
  """
  warnings.simplefilter('ignore')
  files = [str(p) for p in midi_io.find_files(folder)
           if p.suffix.lower() in midi_io.MIDI_SUFFIXES][:max_files]
  workers = workers or os.cpu_count() or 1
  _fast(files[0])  # compile / load the numba scanner outside the timing
  start = time.perf_counter()
  ref = [_reference(p, programs) for p in files]
  t_ref = time.perf_counter() - start
  start = time.perf_counter()
  fast = [_fast(p, programs) for p in files]
  t_fast = time.perf_counter() - start
  chunks = [files[i::workers * 4] for i in range(workers * 4)]
  with ProcessPoolExecutor(workers) as pool:
    list(pool.map(_fast_chunk, [files[:1]] * workers))  # warm the workers
    start = time.perf_counter()
    list(pool.map(_fast_chunk, chunks))
    t_par = time.perf_counter() - start
  different = [f for f, a, b in zip(files, ref, fast)
               if not ((a is None and b is None) or
                       (a is not None and b is not None and np.array_equal(a, b)))]
  n = len(files)
  return {
      'folder': str(folder), 'files': n, 'workers': workers,
      'reference_files_per_s': n / t_ref, 'fast_files_per_s': n / t_fast,
      'fast_parallel_files_per_s': n / t_par,
      'speedup': t_ref / t_fast, 'speedup_parallel': t_ref / t_par,
      'identical_files': n - len(different), 'different_files': different,
      'windows': int(sum(len(a) for a in ref if a is not None)),
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('folder')
  parser.add_argument('--max_files', type=int, default=None)
  parser.add_argument('--workers', type=int, default=None)
  args = parser.parse_args()
  result = data_throughput(args.folder, args.max_files, args.workers)
  print(f"{'path':44s} {'files/s':>9s} {'speedup':>8s}")
  print(f"{'(a) note_seq + reference extraction':44s} {result['reference_files_per_s']:9.1f} {1:8.1f}")
  print(f"{'(b) fast path, 1 process':44s} {result['fast_files_per_s']:9.1f} {result['speedup']:8.1f}")
  print(f"{'(c) fast path, ' + str(result['workers']) + ' processes':44s} "
        f"{result['fast_parallel_files_per_s']:9.1f} {result['speedup_parallel']:8.1f}")
  print(f"identical windows on {result['identical_files']}/{result['files']} files")
  print(json.dumps(result))


if __name__ == '__main__':
  main()
