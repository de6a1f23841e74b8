"""groovae_2bar_tap_fixed_velocity_note_dropout: GrooVAE.

As tap_fixed_velocity, with note dropout (up
to 0.8) on the input.

  python -m musicvae_jax.train --config=configs/groovae_2bar_tap_fixed_velocity_note_dropout.py:cpu \
      --workdir=runs/groovae_2bar_tap_fixed_velocity_note_dropout \
      --config.train_dir=../shared/data/lmd/train --config.eval_dir=../shared/data/lmd/eval
Variants: magenta (Magenta's values, the default), cpu, tiny
(musicvae_jax/families/groove/config.py).
"""

from musicvae_jax.families.groove.config import groovae_config


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_tap_fixed_velocity_note_dropout', variant, __file__,
      tapify=True, fixed_velocities=True,
      max_note_dropout_probability=0.8)
