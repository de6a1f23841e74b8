"""magenta.js config.json of the NADE drums family (nade-drums_2bar_*).

magenta-js reads these as a DrumRollConverter {numSteps, pitchClasses}
(music/src/core/data.ts: the encoder reads the roll, the D class bits and a
"no hits" bit; decoded frames are the D bits) with the NadeDecoder model.ts
builds whenever `decoder/nade/w_enc` is among the weights (greedy: each bit
is 1 where its conditional is >= 0.5, as our `temperature=None` sample).

  ours                                  magenta.js
  drum_pitch_classes 'reduced' | 'full' pitchClasses: the 9 (note_seq) or 61
                                        (one pitch each) classes, always
                                        written (neither is magenta.js' default)
  nade_num_hidden, sizes                read off the weights

What magenta.js cannot represent (`to_spec` raises ValueError naming the
key): a grid other than 4 steps per quarter (`steps_per_quarter`); nothing
else of these configs is outside what DrumRollConverter and NadeDecoder read.
"""

from __future__ import annotations

import ml_collections

from musicvae_jax import config_base
from musicvae_jax.families.nade import data
from musicvae_jax.magenta import js_limits

CONVERTERS = ('DrumRollConverter',)
CLASS_SETS = ('reduced', 'full')


def _classes(name: str) -> list[list[int]]:
  return [list(c) for c in data.pitch_classes(name)]


def to_spec(config: ml_collections.ConfigDict) -> dict:
  """The config.json of a NADE drums model (module docstring)."""
  if config.steps_per_quarter != 4:
    raise ValueError(f'config.steps_per_quarter={config.steps_per_quarter!r}: '
                     'magenta.js reads drum rolls at 4 steps per quarter')
  args = {'numSteps': config_base.sequence_length(config),
          'pitchClasses': _classes(config.get('drum_pitch_classes', 'reduced'))}
  return {'type': 'MusicVAE', 'dataConverter': {'type': 'DrumRollConverter', 'args': args}}


def from_spec(spec: dict) -> ml_collections.ConfigDict | None:
  """Our config for a DrumRollConverter config.json (None for another
  family's); ValueError naming what does not map."""
  args = js_limits.converter_args(spec, CONVERTERS)
  if args is None:
    return None
  if args.get('numSegments'):
    raise ValueError('DrumRollConverter with numSegments: the NADE decoder is flat')
  if spec.get('chordEncoder') or spec.get('extraControls'):
    raise ValueError('control inputs on a DrumRollConverter: the NADE drums model '
                     'takes none')
  classes = args.get('pitchClasses')
  found = 'reduced' if classes is None else next(
      (name for name in CLASS_SETS if [list(c) for c in classes] == _classes(name)), None)
  if found is None:
    raise ValueError(f'DrumRollConverter pitchClasses ({len(classes)} classes): only '
                     "note_seq's 9 classes or Magenta's 61 are supported")
  config = config_base.load_config_file(
      'nade_drums_2bar.py:full' if found == 'full' else 'nade_drums_2bar.py:reduced')
  js_limits.set_bars(config, int(args.get('numSteps') or config_base.sequence_length(config)))
  return config


def problem(config) -> str:
  """'' when this config exports to magenta.js, else the line naming the
  config key magenta.js cannot represent (the family's declaration)."""
  return js_limits.problem(config, to_spec)
