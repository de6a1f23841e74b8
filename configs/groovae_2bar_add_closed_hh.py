"""groovae_2bar_add_closed_hh: GrooVAE. The closed hi-hat removed from the input; the model
adds it.

  python -m musicvae_jax.train --config=configs/groovae_2bar_add_closed_hh.py:cpu \
      --workdir=runs/groovae_2bar_add_closed_hh \
      --config.train_dir=../shared/data/lmd/train --config.eval_dir=../shared/data/lmd/eval
Variants: magenta (Magenta's values, the default), cpu, tiny
(musicvae_jax/families/groove/config.py).
"""

from musicvae_jax.families.groove.config import groovae_config


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_add_closed_hh', variant, __file__,
      add_instruments=(2,))
