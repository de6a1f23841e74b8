"""The GrooVAE family: expressive drums as 27-vectors (hits, velocities,
micro-timing offsets), Magenta's `GrooveConverter` and `GrooveLstmDecoder`.

  data.py       GrooveConverter (NoteSequence <-> [T, 27], input transformations)
  model.py      GrooVAE (feature encoder + GrooveLstmDecoder)
  objective.py  GrooveObjective (hits / velocities / offsets losses, hit metrics)
  trained.py    GrooveTrainedModel (humanize, drumify, sample, interpolate)
  config.py     groovae_config: the body of configs/groovae_*.py
"""

from __future__ import annotations

from musicvae_jax import config_base
from musicvae_jax import family as family_lib
from musicvae_jax.families.groove import data, magentajs
from musicvae_jax.families.groove.model import GrooVAE
from musicvae_jax.families.groove.objective import GrooveObjective
from musicvae_jax.families.groove.trained import GrooveTrainedModel

unsupported = family_lib.unsupported
_GROOVAE = ('groovae_4bar', 'groovae_2bar_humanize', 'groovae_2bar_tap_fixed_velocity',
            'groovae_2bar_tap_fixed_velocity_note_dropout', 'groovae_2bar_add_closed_hh',
            'groovae_2bar_hits_control')


class GrooveFamily:
  name = 'groove'
  description = 'GrooVAE: expressive drums (hits, velocities, micro-timing)'
  encodings = ('groove',)
  magentajs = magentajs     # config.json <-> config (to_spec, from_spec, CONVERTERS)
  magenta_configs = {
      **{name: f'{name}.py:magenta' for name in _GROOVAE},
      'groovae_2bar_hits_control_tfds': 'groovae_2bar_hits_control.py:magenta',
  }

  def make_converter(self, config):
    return data.converter_from_config(config)

  def build_model(self, config, spec):
    return GrooVAE.from_config(config, spec)

  def objective(self, config, spec):
    control_depth = spec.output_depth // 3 if config.get('groove_hits_as_controls', False) else 0
    return GrooveObjective(config_base.sequence_length(config), spec.output_depth,
                           control_depth)

  def trained_model_class(self):
    return GrooveTrainedModel

  def capabilities(self, config):
    return family_lib.declare(
        attribute=unsupported('attribute vectors read melody pitches; '
                              'GrooVAE windows are drum hits'),
        chords=unsupported('GrooVAE has no chord controls'),
        export_magentajs=family_lib.support_if(magentajs.problem(config)),
    )


FAMILY = GrooveFamily()
