"""MIDI -> windows throughput on a folder, and whether the paths agree.

  python scripts/benchmark_data.py /work/shared/data/lmd/train [--max_files N] [--workers N]
  python scripts/benchmark_data.py /work/shared/data/lmd/train --converters \
      --magenta_src MAGENTA [--max_files 10]
  python scripts/benchmark_data.py /work/shared/data/lmd/train --chord_inference

Default: the melody converter's paths: (a) note_seq.midi_file_to_note_sequence
+ the note_seq reference extraction, (b) the fast reader + vectorised
extraction in one process, (c) the fast path over all cores (a process pool).

--converters: files/s of every converter (melody, chords, drums, trio,
multitrack, groove, drum roll), ours (the preprocess path,
`data/cache._convert_one`: our MIDI reader where the converter allows it,
then the converter) against Magenta's own converter code on the same files
(note_seq's reader, then `to_tensors`; scripts/magenta_converters.py loads it
from MAGENTA, a folder holding Magenta's `magenta/` package), timed file by
file in turn in one process so that a changing load hits both alike; then
chord inference alone on every quantized piece of those files: note-seq's
`infer_chords_for_sequence` as shipped, note-seq with its transition matrix
memoised, and ours (`data/chord_inference.py`), with the count of pieces
whose annotations are identical. One process, one core.

--chord_inference: the equivalence run: chord inference alone on every piece
of every file (or --max_files), quantized at 4 (melody / chords converters)
and 24 (multitrack) steps per quarter, ours against note-seq with its
transition matrix memoised (as shipped it takes ~1 s a piece).

Prints tables and JSON, with the load average before and after.
"""

from __future__ import annotations

import argparse
import copy
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

CONVERTER_CONFIGS = {  # converter -> our config (Magenta's: scripts/magenta_converters.py)
    'melody': 'mel_2bar', 'chords': 'mel_2bar_chords', 'drums': 'drums_2bar',
    'trio': 'trio_16bar', 'multitrack': 'multiperf', 'groove': 'groovae_2bar_humanize',
    'drum roll': 'nade_drums_2bar',
}


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


def _midi_files(folder, max_files):
  return [str(p) for p in midi_io.find_files(folder)
          if p.suffix.lower() in midi_io.MIDI_SUFFIXES][:max_files]


def _our_converters() -> dict:
  """{name: our converter}, built from our configs as training builds them."""
  from musicvae_jax import config_files, family
  out = {}
  for name, spec in CONVERTER_CONFIGS.items():
    config = config_files.load(spec)
    out[name] = family.get(config).make_converter(config)
  return out


def converter_throughput(folder, magenta_src, max_files=10) -> dict:
  """files/s per converter, ours and Magenta's, on the same files.

  Returns {'files', 'tensorflow', 'converters': {name: {'ours_files_per_s',
  'magenta_files_per_s', 'speedup', 'ours_windows', 'magenta_windows'}}}.
  Ours counts every distinct window of a file (what preprocess caches);
  Magenta's `to_tensors` caps them per file (eval mode), so counts differ.
  """
  import magenta_converters
  from musicvae_jax.data import cache
  warnings.simplefilter('ignore')
  files = _midi_files(folder, max_files)
  magenta, which = magenta_converters.load(magenta_src)
  ours = _our_converters()

  def run_ours(converter, path):
    windows = cache._convert_one((path, path, converter, True))[3]
    return 0 if windows is None else len(windows)

  def run_magenta(name, converter, path):
    try:
      return magenta_converters.file_tensors(name, converter, path)
    except Exception:  # noqa: BLE001 - a file Magenta's code rejects counts as none
      return 0

  table = {}
  for name in magenta_converters.NAMES:
    run_ours(ours[name], files[0])                       # numba / caches warm
    run_magenta(name, magenta[name], files[0])
    t_ours = t_magenta = 0.0
    n_ours = n_magenta = 0
    for path in files:
      start = time.perf_counter()
      n_ours += run_ours(ours[name], path)
      middle = time.perf_counter()
      n_magenta += run_magenta(name, magenta[name], path)
      t_ours += middle - start
      t_magenta += time.perf_counter() - middle
    table[name] = {'ours_files_per_s': len(files) / t_ours,
                   'magenta_files_per_s': len(files) / t_magenta,
                   'speedup': t_magenta / t_ours,
                   'ours_windows': n_ours, 'magenta_windows': n_magenta}
  return {'folder': str(folder), 'files': len(files), 'tensorflow': which,
          'converters': table}


class _MemoisedTransitions:
  """Within the block, note-seq builds its key-chord transition matrix once
  per parameter set (a pure function; same result, without ~1 s a call)."""

  def __init__(self):
    self.cache = {}

  def __enter__(self):
    from note_seq import chord_inference as reference
    self.reference, self.original, cache = (
        reference, reference._key_chord_transition_distribution, self.cache)

    def memoised(distribution, key_change_prob, chord_change_prob):
      key = (distribution.tobytes(), key_change_prob, chord_change_prob)
      if key not in cache:
        cache[key] = self.original(distribution, key_change_prob, chord_change_prob)
      return cache[key].copy()
    reference._key_chord_transition_distribution = memoised
    return self

  def __exit__(self, *exc):
    self.reference._key_chord_transition_distribution = self.original


def _infer(function, sequence):
  """(annotated copy, exception type or None)."""
  sequence = copy.deepcopy(sequence)
  try:
    function(sequence)
  except Exception as error:  # noqa: BLE001 - compared, not hidden
    return sequence, type(error)
  return sequence, None


