"""16-bar trio MusicVAE: melody, bass and drums together (Magenta's configs).

Windows need all three instruments (melody programs 0-31, bass 32-39, a drum
track) over 16 bars, with Magenta's 2-bar gap filling. Tokens per step:
melody (90), bass (90) and drums (512 class combinations).

  python -m musicvae_jax.train --config=configs/trio_16bar.py --workdir=runs/trio \
      --config.train_dir=~/midi/train --config.eval_dir=~/midi/eval
Variants: VARIANTS below (`--config=trio_16bar:NAME`; `train --help` lists them).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'hierdec': "Magenta's hierdec-trio_16bar (the default): a conductor over 16 bars, one core decoder per instrument",
    'flat': "Magenta's flat-trio_16bar: one LSTM decoder whose logits are split per instrument",
    'cpu': 'hierdec at laptop size (tens of minutes of CPU)',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'hierdec'):
  c = base_config()
  c.magenta_name = 'hierdec-trio_16bar'
  c.encoding = 'trio'
  c.slice_bars = 16
  c.max_transpose = 0          # Magenta does not augment trios
  config_base.set_sizes(c, 512, (2048, 2048), (1024, 1024), (1024, 1024))
  c.use_hier = True
  c.split_decoder = True
  c.n_subsequences = 16
  c.free_bits = 256.0
  c.max_beta = 0.2
  c.beta_rate = 0.0
  c.sampling_schedule = 'constant'   # teacher forcing
  c.sampling_rate = 0.0
  c.batch_size = 256
  if variant == 'hierdec':
    pass
  elif variant == 'flat':
    c.magenta_name = 'flat-trio_16bar'
    c.use_hier = False
    c.split_decoder = False
    c.dec_rnn_sizes = (2048, 2048, 2048)
    c.free_bits = 0.0            # Magenta's defaults for this config
    c.max_beta = 1.0
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
