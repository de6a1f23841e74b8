"""The categorical family's converter table: config -> converter.

`config.encoding` picks the token encoding; the converters themselves live in
the data package (they know nothing of JAX or of families):

  melody     data/converters.MelodyConverter (+ `controls='triad_chords'`:
             data/chords.ChordMelodyConverter; `controls='multicontrol'`:
             data/multicontrol.MultiControlMelodyConverter, melody only)
  drums      data/converters.DrumsConverter
  trio       data/converters.TrioConverter
  multiperf  data/multiperf.MultiPerformanceConverter (+ chords)
"""

from __future__ import annotations

from musicvae_jax import meters
from musicvae_jax.data import chords, converters, multicontrol, multiperf

ENCODINGS = ('melody', 'drums', 'trio', 'multiperf')
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
  return controls


def make_converter(config):
  """The converter `config.encoding` (and `config.controls`) asks for, in
  `config.meter` (melody, drums and trio; the others read 4/4 only)."""
  controls = _controls(config)
  meter = config.get('meter', meters.DEFAULT)
  if config.encoding == 'melody':
    if config.melody_programs not in MELODY_PROGRAMS:
      raise ValueError(f"config.melody_programs={config.melody_programs!r}: "
                       "use 'mel_2bar' or 'all'")
    kw = dict(slice_bars=config.slice_bars, steps_per_quarter=config.steps_per_quarter,
              valid_programs=MELODY_PROGRAMS[config.melody_programs],
              max_windows=config.max_windows_per_sequence)
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
