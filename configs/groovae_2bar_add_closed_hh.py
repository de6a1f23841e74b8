"""groovae_2bar_add_closed_hh: GrooVAE. The closed hi-hat removed from the input; the model
adds it.

  python -m musicvae_jax.train --config=configs/groovae_2bar_add_closed_hh.py:cpu \
      --workdir=runs/groovae_2bar_add_closed_hh \
      --config.train_dir=~/lmd/train --config.eval_dir=~/lmd/eval
Variants: VARIANTS (musicvae_jax/families/groove/config.py; `train --help` lists them).
"""

from musicvae_jax.families.groove.config import VARIANTS, groovae_config  # noqa: F401


def get_config(variant: str = 'magenta'):
  return groovae_config(
      'groovae_2bar_add_closed_hh', variant, __file__,
      add_instruments=(2,))
