"""The categorical family's converter table: config -> converter.

`config.encoding` picks the token encoding; the converters themselves live in
the data package (they know nothing of JAX or of families):

  melody     data/converters.MelodyConverter (+ `controls='triad_chords'`:
             data/chords.ChordMelodyConverter; `controls='multicontrol'`:
             data/multicontrol.MultiControlMelodyConverter, melody only)
  drums      data/converters.DrumsConverter
  trio       data/converters.TrioConverter
  multiperf  data/multiperf.MultiPerformanceConverter (+ chords)
  melody_rhythm, melody_shape
             data/melody_control_windows: a melody window's rhythm (bits) or
             shape (Parsons classes), magenta.js' MelodyRhythmConverter /
             MelodyShapeConverter (4/4, no controls)
"""

from __future__ import annotations

from musicvae_jax import meters
from musicvae_jax.data import chords, converters, melody_control_windows, multicontrol, multiperf

ENCODINGS = ('melody', 'drums', 'trio', 'multiperf', 'melody_rhythm', 'melody_shape')
# A melody's control signal modelled on its own: encoding -> converter class.
MELODY_CONTROL_CONVERTERS = {
    'melody_rhythm': melody_control_windows.MelodyRhythmConverter,
    'melody_shape': melody_control_windows.MelodyShapeConverter,
}
CONTROLS = ('', 'triad_chords', 'multicontrol')
MELODY_PROGRAMS = {'mel_2bar': converters.MEL_2BAR_PROGRAMS, 'all': None}


def _controls(config) -> str:
  controls = config.get('controls', '')
  if controls not in CONTROLS:
    raise ValueError(f"config.controls={controls!r}: use '' (none), 'triad_chords' or "
                     "'multicontrol' (melody)")
  if controls == 'multicontrol' and config.encoding != 'melody':
    raise ValueError(f"config.controls='multicontrol' is for melodies, not "
                     f"{config.encoding!r}")
  if controls and config.encoding in MELODY_CONTROL_CONVERTERS:
    raise ValueError(f'config.controls={controls!r}: a {config.encoding} model takes '
                     "no controls (use '')")
  return controls


def _melody_args(config) -> dict:
  """The melody windowing arguments every melody-based converter shares."""
  if config.melody_programs not in MELODY_PROGRAMS:
    raise ValueError(f"config.melody_programs={config.melody_programs!r}: "
                     "use 'mel_2bar' or 'all'")
  return dict(slice_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
              valid_programs=MELODY_PROGRAMS[config.melody_programs],
              max_windows=config.max_windows_per_sequence)


def make_converter(config):
  """The converter `config.encoding` (and `config.controls`) asks for, in
  `config.meter` (melody, drums and trio; the others read 4/4 only)."""
  controls = _controls(config)
  meter = config.get('meter', meters.DEFAULT)
  if config.encoding in MELODY_CONTROL_CONVERTERS:
    meters.require_default(meter, config.encoding)
    return MELODY_CONTROL_CONVERTERS[config.encoding](**_melody_args(config))
  if config.encoding == 'melody':
    kw = _melody_args(config)
    if controls == 'multicontrol':
      meters.require_default(meter, 'control-conditioned melody')
      return multicontrol.MultiControlMelodyConverter(**kw)
    if controls:
      meters.require_default(meter, 'chord-conditioned melody')
      return chords.ChordMelodyConverter(**kw)
    return converters.MelodyConverter(**kw, meter=meter)
  if config.encoding == 'drums':
    return converters.DrumsConverter(
        slice_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
        roll_input=bool(config.get('drum_roll_input', True)),
        max_windows=config.max_windows_per_sequence, meter=meter)
  if config.encoding == 'trio':
    return converters.TrioConverter(
        slice_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
        max_windows=config.max_windows_per_sequence, meter=meter)
  if config.encoding == 'multiperf':
    meters.require_default(meter, 'multitrack')
    return multiperf.MultiPerformanceConverter(
        max_num_instruments=config.max_num_instruments,
        max_events_per_instrument=config.max_events_per_instrument,
        max_windows=config.max_windows_per_sequence,
        chords=controls == 'triad_chords')
  raise ValueError(f'config.encoding={config.encoding!r}: the categorical family '
                   f'reads {", ".join(ENCODINGS)}')
