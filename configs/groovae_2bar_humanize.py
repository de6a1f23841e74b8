"""groovae_2bar_humanize: GrooVAE.

Quantized hits in (no velocities, no timing), expressive drums out.

  python -m musicvae_jax.train --config=configs/groovae_2bar_humanize.py:cpu \
      --workdir=runs/groovae_2bar_humanize \
      --config.train_dir=~/lmd/train --config.eval_dir=~/lmd/eval
Variants: VARIANTS (musicvae_jax/families/groove/config.py; `train --help` lists them).
"""

from musicvae_jax.families.groove.config import VARIANTS, groovae_config  # noqa: F401


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_humanize', variant, __file__,
      humanize=True)
