"""hier-multiperf_vel_1bar: one bar of up to 8 instruments (Simon et al. 2018,
"Learning a Latent Space of Multitrack Measures"), Magenta's configs.

Each window is one 4/4 bar at 24 steps per quarter: up to 8 instrument
tracks (2..8 per bar), each a metric performance of at most 62 events with 8
velocity bins, written as [program or drum token, events..., end token] in a
slot of 64 steps (8 x 64 = 512 tokens, depth 490). The encoder is
hierarchical (level 0 reads each slot at its own length, level 1 the 8 slot
embeddings); the decoder is a conductor over the 8 slots and a core decoder
of 64 steps per slot. Nothing is carried between tracks except the previous
slot's last row as the first input (teacher forcing runs over the flat 512
steps, as in Magenta). Like Magenta's TrainedModel, sampling runs every slot
for its 64 steps; decoding to notes reads each slot up to its end token.

  python -m musicvae_jax.train --config=configs/multiperf.py:cpu --workdir=runs/multiperf \
      --config.train_dir=~/midi/train --config.eval_dir=~/midi/eval
Variants: VARIANTS below (`--config=multiperf:NAME`; `train --help` lists them).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'med': "Magenta's hier-multiperf_vel_1bar_med (the default)",
    'big': "Magenta's hier-multiperf_vel_1bar_big",
    'med_chords': "Magenta's hier-multiperf_vel_1bar_med_chords: chords inferred per piece (49-class triads), read by the encoder and every core decoder step",
    'big_chords': "Magenta's hier-multiperf_vel_1bar_big_chords",
    'cpu': 'med at laptop size (minutes of CPU per hundred steps)',
    'cpu_chords': 'med_chords at laptop size',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
    'tiny_chords': 'the same with chord controls',
}


def get_config(variant: str = 'med'):
  c = base_config()
  c.magenta_name = 'hier-multiperf_vel_1bar_med'
  c.encoding = 'multiperf'
  c.slice_bars = 1
  c.steps_per_quarter = 24
  c.max_num_instruments = 8
  c.max_events_per_instrument = 64
  c.max_windows_per_sequence = 0     # Magenta: max_tensors_per_notesequence=None
  c.max_transpose = 3                # Magenta's NoteSequenceAugmenter(-3, 3)
  c.fast_midi = False                # sustain pedal: note_seq's reader
  config_base.set_sizes(c, 512, (1024,), (512, 512, 512))
  c.use_hier = True
  c.n_subsequences = 8
  c.encoder_levels = (64, 8)
  c.free_bits = 0.0                  # Magenta's lstm_models defaults
  c.max_beta = 1.0
  c.beta_rate = 0.0
  c.sampling_schedule = 'constant'   # teacher forcing
  c.sampling_rate = 0.0
  c.batch_size = 256
  if variant.endswith('_chords'):
    c.controls = 'triad_chords'
    variant = variant[:-len('_chords')]
  if variant == 'med':
    pass
  elif variant == 'big':
    c.magenta_name = 'hier-multiperf_vel_1bar_big'
    config_base.set_sizes(c, 512, (2048,), (1024, 1024, 1024))
  elif variant == 'cpu':
    config_base.set_sizes(c, 64, (128,), (128, 128))
    c.batch_size = 16
    c.num_steps = 2000
    c.learning_rate = 2e-3
    c.eval_batches = 8
    config_base.set_intervals(c, log=10, evaluate=50, checkpoint=100, advanced=1000)
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  if c.controls:
    c.magenta_name += '_chords'
  return c
