"""groovae_2bar_hits_control: GrooVAE. Magenta's groovae_2bar_hits_control_tfds: the target
hits are controls (encoder input and every decoder step).

  python -m musicvae_jax.train --config=configs/groovae_2bar_hits_control.py:cpu \
      --workdir=runs/groovae_2bar_hits_control \
      --config.train_dir=../shared/data/lmd/train --config.eval_dir=../shared/data/lmd/eval
Variants: magenta (Magenta's values, the default), cpu, tiny
(musicvae_jax/families/groove/config.py).
"""

from musicvae_jax.families.groove.config import groovae_config


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_hits_control', variant, __file__,
      hits_as_controls=True)
