"""Shared fixtures: the shared data folder and small MIDI files made with
pretty_midi (no network, no large files)."""

from __future__ import annotations

from pathlib import Path

import pytest


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
