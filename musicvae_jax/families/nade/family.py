"""The NADE drums family: Magenta's nade-drums_2bar_* (drum rolls, a
bidirectional encoder and an LSTM decoder whose output is a NADE over the
drum classes of each step).

  data.py       DrumRollConverter (NoteSequence <-> 0/1 drum rolls [T, D])
  nade.py       the NADE layer (log-probabilities, sampling)
  model.py      NadeMusicVAE (feature encoder + LSTM decoder + NADE)
  objective.py  NadeObjective (-log p of each frame, Magenta's hit metrics)
  trained.py    NadeTrainedModel (also takes Magenta's array inputs)
"""

from __future__ import annotations

from musicvae_jax import family as family_lib
from musicvae_jax.families.nade import data, magentajs
from musicvae_jax.families.nade.model import NadeMusicVAE
from musicvae_jax.families.nade.objective import NadeObjective
from musicvae_jax.families.nade.trained import NadeTrainedModel

unsupported = family_lib.unsupported


class NadeFamily:
  name = 'nade'
  description = 'NADE drums: multi-label drum frames scored by a NADE'
  encodings = ('drum_roll',)
  magentajs = magentajs     # config.json <-> config (to_spec, from_spec, CONVERTERS)
  magenta_configs = {
      'nade-drums_2bar_reduced': 'nade_drums_2bar.py:reduced',
      'nade-drums_2bar_full': 'nade_drums_2bar.py:full',
  }

  def make_converter(self, config):
    return data.make_converter(config)

  def build_model(self, config, spec):
    return NadeMusicVAE.from_config(config, spec)

  def objective(self, config, spec):
    del config
    return NadeObjective(spec.num_parts)

  def trained_model_class(self):
    return NadeTrainedModel

  def capabilities(self, config):
    groovae_only = unsupported('needs a GrooVAE run (configs/groovae_*.py)')
    return family_lib.declare(
        attribute=unsupported('attribute vectors read melody pitches; '
                              'drum rolls have none'),
        humanize=groovae_only,
        drumify=groovae_only,
        chords=unsupported('NADE drums have no chord controls'),
        export_magentajs=family_lib.support_if(magentajs.problem(config)),
    )


FAMILY = NadeFamily()