def chord_inference_throughput(folder, max_files=10, steps_per_quarter=(4,),
                               shipped=True) -> dict:
  """Chord inference alone on every piece (split at time changes) of the
  files, quantized at each of `steps_per_quarter`: note-seq as shipped
  (unless not `shipped`: ~1 s a piece), note-seq memoised, ours, piece by
  piece in turn. Returns pieces/s of each, the speedups, and how many pieces
  got identical annotations (or the same exception)."""
  import note_seq
  from note_seq import chord_inference as reference
  from note_seq import sequences_lib
  from musicvae_jax.data import chord_inference as ours
  warnings.simplefilter('ignore')
  pieces = []
  for path in _midi_files(folder, max_files):
    for piece in sequences_lib.split_note_sequence_on_time_changes(
        note_seq.midi_file_to_note_sequence(path)):
      for steps in steps_per_quarter:
        try:
          pieces.append(note_seq.quantize_note_sequence(piece, steps))
        except Exception:  # noqa: BLE001 - pieces the converters skip too
          pass
  memoised = _MemoisedTransitions()
  _infer(ours.infer_chords_for_sequence, pieces[0])      # numba warm
  with memoised:
    _infer(reference.infer_chords_for_sequence, pieces[0])
  times = {'note_seq': 0.0, 'note_seq_memoised': 0.0, 'ours': 0.0}
  identical = inferred = 0
  for piece in pieces:
    if shipped:
      start = time.perf_counter()
      _infer(reference.infer_chords_for_sequence, piece)
      times['note_seq'] += time.perf_counter() - start
    with memoised:
      start = time.perf_counter()
      theirs = _infer(reference.infer_chords_for_sequence, piece)
      times['note_seq_memoised'] += time.perf_counter() - start
    start = time.perf_counter()
    mine = _infer(ours.infer_chords_for_sequence, piece)
    times['ours'] += time.perf_counter() - start
    identical += mine == theirs
    inferred += theirs[1] is None
  n = len(pieces)
  if not shipped:
    del times['note_seq']
  return {'pieces': n, 'steps_per_quarter': list(steps_per_quarter),
          'pieces_with_chords': inferred, 'identical_pieces': identical,
          **{f'{k}_pieces_per_s': n / t for k, t in times.items()},
          'speedup': times['note_seq'] / times['ours'] if shipped else None,
          'speedup_vs_memoised': times['note_seq_memoised'] / times['ours']}


def _load() -> str:
  return ' '.join(f'{x:.2f}' for x in os.getloadavg())


def print_converter_tables(conv: dict, chords: dict) -> None:
  print(f"\nconverters on {conv['files']} files of {conv['folder']} "
        f"(Magenta with TensorFlow: {conv['tensorflow']})")
  print(f"{'converter':12s} {'ours files/s':>13s} {'Magenta files/s':>16s} {'speedup':>8s} "
        f"{'ours windows':>13s} {'Magenta windows':>16s}")
  for name, row in conv['converters'].items():
    print(f"{name:12s} {row['ours_files_per_s']:13.2f} {row['magenta_files_per_s']:16.2f} "
          f"{row['speedup']:8.1f} {row['ours_windows']:13d} {row['magenta_windows']:16d}")
  print_chord_table(chords)


def print_chord_table(chords: dict) -> None:
  print(f"\nchord inference alone: {chords['pieces']} pieces quantized at "
        f"{chords['steps_per_quarter']} steps per quarter "
        f"({chords['pieces_with_chords']} with chords, the rest raise), identical "
        f"annotations or exception on {chords['identical_pieces']}/{chords['pieces']}")
  for key, label in (('note_seq', 'note-seq infer_chords_for_sequence'),
                     ('note_seq_memoised', 'note-seq, transition matrix memoised'),
                     ('ours', 'ours (data/chord_inference.py)')):
    if key + '_pieces_per_s' in chords:
      print(f"{label:40s} {chords[key + '_pieces_per_s']:9.2f} pieces/s")
  if chords['speedup'] is not None:
    print(f"speedup {chords['speedup']:.1f}x", end=' ')
  print(f"(vs memoised note-seq {chords['speedup_vs_memoised']:.1f}x)")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('folder')
  parser.add_argument('--max_files', type=int, default=None)
  parser.add_argument('--workers', type=int, default=None)
  parser.add_argument('--converters', action='store_true',
                      help='files/s per converter, ours against Magenta\'s code')
  parser.add_argument('--chord_inference', action='store_true',
                      help='chord inference alone, ours against memoised note-seq, '
                           'every piece at 4 and 24 steps per quarter (equivalence run)')
  parser.add_argument('--magenta_src', default=None,
                      help='folder holding Magenta\'s magenta/ package (with --converters)')
  args = parser.parse_args()
  if args.chord_inference:
    load_before = _load()
    chords = chord_inference_throughput(args.folder, args.max_files, (4, 24), shipped=False)
    print(f'load average before: {load_before}, after: {_load()}')
    print_chord_table(chords)
    print(json.dumps({'chord_inference': chords, 'load_before': load_before,
                      'load_after': _load()}))
    return
  if args.converters:
    if not args.magenta_src:
      parser.error('--converters needs --magenta_src')
    load_before = _load()
    conv = converter_throughput(args.folder, args.magenta_src, args.max_files or 10)
    chords = chord_inference_throughput(args.folder, args.max_files or 10)
    print(f'load average before: {load_before}, after: {_load()}')
    print_converter_tables(conv, chords)
    print(json.dumps({'converters': conv, 'chord_inference': chords,
                      'load_before': load_before, 'load_after': _load()}))
    return
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
