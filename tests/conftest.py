"""Shared fixtures: the shared data folder and small MIDI files made with
pretty_midi (no network, no large files)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# One persistent compilation cache for the whole test run (the controller
# makes it, xdist workers inherit its path): many tests train or decode the
# same tiny configs, and a resumed run in the same process compiles the same
# programs again. JAX keys entries by program, so a hit is the same
# executable; each process switches it on before anything compiles.
_XLA_CACHE_ENV = 'MUSICVAE_TEST_XLA_CACHE'


def pytest_configure(config):
  if not hasattr(config, 'workerinput') and _XLA_CACHE_ENV not in os.environ:
    os.environ[_XLA_CACHE_ENV] = tempfile.mkdtemp(prefix='musicvae_test_xla_')
    config._musicvae_xla_cache = os.environ[_XLA_CACHE_ENV]  # pylint: disable=protected-access
  from musicvae_jax import compile_cache
  compile_cache.enable(os.environ[_XLA_CACHE_ENV])


def pytest_unconfigure(config):
  folder = getattr(config, '_musicvae_xla_cache', None)
  if folder:
    shutil.rmtree(folder, ignore_errors=True)


def _shared() -> Path:
  return Path(__file__).resolve().parents[2] / 'shared'


@pytest.fixture(scope='session')
def shared_dir() -> Path:
  """`<repo>/../shared`; skips the test when it is absent."""
  path = _shared()
  if not path.is_dir():
    pytest.skip(f'{path} not present (shared data lives outside the repository)')
  return path


@pytest.fixture(scope='session')
def lmd_files(shared_dir) -> list[Path]:
  """Every LMD file of ../shared/data/lmd/{train,eval}, sorted."""
  files = sorted((shared_dir / 'data' / 'lmd').glob('*/*.mid'))
  if not files:
    pytest.skip('no LMD files in ../shared/data/lmd')
  return files


def write_midi(path, notes, program=0, is_drum=False, qpm=120.0, resolution=220,
               time_signature=(4, 4), extra_tracks=()):
  """Writes a MIDI file: `notes` are (pitch, start_s, end_s[, velocity]).

  `extra_tracks`: more (notes, program, is_drum) instruments.
  """
  import pretty_midi
  midi = pretty_midi.PrettyMIDI(initial_tempo=qpm, resolution=resolution)
  if time_signature:
    midi.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
  for track_notes, track_program, track_drum in ((notes, program, is_drum),) + tuple(extra_tracks):
    instrument = pretty_midi.Instrument(program=track_program, is_drum=track_drum)
    for note in track_notes:
      pitch, start, end = note[:3]
      velocity = note[3] if len(note) > 3 else 100
      instrument.notes.append(pretty_midi.Note(velocity, pitch, start, end))
    midi.instruments.append(instrument)
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  midi.write(str(path))
  return path


def scale_notes(bars=4, qpm=120.0, base=60, step_s=None):
  """A stepwise melody of eighth notes over `bars` 4/4 bars."""
  step = step_s or 60.0 / qpm / 2
  count = bars * 8
  return [(base + (i % 8), i * step, (i + 1) * step) for i in range(count)]


def fresh_params(config):
  """Freshly initialised parameters (seed 0) of `config`'s model, as its
  family builds it (inference tests: latency and equalities need no training)."""
  import jax
  from musicvae_jax import family, steps
  parts = family.build(config)
  batch = parts.objective.example_batch(config, 2)
  return jax.jit(lambda b: steps.init_params(parts.model, parts.objective,
                                             jax.random.key(0), b))(batch)


@pytest.fixture
def make_midi(tmp_path):
  """`make_midi(name, notes=None, **kw)` -> Path of a small MIDI file."""
  def make(name='song.mid', notes=None, **kwargs):
    return write_midi(tmp_path / name, scale_notes() if notes is None else notes, **kwargs)
  return make


def pytest_terminal_summary(terminalreporter, config):
  """Adds up the faults tests/test_faults.py injected (all xdist workers)."""
  factory = getattr(config, '_tmp_path_factory', None)
  if factory is None:
    return
  try:
    path = factory.getbasetemp() / 'fault_counts.jsonl'
  except Exception:  # pylint: disable=broad-except
    return
  if not path.exists():
    return
  import json
  entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
  total = {k: sum(e[k] for e in entries) for k in ('injected', 'recovered', 'lost')}
  terminalreporter.write_line(
      f"fault injection: {total['injected']} injected, {total['recovered']} "
      f"recovered, {total['lost']} lost ({len(entries)} scenarios; {path})")


TINY_MOTIFS = [[60, 62, 64, 65], [72, 71, 69, 67], [60, 64, 67, 72], [67, 67, 62, 62]]


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
  """A tiny 2-bar melody model trained for 20 steps on 12 small files, with
  every logging interval hit (samples and histograms at step 10 and 20).

  Returns (root, midi_dir, workdir). Shared by the generate, TensorBoard,
  notebook and magenta.js tests; about 10 s on 2 CPU cores. Under
  pytest-xdist the workers share one run (trained by the first, under a lock).
  """
  import os

  import filelock
  if not os.environ.get('PYTEST_XDIST_WORKER'):
    root = tmp_path_factory.mktemp('tiny_run')
    return _train_tiny_run(root)
  # The session's base folder, common to all workers of this run.
  root = tmp_path_factory.getbasetemp().parent / 'tiny_run'
  root.mkdir(exist_ok=True)
  with filelock.FileLock(str(root / '.lock')):
    if not (root / 'done').exists():
      _train_tiny_run(root)
      (root / 'done').touch()
  return root, root / 'midi', root / 'run'


def _train_tiny_run(root):
  from musicvae_jax import config_base, trainer
  data = root / 'midi'
  for i, motif in enumerate(TINY_MOTIFS):
    for shift in (0, 2, 5):
      # 3 bars, one step up per bar: 2 distinct 2-bar windows per file.
      notes = [(motif[b % 4] + shift + 2 * (b // 4), b * 0.5, b * 0.5 + 0.45)
               for b in range(12)]
      write_midi(data / f'm{i}_{shift}.mid', notes, qpm=120.0)
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  config.train_dir = str(data)
  config.cache_dir = str(root / 'cache')
  config.eval_fraction = 0.2
  config.num_workers = 1
  config.max_transpose = 0
  config.z_size, config.enc_rnn_sizes, config.dec_rnn_sizes = 8, (32,), (32,)
  config.batch_size, config.num_steps = 8, 20
  config.sampling_schedule = 'none'
  config.log_every_steps = config.advanced_every_steps = 10
  config.eval_every_steps = config.checkpoint_every_steps = 20
  trainer.train_and_evaluate(config, root / 'run')
  return root, data, root / 'run'
