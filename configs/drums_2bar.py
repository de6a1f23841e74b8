"""cat-drums_2bar_small: 2-bar drum MusicVAE with a flat decoder (Magenta's config).

Drums use Magenta's 9 classes; the decoder predicts one of the 512 class
combinations per step, the encoder reads the 10-wide roll (`drum_roll_input`).

  python -m musicvae_jax.train --config=configs/drums_2bar.py --workdir=runs/drums \
      --config.train_dir=~/midi/train --config.eval_dir=~/midi/eval
Variants: VARIANTS below (`--config=drums_2bar:NAME`; `train --help` lists them).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'small': "Magenta's cat-drums_2bar_small (the default)",
    'big': "Magenta's cat-drums_2bar_big",
    'cpu': 'a laptop-sized model (minutes of CPU for a first result)',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'small'):
  c = base_config()
  c.magenta_name = 'cat-drums_2bar_small'
  c.encoding = 'drums'
  c.drum_roll_input = True
  c.slice_bars = 2
  c.max_transpose = 0          # Magenta does not augment drums
  config_base.set_sizes(c, 256, (512,), (256, 256))
  c.free_bits = 48.0
  c.max_beta = 0.2
  c.beta_rate = 0.0            # Magenta's default: beta = max_beta from step 1
  c.sampling_schedule = 'inverse_sigmoid'
  c.sampling_rate = 1000.0
  c.batch_size = 512
  if variant == 'small':
    pass
  elif variant == 'big':
    c.magenta_name = 'cat-drums_2bar_big'
    config_base.set_sizes(c, 512, (2048,), (2048, 2048, 2048))
  elif variant == 'cpu':
    config_base.set_sizes(c, 64, (128,), (128,))
    c.free_bits = 24.0
    c.batch_size = 64
    c.num_steps = 3000
    c.learning_rate = 2e-3
    c.decay_rate = 0.9995
    c.sampling_rate = 200.0
    config_base.set_intervals(c, log=50, evaluate=250, checkpoint=250, advanced=1000)
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
