"""groovae_4bar: GrooVAE. 4-bar drum performances autoencoded (no input transformation).

  python -m musicvae_jax.train --config=configs/groovae_4bar.py:cpu \
      --workdir=runs/groovae_4bar \
      --config.train_dir=~/lmd/train --config.eval_dir=~/lmd/eval
Variants: VARIANTS (musicvae_jax/families/groove/config.py; `train --help` lists them).
"""

from musicvae_jax.families.groove.config import VARIANTS, groovae_config  # noqa: F401


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_4bar', variant, __file__,
      bars=4)
