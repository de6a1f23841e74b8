"""magenta.js config.json of the categorical family (token softmax MusicVAE).

Our config                               config.json (magenta-js music/src/core/data.ts,
                                         music/src/music_vae/model.ts)
encoding 'melody'                        MelodyConverter {numSteps, minPitch 21, maxPitch 108}
encoding 'drums', drum_roll_input        DrumsConverter {numSteps, pitchClasses}
encoding 'drums', one-hot input          DrumsOneHotConverter {numSteps, pitchClasses}
encoding 'trio' (split_decoder)          TrioConverter {numSteps, melArgs, bassArgs,
                                         drumsArgs {pitchClasses}}
encoding 'multiperf'                     MultitrackConverter {numSteps, numSegments,
                                         stepsPerQuarter 24, totalSteps 96,
                                         numVelocityBins 8}
encoding 'melody_rhythm' (bits)          MelodyRhythmConverter {numSteps, minPitch 21,
                                         maxPitch 108}, "useBooleanDecoder": true
encoding 'melody_shape'                  MelodyShapeConverter {numSteps, minPitch 21,
                                         maxPitch 108}
use_hier, n_subsequences = S             numSegments S (model.ts then reads a
  with encoder_levels (T / S, S)         2-level hierarchical encoder)
controls 'triad_chords'                  "chordEncoder": "TriadChordEncoder"
controls 'multicontrol' (melody)         "chordEncoder": "TriadChordEncoder", "extraControls":
                                         [rhythm 1, shape 3, register 4] (in that order;
                                         data/multicontrol.py)
control_preprocessing_size               the checkpoint's control_preprocessing/ LSTM

`pitchClasses` is always written: ours are note_seq's 9 drum classes, which
differ from magenta.js' default map (22 and 26 added; 43 and 52 in other
classes); a config.json without it reads as ours.

What magenta.js cannot represent (`to_spec` raises ValueError naming the key):
token embeddings (`encoder_embed_size`, `decoder_embed_size`: magenta.js feeds
one-hots); a conductor without a 2-level hierarchical encoder of one segment
per conductor step (`encoder_levels`: hierdec-* models; model.ts reads the
hierarchical encoder whenever numSegments is set, and a flat one otherwise);
a conductor input other than one zero (`conductor_embed_size`); a trio whose
decoder is not split per instrument and a split decoder elsewhere
(`split_decoder`: model.ts splits exactly for TrioConverter); a grid other
than 4 steps per quarter for melody / drums / trio (`steps_per_quarter`);
control tracks other than triad chords and multicontrol (`controls`); a
hierarchical rhythm or shape model (`use_hier`: magenta.js' are flat).
`useBooleanDecoder` is read by magenta/tfjs.py (it must say whether the
converter's outputs are bits).
"""

from __future__ import annotations

import ml_collections

from musicvae_jax import config_base
from musicvae_jax.magenta import js_limits
from musicvae_jax.data import encodings, multiperf

CONVERTERS = ('MelodyConverter', 'DrumsConverter', 'DrumsOneHotConverter',
              'TrioConverter', 'MultitrackConverter', 'MelodyRhythmConverter',
              'MelodyShapeConverter')
# A melody's control signal modelled alone: our encoding <-> magenta.js' converter.
MELODY_CONTROL_TYPES = {'melody_rhythm': 'MelodyRhythmConverter',
                        'melody_shape': 'MelodyShapeConverter'}
CHORD_ENCODERS = {'triad_chords': 'TriadChordEncoder', 'multicontrol': 'TriadChordEncoder'}
# magenta.js' extraControls of a multicontrol model, in our column order.
MULTICONTROL_EXTRA = [{'name': 'rhythm', 'depth': 1}, {'name': 'shape', 'depth': 3},
                      {'name': 'register', 'depth': 4}]
_MELODY = {'minPitch': encodings.MIN_PITCH, 'maxPitch': encodings.MAX_PITCH}
_BASE = {  # (encoding, hierarchical) -> the config file a config.json starts from
    ('melody', False): 'mel_2bar.py:small', ('melody', True): 'hier_mel_16bar.py:full',
    ('drums', False): 'drums_2bar.py:small', ('drums', True): 'drums_2bar.py:small',
    ('trio', False): 'trio_16bar.py:flat', ('trio', True): 'hier_trio_16bar.py:full',
    ('multiperf', True): 'multiperf.py:med',
    ('melody_rhythm', False): 'mel_rhythm_2bar.py:cpu',
    ('melody_shape', False): 'mel_shape_2bar.py:cpu',
}
_ENCODINGS = {'MelodyConverter': 'melody', 'DrumsConverter': 'drums',
              'DrumsOneHotConverter': 'drums', 'TrioConverter': 'trio',
              'MultitrackConverter': 'multiperf',
              **{kind: encoding for encoding, kind in MELODY_CONTROL_TYPES.items()}}
