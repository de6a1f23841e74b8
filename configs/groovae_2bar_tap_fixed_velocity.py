"""groovae_2bar_tap_fixed_velocity: GrooVAE. One tapped voice in (the open hi-hat channel, no
velocities), a full kit out: the drumify model.

  python -m musicvae_jax.train --config=configs/groovae_2bar_tap_fixed_velocity.py:cpu \
      --workdir=runs/groovae_2bar_tap_fixed_velocity \
      --config.train_dir=~/lmd/train --config.eval_dir=~/lmd/eval
Variants: VARIANTS (musicvae_jax/families/groove/config.py; `train --help` lists them).
"""

from musicvae_jax.families.groove.config import VARIANTS, groovae_config  # noqa: F401


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_tap_fixed_velocity', variant, __file__,
      tapify=True, fixed_velocities=True)
