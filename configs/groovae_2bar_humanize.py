"""groovae_2bar_humanize: GrooVAE.

Quantized hits in (no velocities, no timing), expressive drums out.

  python -m musicvae_jax.train --config=configs/groovae_2bar_humanize.py:cpu \
      --workdir=runs/groovae_2bar_humanize \
      --config.train_dir=../shared/data/lmd/train --config.eval_dir=../shared/data/lmd/eval
Variants: magenta (Magenta's values, the default), cpu, tiny
(musicvae_jax/families/groove/config.py).
"""

from musicvae_jax.families.groove.config import groovae_config


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_humanize', variant, __file__,
      humanize=True)
