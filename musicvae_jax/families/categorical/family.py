"""The categorical family: MusicVAE over token windows (softmax outputs).

Melody, drums, trio (flat and hierarchical decoders, flat and hierarchical
encoders), chord-conditioned melody and multitrack (multiperf) runs, and a
melody's rhythm (bits: one Bernoulli logit per step, magenta.js'
BooleanDecoder, declared by the converter's `bits`) or shape (3 classes). The
converters are the data package's (`converters.py` here is the table), the
model is the shared `models.vae.MusicVAE`, the inference class is the base
`TrainedModel`.
"""

from __future__ import annotations

from musicvae_jax import family as family_lib
from musicvae_jax.families.categorical import converters, magentajs
from musicvae_jax.families.categorical.objective import CategoricalObjective
from musicvae_jax.models.vae import MusicVAE
from musicvae_jax.trained_model import TrainedModel

SUPPORTED = family_lib.SUPPORTED
unsupported = family_lib.unsupported

GROOVAE_ONLY = unsupported('needs a GrooVAE run (configs/groovae_*.py)')
# Encodings whose part 0 is a melody (attributes.py reads its pitches).
_MELODIC = ('melody', 'trio')
# The class event accuracy leaves out, per encoding (0: NO_EVENT, "no drum",
# "no onset"); None: every step is an event (a contour's down / same / up).
_NO_EVENT_CLASS = {'melody_shape': None}


def _chords_support(controls: str):
  if controls in ('triad_chords', 'multicontrol'):   # multicontrol: with --rhythm, --contour, --register
    return SUPPORTED
  return unsupported('not chord-conditioned (config.controls is empty; see '
                     'configs/mel_2bar_chords.py, configs/multiperf.py:med_chords)')


class CategoricalFamily:
  name = 'categorical'
  description = 'MusicVAE over tokens: melody, drums, trio, chords, multitrack'
  encodings = converters.ENCODINGS
  magentajs = magentajs     # config.json <-> config (to_spec, from_spec, CONVERTERS)
  magenta_configs = {
      'cat-mel_2bar_small': 'mel_2bar.py:small',
      'cat-mel_2bar_big': 'mel_2bar.py:big',
      'flat-mel_16bar': 'flat_16bar.py:full',
      'hierdec-mel_16bar': 'hier.py:full',
      'cat-drums_2bar_small': 'drums_2bar.py:small',
      'cat-drums_2bar_big': 'drums_2bar.py:big',
      'flat-trio_16bar': 'trio_16bar.py:flat',
      'hierdec-trio_16bar': 'trio_16bar.py:hierdec',
      'hier-mel_16bar': 'hier_mel_16bar.py:full',
      'hier-trio_16bar': 'hier_trio_16bar.py:full',
      'cat-mel_2bar_med_chords': 'mel_2bar_chords.py:med',
      'hier-multiperf_vel_1bar_med': 'multiperf.py:med',
      'hier-multiperf_vel_1bar_big': 'multiperf.py:big',
      'hier-multiperf_vel_1bar_med_chords': 'multiperf.py:med_chords',
      'hier-multiperf_vel_1bar_big_chords': 'multiperf.py:big_chords',
  }

  def make_converter(self, config):
    return converters.make_converter(config)

  def build_model(self, config, spec):
    return MusicVAE.from_config(config, spec)

  def objective(self, config, spec):
    return CategoricalObjective(tuple(spec.part_depths), len(spec.control_depths),
                                bits=spec.bits,
                                no_event_class=_NO_EVENT_CLASS.get(config.encoding, 0))

  def trained_model_class(self):
    return TrainedModel

  def capabilities(self, config):
    encoding = config.encoding
    return family_lib.declare(
        attribute=(SUPPORTED if encoding in _MELODIC else unsupported(
            f'attribute vectors read melody pitches; {encoding} tokens have none')),
        humanize=GROOVAE_ONLY,
        drumify=GROOVAE_ONLY,
        chords=_chords_support(config.get('controls', '')),
        export_magentajs=family_lib.support_if(magentajs.problem(config)),
        convert_magenta=_convert_magenta_support(config),
    )


def _convert_magenta_support(config):
  """Magenta (Python) configs exist for every model here but magenta.js' own."""
  if config.get('controls', '') == 'multicontrol':
    return unsupported('Magenta (Python) has no multicontrol config to convert; '
                       'magenta.js\' multicontrol checkpoints convert through their '
                       'config.json')
  if config.encoding in converters.MELODY_CONTROL_CONVERTERS:
    return unsupported(f'Magenta (Python) has no {config.encoding} config to convert; '
                       'magenta.js\' mel_rhythm / mel_shape checkpoints convert through '
                       'their config.json')
  return SUPPORTED


FAMILY = CategoricalFamily()
