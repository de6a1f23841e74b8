"""cat-mel_2bar_med_chords: 2-bar melody MusicVAE conditioned on chords
(Magenta's config: chords inferred with note-seq, 49-class triad encoding,
read by the encoder beside the melody and by every decoder step beside z).

  python -m musicvae_jax.train --config=configs/mel_2bar_chords.py:cpu \
      --workdir=runs/chords --config.train_dir=~/midi/train --config.eval_dir=~/midi/eval
Variants: VARIANTS below (`--config=mel_2bar_chords:NAME`; `train --help` lists them).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'med': "Magenta's cat-mel_2bar_med_chords (the default)",
    'cpu': 'a laptop-sized model for a few thousand steps on 2 CPU cores',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'med'):
  c = base_config()
  c.magenta_name = 'cat-mel_2bar_med_chords'
  c.slice_bars = 2
  c.controls = 'triad_chords'
  c.melody_programs = 'all'        # OneHotMelodyConverter(valid_programs=None)
  c.max_transpose = 3              # NoteSequenceAugmenter(transpose_range=(-3, 3))
  config_base.set_sizes(c, 256, (1024,), (512, 512, 512))
  # lstm_models.get_default_hparams(): no free bits, beta 1 from the first
  # step (beta_rate 0), teacher forcing (constant sampling rate 0).
  c.free_bits = 0.0
  c.max_beta = 1.0
  c.beta_rate = 0.0
  c.sampling_schedule = 'none'
  c.sampling_rate = 0.0
  c.batch_size = 512
  if variant == 'med':
    pass
  elif variant == 'cpu':
    config_base.set_sizes(c, 64, (256,), (256,))
    c.batch_size = 64
    c.num_steps = 3000
    c.max_beta = 0.2
    c.beta_rate = 0.999
    c.learning_rate = 2e-3
    c.decay_rate = 0.9995
    config_base.set_intervals(c, log=50, evaluate=100, checkpoint=250, advanced=1000)
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
