"""hierdec-mel_16bar: 16-bar melody MusicVAE with a hierarchical (conductor) decoder.

  python -m musicvae_jax.train --config=configs/hier.py --workdir=runs/hier
Variants: VARIANTS below (`--config=hier:NAME`; `train --help` lists them).

Other meters (docs/meters.md): `waltz` (3/4) and `jig` (6/8) are the cpu
model on the folk corpus' tunes of that meter: 16 bars of 12 sixteenths
(192 steps), the conductor one step per bar:

  python -m musicvae_jax.train --config=hier:waltz --workdir=runs/hier_waltz
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'full': "Magenta's hierdec-mel_16bar (the default)",
    'cpu': 'hidden sizes 256, batch 32: trains on a laptop CPU in tens of minutes',
    'waltz': "'cpu' in 3/4: 16 bars of 12 sixteenths, the folk corpus' 3/4 tunes",
    'jig': "'cpu' in 6/8: 16 bars of 2 x 6 sixteenths, the folk corpus' 6/8 tunes",
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'full'):
  c = base_config()
  c.magenta_name = 'hierdec-mel_16bar'
  c.slice_bars = 16
  c.melody_programs = 'all'
  c.max_transpose = 0
  config_base.set_sizes(c, 512, (2048, 2048), (1024, 1024))
  c.use_hier = True
  c.n_subsequences = 16
  c.conductor_rnn_sizes = (1024, 1024)
  c.free_bits = 256.0
  c.max_beta = 0.2
  c.beta_rate = 0.0
  c.sampling_schedule = 'constant'
  c.sampling_rate = 0.0
  c.batch_size = 512
  if variant == 'full':
    pass
  elif variant in ('cpu', 'waltz', 'jig'):
    config_base.set_sizes(c, 128, (256,), (256,), (256,))
    c.free_bits = 64.0
    c.batch_size = 32
    c.num_steps = 2000
    c.learning_rate = 2e-3
    config_base.set_intervals(c, log=25, evaluate=100, checkpoint=200, advanced=5000)
    if variant != 'cpu':
      config_base.set_meter(c, {'waltz': '3/4', 'jig': '6/8'}[variant])
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
