"""Magenta's own MusicVAE data converters, loaded from a Magenta source tree
without TensorFlow, for benchmarks against ours.

    converters = magenta_converters.load('/path/to/magenta-source')
    converters['chords'].to_tensors(note_sequence)

`source` is a folder holding Magenta's `magenta/` package: a checkout of the
magenta/magenta repository (what Magenta's goldens in shared/fixtures were
made with; numpy-2 clean), or the PyPI wheel unpacked
(`pip download magenta==2.1.4 --no-deps` then unzip).

How, and why it is honest: `magenta/models/music_vae/data.py` and
`data_hierarchical.py` (and the `magenta.pipelines` modules they import)
import `tensorflow.compat.v1` and `tensorflow_datasets` at module level, but
their conversion code (`to_tensors`) calls TensorFlow only for
`tf.logging.*` and, in the multitrack converter, `tf.nest.flatten` of nested
lists of arrays. When TensorFlow is not installed, `_install_tensorflow_stub`
puts a stub in `sys.modules` that provides exactly those two (absl logging;
a Python flatten of nested lists and tuples), plus two names that the
dataset readers use as default arguments (`tf.python_io.tf_record_iterator`,
`tf.data.TFRecordDataset`: refuse to run), and raises on any other use. The
modules are loaded by path with empty parent packages, skipping
`magenta/__init__.py` and `magenta/models/music_vae/__init__.py` (they import
the models, which need real TensorFlow). Everything timed is Magenta's code.
With TensorFlow installed, the real one is used.

Converters (Magenta's configs.py, eval mode): melody = cat-mel_2bar_small,
chords = cat-mel_2bar_med_chords, drums = cat-drums_2bar_small,
trio = the 16-bar trio converter, multitrack = hier-multiperf_vel_1bar_med,
groove = groovae_2bar_humanize (LMD files are first reduced to their
Roland-mapped drum notes per piece, as the goldens in
shared/fixtures/magenta_data were made: Magenta's GrooveConverter raises on
other pitches), drum roll = nade-drums_2bar_reduced.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

from absl import logging

NAMES = ('melody', 'chords', 'drums', 'trio', 'multitrack', 'groove', 'drum roll')


class _Unprovided(types.ModuleType):
  """A stub module: any attribute not set raises (no silent fake TensorFlow)."""

  def __getattr__(self, name):
    raise AttributeError(f'the TensorFlow stub of scripts/magenta_converters.py does not '
                         f'provide {self.__name__}.{name}; install tensorflow')


def _flatten(structure) -> list:
  """`tf.nest.flatten` for nested lists / tuples (leaves in order)."""
  if isinstance(structure, (list, tuple)):
    return [leaf for item in structure for leaf in _flatten(item)]
  if isinstance(structure, dict):
    raise NotImplementedError('the TensorFlow stub flattens lists and tuples only')
  return [structure]


def _refuse(name: str):
  def refuse(*args, **kwargs):
    raise NotImplementedError(f'{name} is not in the TensorFlow stub; install tensorflow')
  return refuse


def _install_tensorflow_stub() -> str:
  """Real TensorFlow when importable, else the stub. Returns which."""
  if importlib.util.find_spec('tensorflow') is not None:
    return 'tensorflow'
  tf = _Unprovided('tensorflow')
  compat = _Unprovided('tensorflow.compat')
  v1 = _Unprovided('tensorflow.compat.v1')
  v1.logging = _Unprovided('tensorflow.compat.v1.logging')
  for level in ('debug', 'info', 'warning', 'warn', 'error', 'fatal'):
    setattr(v1.logging, level, getattr(logging, 'warning' if level == 'warn' else level))
  v1.nest = _Unprovided('tensorflow.compat.v1.nest')
  v1.nest.flatten = _flatten
  # Default arguments of Magenta's dataset readers (evaluated at import, never
  # called in conversion): callables that refuse to run.
  v1.python_io = _Unprovided('tensorflow.compat.v1.python_io')
  v1.python_io.tf_record_iterator = _refuse('tf.python_io.tf_record_iterator')
  v1.data = _Unprovided('tensorflow.compat.v1.data')
  v1.data.TFRecordDataset = _refuse('tf.data.TFRecordDataset')
  tf.compat, compat.v1 = compat, v1
  sys.modules.update({'tensorflow': tf, 'tensorflow.compat': compat,
                      'tensorflow.compat.v1': v1,
                      'tensorflow_datasets': _Unprovided('tensorflow_datasets')})
  return 'stub (tf.logging, tf.nest.flatten)'


def _empty_package(name: str, path: Path) -> None:
  if name not in sys.modules:
    package = types.ModuleType(name)
    package.__path__ = [str(path)]
    sys.modules[name] = package


def load_modules(source: str | Path):
  """(Magenta's `data`, `data_hierarchical` modules, which TensorFlow)."""
  root = Path(source).expanduser().resolve() / 'magenta'
  if not (root / 'models' / 'music_vae' / 'data.py').is_file():
    raise FileNotFoundError(f'{root}/models/music_vae/data.py not found: pass the folder '
                            f'holding the magenta package')
  which = _install_tensorflow_stub()
  _empty_package('magenta', root)
  _empty_package('magenta.pipelines', root / 'pipelines')
  _empty_package('magenta.models', root / 'models')
  _empty_package('magenta.models.music_vae', root / 'models' / 'music_vae')
  data = importlib.import_module('magenta.models.music_vae.data')
  hierarchical = importlib.import_module('magenta.models.music_vae.data_hierarchical')
  return data, hierarchical, which


def reduce_to_roland_drums(ns, data):
  """The goldens' reduction for GrooVAE on LMD: per piece (split at time
  changes), the drum notes whose pitch Magenta's GrooveConverter maps; pieces
  without any are dropped."""
  import note_seq
  known = {p for pitches in data.ROLAND_DRUM_PITCH_CLASSES for p in pitches}
  pieces = []
  for piece in note_seq.sequences_lib.split_note_sequence_on_time_changes(ns):
    notes = [n for n in piece.notes if n.is_drum and n.pitch in known]
    if notes:
      del piece.notes[:]
      piece.notes.extend(notes)
      pieces.append(piece)
  return pieces


def load(source: str | Path) -> tuple[dict, str]:
  """({name: Magenta converter in eval mode} for NAMES, which TensorFlow)."""
  import note_seq
  data, hierarchical, which = load_modules(source)
  converters = {
      'melody': data.OneHotMelodyConverter(
          valid_programs=data.MEL_PROGRAMS, skip_polyphony=False, max_bars=100,
          slice_bars=2, steps_per_quarter=4),
      'chords': data.OneHotMelodyConverter(
          max_bars=100, slice_bars=2, steps_per_quarter=4,
          chord_encoding=note_seq.TriadChordOneHotEncoding()),
      'drums': data.DrumsConverter(max_bars=100, slice_bars=2, steps_per_quarter=4,
                                   roll_input=True),
      'trio': data.TrioConverter(steps_per_quarter=4, slice_bars=16, gap_bars=2),
      'multitrack': hierarchical.MultiInstrumentPerformanceConverter(
          num_velocity_bins=8, hop_size_bars=1, max_num_instruments=8,
          max_events_per_instrument=64),
      'groove': data.GrooveConverter(
          split_bars=2, steps_per_quarter=4, quarters_per_bar=4,
          max_tensors_per_notesequence=20, humanize=True,
          pitch_classes=data.ROLAND_DRUM_PITCH_CLASSES,
          inference_pitch_classes=data.REDUCED_DRUM_PITCH_CLASSES),
      'drum roll': data.DrumsConverter(max_bars=100, slice_bars=2, steps_per_quarter=4,
                                       roll_input=True, roll_output=True),
  }
  for converter in converters.values():
    converter.set_mode('eval')
  return converters, which


def file_tensors(name: str, converter, path: str, data=None) -> int:
  """Magenta's path for one MIDI file: note_seq's reader, then `to_tensors`
  (groove: on each reduced piece). Returns the number of windows."""
  import note_seq
  ns = note_seq.midi_file_to_note_sequence(path)
  if name == 'groove':
    data = data or sys.modules['magenta.models.music_vae.data']
    return sum(len(converter.to_tensors(piece).outputs)
               for piece in reduce_to_roland_drums(ns, data))
  return len(converter.to_tensors(ns).outputs)
