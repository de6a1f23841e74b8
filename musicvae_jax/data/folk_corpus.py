"""The built-in default data: public-domain folk tunes bundled with music21.

With no `train_dir`, training reads MIDI files converted once from the ABC
collections that ship inside the music21 package (no download):

* `essenFolksong`  Essen folksong collection (German and other European songs)
* `oneills1850`    O'Neill's Music of Ireland (1850 tunes)
* `ryansMammoth`   Ryan's Mammoth Collection (1883)
* `airdsAirs`      Aird's Selection of Scotch, English, Irish and Foreign Airs
* `miscFolk`       American fife and Northumbrian minstrelsy tunes

One corpus per meter (a config's `meter`, meters.py). The default, 4/4,
keeps the tunes whose every meter (`M:` field, inline ones included) has
four quarter notes per bar: 4/4, C, C| and 2/2. That is the rule of
Magenta's melody converter (16 steps per bar at 4 steps per quarter, so 2/2
passes as well as 4/4). Another meter keeps the tunes written in it alone
(every `M:` field 3/4 for the 3/4 corpus: about 1900 tunes; 6/8: about
2150; 2/4: about 3550; 9/8: about 175). Tunes in other meters are skipped,
never re-barred. Tunes whose notes are identical to an earlier tune (the
same air printed in two collections) are kept once.

Layout, under `<cache_dir or paths.cache_root()>/folk_corpus_v1/` (another
meter: `folk_corpus_v1_3-4/`, `folk_corpus_v1_6-8/`, ...):

    train/<collection>-<file>-<tune index>.mid
    eval/<...>.mid          every 20th kept tune, in canonical order
    DONE.json               counts, music21 version, elapsed seconds

The folder is built in a temporary sibling folder and renamed into place, so
it is either complete or absent; concurrent builders race harmlessly (the
first rename wins). The conversion is deterministic: the same music21 version
gives the same files whatever the number of workers.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import sys
import tempfile
import time
from typing import Callable, Sequence

from musicvae_jax import meters, paths

CORPUS_NAME = 'folk_corpus_v1'
COLLECTIONS = ('essenFolksong', 'oneills1850', 'ryansMammoth', 'airdsAirs',
               'miscFolk')
# `M:` values with four quarter notes per bar (spaces removed).
FOUR_QUARTER_METERS = frozenset({'4/4', 'C', 'C|', '2/2'})


def meter_fields(meter: str = meters.DEFAULT) -> frozenset:
  """The `M:` values (spaces removed) a corpus of `meter` keeps."""
  name = meters.parse(meter).name
  return FOUR_QUARTER_METERS if name == meters.DEFAULT else frozenset({name})
EVAL_EVERY = 20
DONE_FILE = 'DONE.json'

Task = tuple[str, str]  # (file stem, ABC text of one tune)


def _default_cache_dir() -> pathlib.Path:
  return paths.cache_root()


def corpus_root(cache_dir: str | os.PathLike | None = None,
                max_tunes: int | None = None,
                meter: str = meters.DEFAULT) -> pathlib.Path:
  """Folder where the corpus lives (whether or not it is built yet)."""
  base = pathlib.Path(cache_dir).expanduser() if cache_dir else (
      _default_cache_dir())
  name = CORPUS_NAME
  if meters.parse(meter).name != meters.DEFAULT:
    name += '_' + meters.parse(meter).name.replace('/', '-')
  if max_tunes is not None:
    name += f'_max{max_tunes}'
  return base / name


def _music21_corpus_dir() -> pathlib.Path:
  import music21  # pylint: disable=g-import-not-at-top
  return pathlib.Path(music21.__file__).parent / 'corpus'


def _safe(text: str) -> str:
  return re.sub(r'[^A-Za-z0-9_.]+', '_', text).strip('_') or 'x'


def candidate_tunes(max_tunes: int | None = None,
                    meter: str = meters.DEFAULT) -> list[Task]:
  """(name, ABC text) of the selected tunes, in canonical order (cheap).

  Selection is on the ABC text alone: every `M:` field of the tune (header
  and inline) must be one of `meter_fields(meter)` (four-quarter meters for
  4/4), and there must be one.
  """
  fields = meter_fields(meter)
  # pylint: disable=g-import-not-at-top
  from musicvae_jax.data import music21_io
  root = _music21_corpus_dir()
  tasks: list[Task] = []
  for collection in COLLECTIONS:
    for path in sorted((root / collection).glob('*.abc')):
      data = path.read_bytes()
      try:
        text = data.decode('utf-8')
      except UnicodeDecodeError:
        text = data.decode('latin-1')
      for index, tune in enumerate(music21_io.split_abc_tunes(text)):
        found = [m.replace(' ', '')
                 for m in music21_io.abc_header_fields(tune, 'M')]
        if found and all(m in fields for m in found):
          name = f'{collection}-{_safe(path.stem)}-{index:04d}'
          tasks.append((name, tune))
          if max_tunes is not None and len(tasks) >= max_tunes:
            return tasks
  return tasks


def _in_meter(ns, meter: str = meters.DEFAULT) -> bool:
  """Every time signature is one `meter` takes (`meters.accepts`; 4/4: four
  quarter notes per bar, so 2/2 too), and there is one."""
  return bool(ns.time_signatures) and all(
      meters.accepts(meter, ts.numerator, ts.denominator)
      for ts in ns.time_signatures)


def _content_key(ns) -> str:
  """Hash of the notes (pitch, start, end in ms) for de-duplication."""
  notes = sorted((n.pitch, round(n.start_time * 1000), round(n.end_time * 1000))
                 for n in ns.notes)
  return hashlib.sha1(repr(notes).encode()).hexdigest()


def _convert_one(task: Task, out_dir: str,
                 meter: str = meters.DEFAULT) -> tuple[str, str | None, str]:
  """Converts one tune to `<out_dir>/<name>.mid`.

  Returns (name, content key or None when skipped, reason when skipped).
  """
  # pylint: disable=g-import-not-at-top
  import note_seq
  from musicvae_jax.data import music21_io
  name, tune = task
  try:
    ns = music21_io.score_to_note_sequence(
        music21_io.parse_abc_tune(tune), encoding='abc')
  except music21_io.BadInputError as e:
    return name, None, str(e)
  if not _in_meter(ns, meter):
    return name, None, f'not {meter} after parsing'
  ns.sequence_metadata.title = ns.sequence_metadata.title or name
  note_seq.sequence_proto_to_midi_file(ns, os.path.join(out_dir,
                                                        name + '.mid'))
  return name, _content_key(ns), ''


def _convert_chunk(tasks: Sequence[Task], out_dir: str,
                   meter: str = meters.DEFAULT):
  import warnings  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return [_convert_one(t, out_dir, meter) for t in tasks]


def _worker_init() -> None:
  import warnings  # pylint: disable=g-import-not-at-top
  warnings.simplefilter('ignore')
  import music21  # pylint: disable=g-import-not-at-top,unused-import
  import note_seq  # pylint: disable=g-import-not-at-top,unused-import


def _resolve_workers(num_workers: int) -> int:
  if num_workers > 0:
    return num_workers
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # Not on Linux.
    return max(1, os.cpu_count() or 1)


def _convert_all(tasks: list[Task], out_dir: str, num_workers: int,
                 log: Callable[[str], None], meter: str = meters.DEFAULT):
  """Converts every task; results in task order whatever the worker count."""
  chunk = 24
  chunks = [tasks[i:i + chunk] for i in range(0, len(tasks), chunk)]
  results = []
  start = time.time()
  next_report = 1000
  workers = min(_resolve_workers(num_workers), len(chunks))
  if workers <= 1:
    for c in chunks:
      results.extend(_convert_chunk(c, out_dir, meter))
      if len(results) >= next_report:
        log(f'{len(results)}/{len(tasks)} tunes ({time.time() - start:.0f} s)')
        next_report += 1000
    return results
  # Spawned workers: forking a process that has started JAX is unsafe.
  context = multiprocessing.get_context('spawn')
  with concurrent.futures.ProcessPoolExecutor(
      workers, mp_context=context, initializer=_worker_init) as pool:
    for part in pool.map(_convert_chunk, chunks, [out_dir] * len(chunks),
                         [meter] * len(chunks)):
      results.extend(part)
      if len(results) >= next_report:
        log(f'{len(results)}/{len(tasks)} tunes ({time.time() - start:.0f} s)')
        next_report += 1000
  return results


def _is_done(root: pathlib.Path) -> bool:
  return (root / DONE_FILE).is_file()


def _build(root: pathlib.Path, max_tunes: int | None, num_workers: int,
           progress: bool, meter: str = meters.DEFAULT) -> None:
  import music21  # pylint: disable=g-import-not-at-top

  def log(message: str) -> None:
    if progress:
      print(f'[folk corpus] {message}', file=sys.stderr, flush=True)

  start = time.time()
  root.parent.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f'.{root.name}.tmp-',
                                      dir=root.parent))
  try:
    tasks = candidate_tunes(max_tunes, meter)
    kind = 'four-quarter' if meter == meters.DEFAULT else meter
    log(f'converting {len(tasks)} {kind} folk tunes from music21 '
        f'{music21.__version__} into {root} (one time)')
    staging = tmp / 'all'
    staging.mkdir()
    results = _convert_all(tasks, str(staging), num_workers, log, meter)

    (tmp / 'train').mkdir()
    (tmp / 'eval').mkdir()
    seen: set[str] = set()
    skipped: dict[str, int] = {}
    kept = duplicates = 0
    per_collection: dict[str, int] = {}
    for name, key, reason in results:  # Canonical (task) order.
      if key is None:
        skipped[reason.split(':')[0]] = skipped.get(reason.split(':')[0], 0) + 1
        continue
      source = staging / f'{name}.mid'
      if key in seen:
        duplicates += 1
        source.unlink()
        continue
      seen.add(key)
      split = 'eval' if kept % EVAL_EVERY == EVAL_EVERY - 1 else 'train'
      source.rename(tmp / split / source.name)
      kept += 1
      collection = name.split('-', 1)[0]
      per_collection[collection] = per_collection.get(collection, 0) + 1
    staging.rmdir()
    elapsed = time.time() - start
    done = {
        'corpus': CORPUS_NAME,
        'music21_version': music21.__version__,
        'collections': list(COLLECTIONS),
        'meter': meter,
        'meters': sorted(meter_fields(meter)),
        'max_tunes': max_tunes,
        'candidate_tunes': len(tasks),
        'midi_files': kept,
        'train_files': kept - kept // EVAL_EVERY,
        'eval_files': kept // EVAL_EVERY,
        'per_collection': per_collection,
        'duplicates_dropped': duplicates,
        'skipped': skipped,
        'seconds': round(elapsed, 1),
    }
    (tmp / DONE_FILE).write_text(json.dumps(done, indent=2, sort_keys=True))
    try:
      os.rename(tmp, root)
    except OSError:
      if not _is_done(root):  # Not a concurrent winner: a stale folder.
        shutil.rmtree(root, ignore_errors=True)
        os.rename(tmp, root)
    log(f'{kept} MIDI files ({done["eval_files"]} for eval) in {elapsed:.1f} s')
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def default_corpus_dir(cache_dir: str | os.PathLike | None = None,
                       max_tunes: int | None = None,
                       num_workers: int = 0,
                       progress: bool = True,
                       meter: str = meters.DEFAULT) -> pathlib.Path:
  """Folder of the built-in folk corpus MIDI (`train/` and `eval/` inside).

  Converts the tunes on the first call (about a minute on two cores) and
  returns at once afterwards. Reading it recursively gives every tune.

  Args:
    cache_dir: parent folder; default `paths.cache_root()`.
    max_tunes: convert only the first N selected tunes (tests, smoke runs);
      such a corpus lives in its own folder `folk_corpus_v1_max<N>`.
    num_workers: conversion processes; 0 means one per available core.
    progress: print progress to stderr while converting.
    meter: the tunes of this meter ('4/4': 4/4 and 2/2; '3/4', '6/8', ...:
      that meter alone), each meter in its own folder.
  """
  root = corpus_root(cache_dir, max_tunes, meter)
  if not _is_done(root):
    _build(root, max_tunes, num_workers, progress, meters.parse(meter).name)
  return root


def default_corpus_dirs(cache_dir: str | os.PathLike | None = None,
                        max_tunes: int | None = None,
                        num_workers: int = 0,
                        progress: bool = True,
                        meter: str = meters.DEFAULT
                        ) -> tuple[pathlib.Path, pathlib.Path]:
  """(train_dir, eval_dir) of the built-in folk corpus (every 20th tune is
  in eval). Same arguments as `default_corpus_dir`."""
  root = default_corpus_dir(cache_dir, max_tunes, num_workers, progress, meter)
  return root / 'train', root / 'eval'


def corpus_info(root: str | os.PathLike) -> dict:
  """The counts stored in a built corpus' `DONE.json`."""
  return json.loads((pathlib.Path(root) / DONE_FILE).read_text())
