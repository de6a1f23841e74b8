"""hier-trio_16bar: 16-bar trio (melody, bass, drums) with a hierarchical encoder.

The encoder reads each bar of all three instruments on its own (16 steps,
shared weights), then a second bidirectional LSTM reads the 16 bar embeddings
(Magenta's HierarchicalLstmEncoder, levels [16, 16]); the decoder is
hierdec-trio_16bar's conductor over 16 bars with one core decoder per
instrument (configs/trio_16bar.py). Tokens per step: melody (90), bass (90),
drums (512 class combinations).

  python -m musicvae_jax.train --config=configs/hier_trio_16bar.py:cpu --workdir=runs/hier_trio \
      --config.train_dir=~/midi/train --config.eval_dir=~/midi/eval
Variants: VARIANTS below (`--config=hier_trio_16bar:NAME`; `train --help` lists them).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'full': "Magenta's hier-trio_16bar (the default)",
    'cpu': 'laptop size (tens of minutes of CPU)',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'full'):
  c = base_config()
  c.magenta_name = 'hier-trio_16bar'
  c.encoding = 'trio'
  c.slice_bars = 16
  c.max_transpose = 0          # Magenta does not augment trios
  config_base.set_sizes(c, 512, (1024,), (1024, 1024), (1024, 1024))
  c.encoder_levels = (16, 16)  # 16 bars of 16 steps
  c.use_hier = True
  c.split_decoder = True
  c.n_subsequences = 16
  c.free_bits = 256.0
  c.max_beta = 0.2
  c.beta_rate = 0.0
  c.sampling_schedule = 'constant'   # teacher forcing
  c.sampling_rate = 0.0
  c.batch_size = 256
  if variant == 'full':
    pass
  elif variant == 'cpu':
    config_base.set_sizes(c, 128, (256,), (128,), (128,))
    c.free_bits = 64.0
    c.batch_size = 16
    c.num_steps = 2000
    c.learning_rate = 2e-3
    c.eval_batches = 8
    config_base.set_intervals(c, log=25, evaluate=100, checkpoint=100, advanced=1000)
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
