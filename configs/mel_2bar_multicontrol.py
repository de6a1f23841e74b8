"""2-bar melody MusicVAE conditioned on chords, rhythm, shape and register:
the control signals of magenta.js' `mel_2bar_multicontrol_*` models, computed
here from the data (data/multicontrol.py; chords inferred per half bar as
cat-mel_2bar_med_chords, rhythm / shape / register as @magenta/music's
MelodyRhythm / MelodyShape / MelodyRegister([50, 63, 70])), read by the
encoder beside the melody and by every decoder step beside z.

  python -m musicvae_jax.train --config=configs/mel_2bar_multicontrol.py:cpu \
      --workdir=runs/multicontrol --config.train_dir=~/midi/train
Variants: VARIANTS below (`--config=mel_2bar_multicontrol:NAME`; `train --help` lists them).
The `cpu` variant also runs the controls through a bidirectional LSTM before
the decoder (`control_preprocessing_size`), as magenta.js' multicontrol
checkpoints do; `tiny` feeds them straight in.
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'cpu': 'a laptop-sized model for a few thousand steps on 2 CPU cores (the default)',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'cpu'):
  c = base_config()
  c.magenta_name = ''   # no Magenta (Python) config; magenta.js' checkpoints only
  c.slice_bars = 2
  c.controls = 'multicontrol'
  c.melody_programs = 'all'
  c.max_transpose = 3
  config_base.set_sizes(c, 64, (256,), (256,))
  c.batch_size = 64
  c.num_steps = 3000
  c.free_bits = 16.0
  c.max_beta = 0.2
  c.beta_rate = 0.999
  c.learning_rate = 2e-3
  c.decay_rate = 0.9995
  c.sampling_schedule = 'none'
  c.sampling_rate = 0.0
  config_base.set_intervals(c, log=50, evaluate=100, checkpoint=250, advanced=1000)
  if variant == 'cpu':
    # magenta.js' multicontrol models read their controls through a
    # bidirectional LSTM (Magenta's default size 256; laptop sized here).
    c.control_preprocessing_size = 64
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