# Encodings whose magenta.js converters read 4 steps per quarter.
_SIXTEENTHS = ('melody', 'drums', 'trio', *MELODY_CONTROL_TYPES)


def _fail(config, key: str, why: str):
  return ValueError(f'config.{key}={config.get(key)!r}: {why}')


def _drum_classes() -> list[list[int]]:
  return [list(c) for c in encodings.DRUM_PITCH_CLASSES]


def _multitrack_args() -> dict:
  return {'stepsPerQuarter': multiperf.STEPS_PER_QUARTER,
          'totalSteps': multiperf.MAX_SHIFT_STEPS,
          'numVelocityBins': multiperf.NUM_VELOCITY_BINS}


def _check(config) -> None:
  """Raises ValueError naming the first key magenta.js cannot represent."""
  for key in ('encoder_embed_size', 'decoder_embed_size'):
    if config.get(key, 0):
      raise _fail(config, key, 'magenta.js feeds one-hot tokens (no embeddings)')
  if config.encoding in MELODY_CONTROL_TYPES and config.use_hier:
    raise _fail(config, 'use_hier', f'magenta.js\' {MELODY_CONTROL_TYPES[config.encoding]} '
                'models are flat (no conductor)')
  steps = config_base.sequence_length(config)
  levels = tuple(config.get('encoder_levels', ()))
  if config.use_hier:
    segments = int(config.n_subsequences)
    if levels != (steps // segments, segments):
      raise _fail(config, 'encoder_levels',
                  f'magenta.js reads a conductor ({segments} segments) only with a '
                  f'2-level hierarchical encoder, levels ({steps // segments}, {segments})')
    if config.conductor_embed_size != 1:
      raise _fail(config, 'conductor_embed_size',
                  'magenta.js feeds its conductor one zero per step')
  elif levels:
    raise _fail(config, 'encoder_levels', 'magenta.js reads a hierarchical encoder '
                'only with a conductor (config.use_hier)')
  if bool(config.get('split_decoder', False)) != (config.encoding == 'trio'):
    raise _fail(config, 'split_decoder', 'magenta.js splits the decoder per '
                'instrument exactly for trios (TrioConverter)')
  if config.encoding in _SIXTEENTHS and config.steps_per_quarter != 4:
    raise _fail(config, 'steps_per_quarter', 'magenta.js reads melodies, drums, '
                'trios, rhythms and shapes at 4 steps per quarter')

  if config.get('controls', '') and config.controls not in CHORD_ENCODERS:
    raise _fail(config, 'controls', f'magenta.js chord encoders: {sorted(CHORD_ENCODERS)}')


def to_spec(config: ml_collections.ConfigDict) -> dict:
  """The config.json of a categorical model (module docstring)."""
  encoding = config.encoding
  if encoding not in _ENCODINGS.values():
    raise _fail(config, 'encoding', 'magenta.js has no data converter for it')
  _check(config)
  args: dict = {'numSteps': config_base.sequence_length(config)}
  if config.use_hier:
    args['numSegments'] = int(config.n_subsequences)
  if encoding == 'melody':
    kind = 'MelodyConverter'
    args.update(_MELODY)
  elif encoding == 'drums':
    kind = 'DrumsConverter' if config.get('drum_roll_input', True) else 'DrumsOneHotConverter'
    args['pitchClasses'] = _drum_classes()
  elif encoding == 'trio':
    kind = 'TrioConverter'
    args.update({'melArgs': dict(_MELODY), 'bassArgs': dict(_MELODY),
                 'drumsArgs': {'pitchClasses': _drum_classes()}})
  elif encoding in MELODY_CONTROL_TYPES:
    kind = MELODY_CONTROL_TYPES[encoding]
    args.update(_MELODY)
  else:
    kind = 'MultitrackConverter'
    args.update(_multitrack_args())
  spec = {'type': 'MusicVAE', 'dataConverter': {'type': kind, 'args': args}}
  if encoding == 'melody_rhythm':
    spec['useBooleanDecoder'] = True   # one logit per step (model.ts BooleanDecoder)
  if config.get('controls', ''):
    spec['chordEncoder'] = CHORD_ENCODERS[config.controls]
  if config.get('controls', '') == 'multicontrol':
    spec['extraControls'] = [dict(c) for c in MULTICONTROL_EXTRA]
  return spec


def _check_melody(args: dict, what: str) -> None:
  pitches = (args.get('minPitch', encodings.MIN_PITCH), args.get('maxPitch', encodings.MAX_PITCH))
  if pitches != (encodings.MIN_PITCH, encodings.MAX_PITCH):
    raise ValueError(f'{what} pitch range {pitches[0]}..{pitches[1]}: only '
                     f'{encodings.MIN_PITCH}..{encodings.MAX_PITCH} is supported')


def _check_drums(args: dict, what: str) -> None:
  classes = args.get('pitchClasses')
  if classes is not None and [list(c) for c in classes] != _drum_classes():
    raise ValueError(f'{what} pitchClasses: only note_seq\'s 9 drum classes are '
                     'supported')


def from_spec(spec: dict) -> ml_collections.ConfigDict | None:
  """Our config for a categorical config.json (None for another family's);
  ValueError naming what does not map."""
  args = js_limits.converter_args(spec, CONVERTERS)
  if args is None:
    return None
  kind = spec['dataConverter']['type']
  encoding = _ENCODINGS[kind]
  segments = int(args.get('numSegments') or 0)
  chords = spec.get('chordEncoder')
  if chords and chords not in CHORD_ENCODERS.values():
    raise ValueError(f'chordEncoder {chords!r}: supported '
                     f'{sorted(set(CHORD_ENCODERS.values()))}')
  extra = spec.get('extraControls') or []
  multicontrol = bool(extra)
  if extra and (kind != 'MelodyConverter' or chords != 'TriadChordEncoder'
                or [dict(c) for c in extra] != MULTICONTROL_EXTRA):
    raise ValueError(f'extraControls {extra} on a {kind} (chordEncoder {chords!r}): only '
                     f'{MULTICONTROL_EXTRA} on a MelodyConverter with a TriadChordEncoder '
                     'is read here')
  if (encoding, bool(segments)) not in _BASE:
    if encoding in MELODY_CONTROL_TYPES:
      raise ValueError(f'{kind} with numSegments={segments}: only flat rhythm / shape '
                       'models are read here')
    raise ValueError(f'{kind} without numSegments: magenta.js reads it hierarchically')
  config = config_base.load_config_file(_BASE[encoding, bool(segments)])
  num_steps = int(args.get('numSteps') or config_base.sequence_length(config))
  if encoding == 'multiperf':
    expected = _multitrack_args()
    given = {k: args.get(k) for k in expected}
    if given != expected or args.get('minPitch', 0) or args.get('maxPitch', 127) != 127:
      raise ValueError(f'MultitrackConverter {given}: only {expected}, pitches '
                       '0..127 are supported')
    config.max_num_instruments = segments
    config.max_events_per_instrument = num_steps // segments
  else:
    js_limits.set_bars(config, num_steps)
  if segments:
    if num_steps % segments:
      raise ValueError(f'numSegments={segments} does not divide numSteps={num_steps}')
    config.use_hier = True
    config.n_subsequences = segments
    config.encoder_levels = (num_steps // segments, segments)
  else:
    config.use_hier = False
    config.encoder_levels = ()
  config.controls = 'multicontrol' if multicontrol else 'triad_chords' if chords else ''
  if encoding in MELODY_CONTROL_TYPES:
    _check_melody(args, kind)
  elif encoding == 'melody':
    _check_melody(args, kind)
    config.melody_programs = 'mel_2bar' if config.slice_bars <= 2 and not chords else 'all'
  elif encoding == 'drums':
    _check_drums(args, kind)
    config.drum_roll_input = kind == 'DrumsConverter'
  elif encoding == 'trio':
    _check_melody(args.get('melArgs') or {}, 'TrioConverter melArgs')
    _check_melody(args.get('bassArgs') or {}, 'TrioConverter bassArgs')
    _check_drums(args.get('drumsArgs') or {}, 'TrioConverter drumsArgs')
    config.split_decoder = True
  return config


def problem(config) -> str:
  """'' when this config exports to magenta.js, else the line naming the
  config key magenta.js cannot represent (the family's declaration)."""
  return js_limits.problem(config, to_spec)
