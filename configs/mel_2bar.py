"""cat-mel_2bar_small: 2-bar melody MusicVAE with a flat decoder (Magenta's config).

  python -m musicvae_jax.train --config=configs/mel_2bar.py --workdir=runs/mel_2bar
Variants: VARIANTS below (`--config=mel_2bar:NAME`; `train --help` lists them).

Other meters (docs/meters.md): `waltz` (3/4) and `jig` (6/8) are the cpu
model on the folk corpus' tunes of that meter (2 bars of 12 sixteenths):

  python -m musicvae_jax.train --config=mel_2bar:waltz --workdir=runs/mel_2bar_waltz
Any variant takes another meter with `--config.meter=9/8` (2/4, 3/4, 6/8,
9/8, 12/8).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'small': "Magenta's cat-mel_2bar_small (the default)",
    'big': "Magenta's cat-mel_2bar_big",
    'cpu': 'a laptop-sized model that learns the built-in folk corpus in minutes',
    'waltz': "'cpu' in 3/4: the folk corpus' 3/4 tunes, bars of 12 sixteenths",
    'jig': "'cpu' in 6/8: the folk corpus' 6/8 tunes, bars of 2 x 6 sixteenths",
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'small'):
  c = base_config()
  c.magenta_name = 'cat-mel_2bar_small'
  c.slice_bars = 2
  c.melody_programs = 'mel_2bar'
  c.max_transpose = 5
  config_base.set_sizes(c, 256, (512,), (256, 256))
  c.free_bits = 0.0
  c.max_beta = 0.2
  c.beta_rate = 0.99999
  c.sampling_schedule = 'inverse_sigmoid'
  c.sampling_rate = 1000.0
  c.batch_size = 512
  if variant == 'small':
    pass
  elif variant == 'big':
    c.magenta_name = 'cat-mel_2bar_big'
    config_base.set_sizes(c, 512, (2048,), (2048, 2048, 2048))
    c.max_beta = 0.5
  elif variant in ('cpu', 'waltz', 'jig'):
    config_base.set_sizes(c, 64, (256,), (256,))
    c.batch_size = 64
    c.num_steps = 4000
    c.beta_rate = 0.999
    c.learning_rate = 2e-3
    c.decay_rate = 0.9995
    # Tuned on the folk corpus (docs/quality.md section 4): a KL floor of 48
    # bits and scheduled sampling from early on (inverse sigmoid, rate 500)
    # reach greedy accuracy 0.80 in 4,000 steps (about 17 quiet minutes on
    # 2 cores) with samples in one scale; free bits 0 stayed at 0.68.
    c.free_bits = 48.0
    c.sampling_rate = 500.0
    config_base.set_intervals(c, log=50, evaluate=250, checkpoint=250, advanced=1000)
    if variant != 'cpu':
      config_base.set_meter(c, {'waltz': '3/4', 'jig': '6/8'}[variant])
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
