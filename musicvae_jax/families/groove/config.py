"""The GrooVAE configs' shared body (configs/groovae_*.py call `groovae_config`).

Magenta's values (music_vae/configs.py, GrooVAE section): flat bidirectional
encoder [512] + GrooveLstmDecoder [256, 256], z 256, batch 512, free_bits 48,
max_beta 0.2, beta_rate 0 (beta = max_beta from step 1), dropout_keep_prob 0.3,
teacher forcing (sampling 'constant' 0), Adam lr 1e-3 decaying 0.9999 to 1e-5,
no transposition. Input transformations per config (`groove_*` fields,
families/groove/data.py).

Variants (`--config=configs/groovae_2bar_humanize.py:NAME`):
  magenta  Magenta's sizes (the default).
  cpu      a laptop-sized model (minutes of CPU for a first result).
  tiny     the smallest thing that runs (tests, smoke checks).
"""

from __future__ import annotations

from musicvae_jax import config_base

VARIANTS = {  # the first is the default; every GrooVAE config offers these
    'magenta': "Magenta's values (the default)",
    'cpu': 'laptop size (minutes of CPU for a first result)',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def groovae_config(magenta_name: str, variant: str, path: str, *, bars: int = 2,
                   humanize: bool = False, tapify: bool = False,
                   fixed_velocities: bool = False,
                   max_note_dropout_probability: float = 0.0,
                   add_instruments: tuple[int, ...] = (),
                   hits_as_controls: bool = False):
  c = config_base.base_config()
  c.magenta_name = magenta_name
  c.encoding = 'groove'
  c.output_family = 'groove'
  c.slice_bars = bars
  c.steps_per_quarter = 4
  c.max_transpose = 0               # Magenta: note_sequence_augmenter=None
  # Magenta's GrooveConverter returns every window (hop = window); 0 = no cap.
  c.max_windows_per_sequence = 0
  # ---- GrooVAE input transformations (families/groove/data.py) ----
  # Encoder input: hits only (velocities and offsets zeroed).
  c.groove_humanize = humanize
  # Encoder input: each step's loudest drum on one channel (open hi-hat).
  c.groove_tapify = tapify
  # Encoder input: velocities zeroed.
  c.groove_fixed_velocities = fixed_velocities
  # Encoder input: notes dropped with per-window probability U(0, this) (0: off).
  c.groove_max_note_dropout_probability = max_note_dropout_probability
  # Encoder input: these drum classes removed (2 = closed hi-hat).
  c.groove_add_instruments = tuple(add_instruments)
  # Target hits also given as controls (encoder and every decoder step).
  c.groove_hits_as_controls = hits_as_controls
  # Magenta dropout_keep_prob: input dropout on every LSTM layer, training only.
  c.dropout_keep_prob = 0.3
  config_base.set_sizes(c, 256, (512,), (256, 256))
  c.batch_size = 512
  c.free_bits = 48.0
  c.max_beta = 0.2
  c.beta_rate = 0.0
  c.sampling_schedule = 'none'
  c.sampling_rate = 0.0
  if variant == 'magenta':
    pass
  elif variant == 'cpu':
    config_base.set_sizes(c, 32, (128,), (128, 128))
    c.dropout_keep_prob = 0.8       # lighter than Magenta's 0.3 for short runs
    c.batch_size = 64
    c.num_steps = 3000
    c.learning_rate = 2e-3
    c.decay_rate = 0.9995
    config_base.set_intervals(c, log=50, evaluate=250, checkpoint=250, advanced=1000)
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(path, variant, tuple(VARIANTS))
  return c
