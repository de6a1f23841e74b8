"""flat-mel_16bar: 16-bar melody MusicVAE with a flat (single LSTM) decoder.

  python -m musicvae_jax.train --config=configs/flat_16bar.py --workdir=runs/flat16
Variants (`--config=configs/flat_16bar.py:NAME`): full (Magenta's), cpu, tiny.
"""

from musicvae_jax.config_base import base_config


def get_config(variant: str = 'full'):
  c = base_config()
  c.magenta_name = 'flat-mel_16bar'
  c.slice_bars = 16
  c.melody_programs = 'all'
  c.max_transpose = 0
  c.z_size = 512
  c.enc_rnn_sizes = (2048, 2048)
  c.dec_rnn_sizes = (2048, 2048, 2048)
  c.free_bits = 256.0
  c.max_beta = 0.2
  c.beta_rate = 0.0
  c.sampling_schedule = 'constant'
  c.sampling_rate = 0.0
  c.batch_size = 512
  if variant == 'full':
    pass
  elif variant == 'cpu':
    c.z_size = 128
    c.enc_rnn_sizes = (256,)
    c.dec_rnn_sizes = (256,)
    c.free_bits = 64.0
    c.batch_size = 32
    c.num_steps = 2000
    c.learning_rate = 2e-3
    c.log_every_steps = 25
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 200
  elif variant == 'tiny':
    c.z_size = 8
    c.enc_rnn_sizes = (16,)
    c.dec_rnn_sizes = (16,)
    c.free_bits = 0.0
    c.batch_size = 4
    c.num_steps = 4
    c.eval_batches = 2
    c.log_every_steps = 2
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
    c.advanced_every_steps = 4
  else:
    raise ValueError(f'configs/flat_16bar.py has no variant {variant!r} '
                     "(choose 'full', 'cpu' or 'tiny')")
  return c
