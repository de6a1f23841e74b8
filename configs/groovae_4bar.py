"""groovae_4bar: GrooVAE. 4-bar drum performances autoencoded (no input transformation).

  python -m musicvae_jax.train --config=configs/groovae_4bar.py:cpu \
      --workdir=runs/groovae_4bar \
      --config.train_dir=../shared/data/lmd/train --config.eval_dir=../shared/data/lmd/eval
Variants: magenta (Magenta's values, the default), cpu, tiny
(musicvae_jax/families/groove/config.py).
"""

from musicvae_jax.families.groove.config import groovae_config


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_4bar', variant, __file__,
      bars=4)
