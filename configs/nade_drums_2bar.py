"""nade-drums_2bar_reduced / _full: 2-bar drum MusicVAE with a NADE decoder.

Magenta's MultiLabelRnnNadeDecoder: per step the LSTM decoder emits the
biases of a NADE over the drum classes hit on that step (9 reduced classes, or
61 "full" General MIDI classes), so several drums can sound together without
a 512-way (or 2^61-way) softmax. The encoder reads the roll (the class bits
and a "no hits" bit); the decoder reads the previous step's bits and z.

  python -m musicvae_jax.train --config=configs/nade_drums_2bar.py:cpu \
      --workdir=runs/nade_drums --config.train_dir=~/midi/train --config.eval_dir=~/midi/eval
Variants: VARIANTS below (`--config=nade_drums_2bar:NAME`; `train --help` lists them).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'reduced': "Magenta's nade-drums_2bar_reduced (the default, 9 classes)",
    'full': "Magenta's nade-drums_2bar_full (61 classes)",
    'cpu': 'the reduced model at laptop size (minutes of CPU for a first result)',
    'full_cpu': 'the full model at laptop size',
    'tiny': 'the smallest reduced model that runs (tests, smoke checks)',
    'full_tiny': 'the smallest full model that runs',
}


def get_config(variant: str = 'reduced'):
  c = base_config()
  c.magenta_name = 'nade-drums_2bar_reduced'
  c.output_family = 'nade'
  c.encoding = 'drum_roll'
  # 'reduced' (note_seq's 9 drum types) or 'full' (61 General MIDI pitches).
  c.drum_pitch_classes = 'reduced'
  # Hidden units of the per-step NADE (Magenta `nade_num_hidden`).
  c.nade_num_hidden = 128
  c.slice_bars = 2
  c.max_transpose = 0          # Magenta does not augment drums
  config_base.set_sizes(c, 256, (1024,), (512, 512))
  c.free_bits = 48.0
  c.max_beta = 0.2
  c.beta_rate = 0.0            # Magenta's default: beta = max_beta from step 1
  c.sampling_schedule = 'inverse_sigmoid'
  c.sampling_rate = 1000.0
  c.batch_size = 512
  if variant not in VARIANTS:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  if variant.startswith('full'):
    c.magenta_name = 'nade-drums_2bar_full'
    c.drum_pitch_classes = 'full'
  if variant.endswith('cpu'):
    config_base.set_sizes(c, 64, (128,), (128,))
    c.nade_num_hidden = 64
    c.free_bits = 24.0
    c.batch_size = 64
    c.num_steps = 3000
    c.learning_rate = 2e-3
    c.decay_rate = 0.9995
    c.sampling_rate = 200.0
    config_base.set_intervals(c, log=50, evaluate=250, checkpoint=250, advanced=1000)
  elif variant.endswith('tiny'):
    config_base.make_tiny(c)
    c.nade_num_hidden = 8
  return c
