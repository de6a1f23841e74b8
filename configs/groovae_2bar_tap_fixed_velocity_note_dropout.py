"""groovae_2bar_tap_fixed_velocity_note_dropout: GrooVAE.

As tap_fixed_velocity, with note dropout (up
to 0.8) on the input.

  python -m musicvae_jax.train --config=configs/groovae_2bar_tap_fixed_velocity_note_dropout.py:cpu \
      --workdir=runs/groovae_2bar_tap_fixed_velocity_note_dropout \
      --config.train_dir=~/lmd/train --config.eval_dir=~/lmd/eval
Variants: VARIANTS (musicvae_jax/families/groove/config.py; `train --help` lists them).
"""

from musicvae_jax.families.groove.config import VARIANTS, groovae_config  # noqa: F401


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_tap_fixed_velocity_note_dropout', variant, __file__,
      tapify=True, fixed_velocities=True,
      max_note_dropout_probability=0.8)
