"""magenta.js config.json of the GrooVAE family.

magenta-js' GrooveConverter (music/src/core/data.ts) takes {numSteps,
stepsPerQuarter, humanize, tapify, pitchClasses, splitInstruments}, and
model.ts decodes with its GrooveDecoder whenever the converter is a
GrooveConverter. Our encoder-input transformations map onto it as follows:

  ours                                      magenta.js GrooveConverter
  groove_humanize                           humanize (hits kept, velocities
                                            and offsets zeroed)
  groove_tapify + groove_fixed_velocities   tapify (the step's loudest hit on
                                            the open hi-hat channel, velocity
                                            zeroed, offset kept)
  groove_hits_as_controls                   "extraControls": [{"name": "hits",
                                            "depth": 9}] (the target hits, read
                                            by the encoder and every decoder
                                            step; pass them as
                                            controlArgs.extraControls.hits)
  inference drum map                        pitchClasses (always written: note_seq's
                                            map differs from magenta.js' default)

What magenta.js cannot represent (`to_spec` raises ValueError naming the
key): tapify that keeps velocities and velocities zeroed without tapify or
humanize (`groove_tapify` / `groove_fixed_velocities`: magenta.js zeroes
velocities exactly under humanize or tapify); note dropout
(`groove_max_note_dropout_probability`) and removed instruments
(`groove_add_instruments`), which GrooveConverter does not do; a hierarchical
decoder (`use_hier`).
"""

from __future__ import annotations

import ml_collections

from musicvae_jax import config_base
from musicvae_jax.magenta import js_limits
from musicvae_jax.data import encodings

CONVERTERS = ('GrooveConverter',)
HITS_CONTROL = 'hits'


def _fail(config, key: str, why: str):
  return ValueError(f'config.{key}={config.get(key)!r}: {why}')


def _classes() -> list[list[int]]:
  # The inference drum map (Magenta's REDUCED_DRUM_PITCH_CLASSES, note_seq's 9
  # classes), which GrooVAE reads and writes NoteSequences with.
  return [list(c) for c in encodings.DRUM_PITCH_CLASSES]


def to_spec(config: ml_collections.ConfigDict) -> dict:
  """The config.json of a GrooVAE model (module docstring)."""
  humanize = bool(config.get('groove_humanize', False))
  tapify = bool(config.get('groove_tapify', False))
  fixed = bool(config.get('groove_fixed_velocities', False))
  if config.get('groove_max_note_dropout_probability', 0.0):
    raise _fail(config, 'groove_max_note_dropout_probability',
                "magenta.js' GrooveConverter has no note dropout")
  if tuple(config.get('groove_add_instruments', ())):
    raise _fail(config, 'groove_add_instruments',
                "magenta.js' GrooveConverter does not remove instruments")
  if tapify and not (fixed or humanize):
    raise _fail(config, 'groove_tapify', "magenta.js' tapify also zeroes "
                'velocities (set groove_fixed_velocities)')
  if fixed and not (tapify or humanize):
    raise _fail(config, 'groove_fixed_velocities', 'magenta.js zeroes velocities '
                'only with humanize or tapify')
  if config.get('use_hier', False):
    raise _fail(config, 'use_hier', 'the GrooVAE decoder is flat')
  if config.get('encoder_levels', ()):
    raise _fail(config, 'encoder_levels', 'the GrooVAE encoder is flat')
  args: dict = {'numSteps': config_base.sequence_length(config)}
  if config.steps_per_quarter != 4:
    args['stepsPerQuarter'] = int(config.steps_per_quarter)
  if humanize:
    args['humanize'] = True
  if tapify:
    args['tapify'] = True
  args['pitchClasses'] = _classes()
  spec: dict = {'type': 'MusicVAE', 'dataConverter': {'type': 'GrooveConverter', 'args': args}}
  if config.get('groove_hits_as_controls', False):
    spec['extraControls'] = [{'name': HITS_CONTROL, 'depth': len(_classes())}]
  return spec


def from_spec(spec: dict) -> ml_collections.ConfigDict | None:
  """Our config for a GrooveConverter config.json (None for another
  family's); ValueError naming what does not map."""
  args = js_limits.converter_args(spec, CONVERTERS)
  if args is None:
    return None
  if args.get('numSegments'):
    raise ValueError('GrooveConverter with numSegments: the GrooVAE decoder is flat')
  if args.get('splitInstruments'):
    raise ValueError('GrooveConverter splitInstruments: not supported (one step per '
                     'time step here)')
  classes = args.get('pitchClasses')
  if classes is not None and [list(c) for c in classes] != _classes():
    raise ValueError("GrooveConverter pitchClasses: only note_seq's 9 drum classes "
                     'are supported')
  if spec.get('chordEncoder'):
    raise ValueError('chordEncoder on a GrooveConverter: GrooVAE takes no chords')
  controls = spec.get('extraControls') or []
  hits = [{'name': HITS_CONTROL, 'depth': len(_classes())}]
  if controls and controls != hits:
    raise ValueError(f'GrooveConverter extraControls {controls}: only {hits} '
                     '(the target hits) are supported')
  config = config_base.load_config_file('groovae_4bar.py:magenta')
  config.steps_per_quarter = int(args.get('stepsPerQuarter') or 4)
  js_limits.set_bars(config, int(args.get('numSteps') or config_base.sequence_length(config)))
  config.groove_humanize = bool(args.get('humanize', False))
  config.groove_tapify = bool(args.get('tapify', False))
  config.groove_fixed_velocities = config.groove_tapify and not config.groove_humanize
  config.groove_hits_as_controls = bool(controls)
  return config


def problem(config) -> str:
  """'' when this config exports to magenta.js, else the line naming the
  config key magenta.js cannot represent (the family's declaration)."""
  return js_limits.problem(config, to_spec)
