"""groovae_2bar_hits_control: GrooVAE. Magenta's groovae_2bar_hits_control_tfds: the target
hits are controls (encoder input and every decoder step).

  python -m musicvae_jax.train --config=configs/groovae_2bar_hits_control.py:cpu \
      --workdir=runs/groovae_2bar_hits_control \
      --config.train_dir=~/lmd/train --config.eval_dir=~/lmd/eval
Variants: VARIANTS (musicvae_jax/families/groove/config.py; `train --help` lists them).
"""

from musicvae_jax.families.groove.config import VARIANTS, groovae_config  # noqa: F401


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_hits_control', variant, __file__,
      hits_as_controls=True)
