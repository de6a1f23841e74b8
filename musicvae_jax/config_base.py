"""Default configuration shared by every file in `configs/`.

Configs are code (big_vision style): each `configs/*.py` calls `base_config()`,
changes what its Magenta counterpart changes, and offers variants selected with
`--config=configs/hier.py:tiny`. Every field can be overridden on the command
line, e.g. `--config.batch_size=64`. The config is flat on purpose so that the
override names stay short; field groups are marked by comments.

Fields a user may leave unset use `config_dict.placeholder` (a `None` field
could not be overridden from the command line) or an empty string.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ml_collections
from ml_collections import config_dict

from musicvae_jax import config_files, meters


def base_config() -> ml_collections.ConfigDict:
  """Returns the defaults: Magenta's `cat-mel_2bar_small` hyperparameters."""
  c = ml_collections.ConfigDict()

  # ---- run ----
  # Name of the Magenta config this one mirrors (documentation and converter).
  c.magenta_name = 'cat-mel_2bar_small'
  # Seed for parameters, sampling noise, scheduled sampling and data order.
  c.seed = 0
  # Start weights (and, if `ckpt_resume_state`, the whole train state) from
  # another run's workdir or checkpoint step directory. Empty: fresh start.
  c.ckpt_path = ''
  # With `ckpt_path`: also restore optimizer state and step (continue), rather
  # than only the parameters (fine-tune from step 0).
  c.ckpt_resume_state = False

  # ---- data ----
  # Encoding family: 'melody' | 'drums' | 'trio' | 'multiperf' (multitrack,
  # configs/multiperf.py) | 'groove' (GrooVAE, configs/groovae_*.py) |
  # 'drum_roll' (NADE drums, configs/nade_drums_2bar.py) | 'melody_rhythm' /
  # 'melody_shape' (a melody's onsets / Parsons contour alone, magenta.js'
  # mel_rhythm / mel_shape models: configs/mel_rhythm_2bar.py, mel_shape_2bar.py).
  c.encoding = 'melody'
  # Drums: the encoder reads Magenta's roll (9 class bits + "no hit") instead of one-hots.
  c.drum_roll_input = True
  # Folder of MIDI (recursive, also .abc/.musicxml). Empty: the built-in folk
  # corpus converted from music21's bundled collections.
  c.train_dir = ''
  # Folder of evaluation MIDI. Empty: a held-out share of the training files.
  c.eval_dir = ''
  # Training data as Magenta reads it: TFRecord file(s) of NoteSequences (a
  # path, glob or comma list; `--examples_path` of train.py). Set: replaces
  # `train_dir`.
  c.train_examples_path = ''
  # Evaluation TFRecord(s) of NoteSequences. Empty: `eval_dir`, else a
  # held-out share of the training data.
  c.eval_examples_path = ''
  # Share of training files (or NoteSequences) held out for evaluation when
  # neither `eval_examples_path` nor `eval_dir` is set.
  c.eval_fraction = 0.05
  # Where window caches live. Empty: `paths.cache_root()` (~/.cache/musicvae_jax on Linux).
  c.cache_dir = ''
  # Bars per training window (Magenta `slice_bars`; predecessor `slice_bar`).
  c.slice_bars = 2
  # Quantisation: steps per quarter note (16 steps per 4/4 bar).
  c.steps_per_quarter = 4
  # Meter of the windows: '4/4' (Magenta's; also reads 2/2), '2/4', '3/4',
  # '6/8', '9/8' or '12/8'. Windows are whole bars of it (3/4 and 6/8: 12
  # steps, 9/8: 18, 12/8: 24, 2/4: 8); pieces in other meters are skipped
  # and counted per file (meters.py, docs/meters.md).
  c.meter = '4/4'
  # Programs kept for melodies: 'mel_2bar' (0-31) or 'all' (every non-drum).
  c.melody_programs = 'mel_2bar'
  # Control track the model is conditioned on: '' (none), 'triad_chords'
  # (chords inferred per half bar, Magenta's 49-class triad encoding) or
  # 'multicontrol' (melody: those chords plus magenta.js' rhythm, shape and register).
  c.controls = ''
  # At most this many windows per NoteSequence (random in training).
  c.max_windows_per_sequence = 5
  # Random transposition range in semitones for training (0 disables).
  c.max_transpose = 5
  # Read MIDI with the fast exact reader (numba; same windows as note_seq/pretty_midi).
  c.fast_midi = True
  # Parallel worker processes for MIDI conversion (0: all cores).
  c.num_workers = 0
  # Batches prepared ahead of the training step.
  c.prefetch_batches = 2
  # Multitrack ('multiperf'): instrument slots per window...
  c.max_num_instruments = 8
  # ...and events per slot (program and end token included); a window is
  # their product in steps.
  c.max_events_per_instrument = 64

  # ---- model ----
  # Model family (musicvae_jax/families/<name>/, family.py): 'categorical' (token softmax, MusicVAE);
  # others ('groove', 'nade') bring their own converter, model, objective and inference class.
  c.output_family = 'categorical'
  # Latent size.
  c.z_size = 256
  # Encoder LSTM sizes, per direction, one entry per stacked layer.
  c.enc_rnn_sizes = (512,)
  # Core decoder LSTM sizes (predecessor: hidden_size x n_layers).
  c.dec_rnn_sizes = (256, 256)
  # Hierarchical decoder with a conductor (predecessor `use_hier`).
  c.use_hier = False
  # One core decoder per part (trio; Magenta SplitMultiOutLstmDecoder), not one split LSTM.
  c.split_decoder = False
  # Hierarchical encoder (Magenta HierarchicalLstmEncoder): segment lengths
  # per level, product = window length, e.g. (16, 16) for 16 bars of 16
  # steps. Empty: one bidirectional encoder over the whole window.
  c.encoder_levels = ()
  # Flat decoders with controls: LSTM size per direction of a bidirectional
  # LSTM that reads the whole control sequence first and feeds its outputs to
  # every decoder step instead of the raw controls (Magenta's
  # BidirectionalLstmControlPreprocessingDecoder, one layer, as magenta.js'
  # multicontrol models). 0: the raw controls.
  c.control_preprocessing_size = 0
  # Conductor steps, one subsequence (bar) each (predecessor `n_subsequences`).
  c.n_subsequences = 16
  # Conductor LSTM sizes; its output size (predecessor `c_size`) is the last.
  c.conductor_rnn_sizes = (1024, 1024)
  # Encoder token embedding width; 0 means one-hot inputs, as Magenta does.
  c.encoder_embed_size = 0
  # Decoder token embedding width; 0 means one-hot inputs, as Magenta does.
  c.decoder_embed_size = 0
  # Width of the conductor's all-zero input (Magenta feeds one zero per step).
  c.conductor_embed_size = 1
  # Added to the LSTM forget gate pre-activation (TF LSTMBlockCell).
  c.forget_bias = 1.0
  # Computation dtype: 'float32' or 'bfloat16' (params stay float32).
  c.compute_dtype = 'float32'
  # `unroll` of the LSTM time loops (lax.scan); speed only, same results.
  c.scan_unroll = 1
  # Recompute LSTM activations in the backward pass instead of storing them:
  # less memory for long sequences and wide layers, paid in recomputation.
  # Applies where autodiff runs the backward pass: the scheduled-sampling
  # decoder loop, and every LSTM when lstm_custom_vjp is False.
  c.remat = False
  # Differentiate whole-sequence LSTM runs (encoder, conductor, teacher-forced
  # decoder) with a hand-written backward pass: same numbers, faster (the
  # recurrent kernel's gradient becomes one matmul after the loop). False:
  # plain autodiff through nn.scan.
  c.lstm_custom_vjp = True
  # Fused LSTM loops of the hand-written backward path (speed and memory
  # only: same numbers; models/lstm_loops.py, docs/benchmarks.md):
  # stacked layers of one width run as a wavefront (layer l computes step
  # t - l at iteration t: one loop, T + L - 1 iterations).
  c.lstm_wavefront = False
  # The encoder's forward and backward directions share one loop (one
  # batched matmul per step).
  c.lstm_fused_bidirectional = False
  # What the LSTM backward pass keeps per step: 'activations' (state + gate
  # activations, 6H floats; bfloat16 activations under bfloat16 compute) or
  # 'states' (state only, 2H floats: the input gates are recomputed before
  # the backward loop, the recurrent part inside it; less memory, more FLOPs).
  c.lstm_save = 'activations'

  # ---- optimisation ----
  # Global batch size (split over devices and hosts).
  c.batch_size = 512

  # ---- devices (docs/scaling.md) ----
  # Device mesh, one entry for the 'data' axis: -1 = every device of every host.
  c.mesh_shape = (-1,)
  # 'replicated' parameters and optimizer state, or 'fsdp' (split over 'data').
  c.param_sharding = 'replicated'
  # Total training steps.
  c.num_steps = 200_000
  # Initial learning rate.
  c.learning_rate = 1e-3
  # 'exponential' (Magenta: (lr - min_lr) * decay_rate**step + min_lr) or
  # 'plateau' (optax reduce_on_plateau driven by the eval loss).
  c.lr_schedule = 'exponential'
  # 'exponential' schedule: decay per step.
  c.decay_rate = 0.9999
  # Floor of the learning rate (both schedules).
  c.min_learning_rate = 1e-5
  # 'plateau' schedule: multiply the LR by this factor... (predecessor
  # lr_scheduler_factor)
  c.lr_scheduler_factor = 0.5
  # ...after this many evaluations without improvement (lr_scheduler_patience).
  c.lr_scheduler_patience = 5
  # Clip gradients to this global norm.
  c.grad_clip = 1.0
  # Skip the update (zero gradients) when the global norm exceeds this
  # (Magenta `grad_norm_clip_to_zero`).
  c.grad_norm_clip_to_zero = 10000.0

  # ---- KL ----
  # 'magenta': beta = (1 - beta_rate**step) * max_beta;
  # 'linear': beta_start -> beta_end over beta_duration steps.
  c.beta_schedule = 'magenta'
  # 'magenta' schedule: the largest KL weight.
  c.max_beta = 0.2
  # 'magenta' schedule: rate of approach to max_beta.
  c.beta_rate = 0.99999
  # 'linear' schedule: first KL weight.
  c.beta_start = 0.0
  # 'linear' schedule: last KL weight.
  c.beta_end = 0.2
  # 'linear' schedule: steps from beta_start to beta_end.
  c.beta_duration = 10_000
  # Free bits on the total KL (bits; Magenta `free_bits`).
  c.free_bits = 0.0

  # ---- scheduled sampling ----
  # 'none' (teacher forcing), 'constant', 'inverse_sigmoid', 'exponential'.
  c.sampling_schedule = 'inverse_sigmoid'
  # constant: the probability; inverse_sigmoid: k; exponential: the base.
  c.sampling_rate = 1000.0

  # ---- intervals ----
  # Print / TensorBoard scalars every this many steps (predecessor print).
  c.log_every_steps = 100
  # Evaluate every this many steps (predecessor evaluate interval).
  c.eval_every_steps = 1000
  # Batches per evaluation (0: the whole eval set once).
  c.eval_batches = 0
  # At each evaluation, also decode the first this many eval windows (whole
  # batches) greedily from z = mu and report accuracy, onset F1 and the share
  # decoded as silence ('eval_greedy' in TensorBoard); 0: off. Token models only.
  c.eval_greedy_windows = 64
  # Heavier logging: samples (MIDI, audio, piano rolls), parameter and gradient histograms (predecessor advanced).
  c.advanced_every_steps = 5000
  # Checkpoint every this many steps (and at the end).
  c.checkpoint_every_steps = 1000
  # Checkpoints kept: the newest N...
  c.keep_latest = 3
  # ...and, separately, the best N by eval loss.
  c.keep_best = 2
  return c


def steps_per_bar(config: ml_collections.ConfigDict) -> int:
  """Quantised steps in one bar of `config.meter` (16 in 4/4, 12 in 3/4 and
  6/8; a config saved before meters existed reads 4/4)."""
  return meters.steps_per_bar(config.get('meter', meters.DEFAULT),
                              config.steps_per_quarter)


def sequence_length(config: ml_collections.ConfigDict) -> int:
  """Time steps in one window: `slice_bars * steps_per_bar` (multitrack:
  `max_num_instruments * max_events_per_instrument`)."""
  if config.encoding == 'multiperf':
    return config.max_num_instruments * config.max_events_per_instrument
  return config.slice_bars * steps_per_bar(config)


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the config key when a value cannot work."""
  def need(ok: bool, key: str, why: str) -> None:
    if not ok:
      raise ValueError(f'config.{key}={config[key]!r}: {why}')

  need(config.slice_bars >= 1, 'slice_bars', 'must be >= 1')
  steps_per_bar(config)  # ValueError naming config.meter / steps_per_quarter
  need(config.z_size >= 1, 'z_size', 'must be >= 1')
  need(len(config.enc_rnn_sizes) >= 1, 'enc_rnn_sizes', 'needs a layer')
  need(len(config.dec_rnn_sizes) >= 1, 'dec_rnn_sizes', 'needs a layer')
  need(config.batch_size >= 1, 'batch_size', 'must be >= 1')
  need(len(config.mesh_shape) == 1 and (config.mesh_shape[0] == -1
                                        or config.mesh_shape[0] >= 1),
       'mesh_shape', "must be (-1,) or (n,) with n >= 1 devices on 'data'")
  need(config.param_sharding in ('replicated', 'fsdp'), 'param_sharding',
       "must be 'replicated' or 'fsdp'")
  need(config.num_steps >= 0, 'num_steps', 'must be >= 0')
  need(config.learning_rate > 0, 'learning_rate', 'must be > 0')
  need(config.lr_schedule in ('exponential', 'plateau', 'constant'),
       'lr_schedule', "must be 'exponential', 'plateau' or 'constant'")
  need(config.beta_schedule in ('magenta', 'linear'), 'beta_schedule',
       "must be 'magenta' or 'linear'")
  need(config.sampling_schedule in
       ('none', 'constant', 'inverse_sigmoid', 'exponential'),
       'sampling_schedule',
       "must be 'none', 'constant', 'inverse_sigmoid' or 'exponential'")
  need(config.free_bits >= 0, 'free_bits', 'must be >= 0')
  need(config.get('lstm_save', 'activations') in ('activations', 'states'),
       'lstm_save', "must be 'activations' or 'states'")
  need(config.compute_dtype in ('float32', 'bfloat16'), 'compute_dtype',
       "must be 'float32' or 'bfloat16'")
  size = config.get('control_preprocessing_size', 0)
  need(size >= 0, 'control_preprocessing_size', 'must be >= 0')
  if size:
    need(bool(config.get('controls', '')), 'control_preprocessing_size',
         'needs controls (config.controls)')
    need(not config.use_hier and not config.get('split_decoder', False),
         'control_preprocessing_size', 'is for flat, unsplit decoders only')
  if config.use_hier:
    need(sequence_length(config) % config.n_subsequences
         == 0, 'n_subsequences',
         f'must divide the window length {sequence_length(config)}')
    need(len(config.conductor_rnn_sizes) >= 1, 'conductor_rnn_sizes',
         'needs a layer')
  if config.get('encoder_levels', ()):
    levels = tuple(config.encoder_levels)
    product = 1
    for n in levels:
      product *= n
    need(all(n >= 1 for n in levels) and product == sequence_length(config),
         'encoder_levels',
         f'must be positive and multiply to the window length {sequence_length(config)}'
         f' ({config.slice_bars} bars of {steps_per_bar(config)} steps in '
         f'{config.get("meter", meters.DEFAULT)}: e.g. ({steps_per_bar(config)}, '
         f'{config.slice_bars}))')
  for key in ('log_every_steps', 'eval_every_steps', 'checkpoint_every_steps',
              'advanced_every_steps'):
    need(config[key] >= 1, key, 'must be >= 1')


def to_json(config: ml_collections.ConfigDict) -> str:
  """Serialises a config (tuples become lists; `from_json` restores them)."""
  return config.to_json_best_effort(indent=2, sort_keys=True)


def from_json(text: str) -> ml_collections.ConfigDict:
  """Rebuilds a config saved by `to_json`, on top of today's defaults.

  Fields added to `base_config` after the run was saved keep their defaults;
  lists are turned back into tuples so that the result can be overridden.
  """
  saved: dict[str, Any] = json.loads(text)
  config = base_config()
  with config.unlocked():
    for key, value in saved.items():
      if isinstance(value, list):
        value = tuple(value)
      if key in config and isinstance(config[key], tuple):
        value = tuple(value)
      config[key] = value
  return config


def config_file(spec: str) -> Path:
  """The file of `FILE[.py][:VARIANT]` (config_files.find: a path, else a file
  of the shipped configs folder)."""
  return config_files.find(spec)[0]


def load_config_file(spec: str) -> ml_collections.ConfigDict:
  """Loads `FILE[.py][:VARIANT]` the way `--config=` does: a path, else a
  file of the shipped configs folder (config_files.py)."""
  return config_files.load(spec)


def set_sizes(config: ml_collections.ConfigDict, z_size: int,
              enc: tuple[int, ...], dec: tuple[int, ...],
              conductor: tuple[int, ...] | None = None) -> None:
  """Sets the latent and LSTM sizes (the conductor's defaults to `dec`)."""
  config.z_size = z_size
  config.enc_rnn_sizes = tuple(enc)
  config.dec_rnn_sizes = tuple(dec)
  config.conductor_rnn_sizes = tuple(conductor or dec)


def set_intervals(config: ml_collections.ConfigDict, log: int, evaluate: int,
                  checkpoint: int, advanced: int) -> None:
  """Sets the print, eval, checkpoint and advanced-logging intervals."""
  config.log_every_steps = log
  config.eval_every_steps = evaluate
  config.checkpoint_every_steps = checkpoint
  config.advanced_every_steps = advanced


def set_meter(config: ml_collections.ConfigDict, meter: str) -> None:
  """Windows of whole `meter` bars: sets `config.meter`, a hierarchical
  encoder's bar level (level 0) to the bar's steps (`encoder_levels`
  (16, 16) -> (12, 16) in 3/4) and keeps the conductor at one step per bar."""
  config.meter = meter
  bar = steps_per_bar(config)
  if config.get('encoder_levels', ()):
    config.encoder_levels = (bar,) + tuple(config.encoder_levels[1:])
  if config.use_hier:
    config.n_subsequences = config.slice_bars


def set_melody_signal_vae(c: ml_collections.ConfigDict, encoding: str) -> None:
  """The laptop-sized 2-bar VAE of one melody signal (`encoding`
  'melody_rhythm' or 'melody_shape': magenta.js' `mel_rhythm_2bar_*` /
  `mel_shape_2bar_*`), on mel_2bar's melodies; configs/mel_rhythm_2bar.py and
  configs/mel_shape_2bar.py differ only in `encoding`."""
  c.magenta_name = ''   # no Magenta (Python) config; magenta.js' checkpoints only
  c.encoding = encoding
  c.slice_bars = 2
  c.melody_programs = 'mel_2bar'
  c.max_transpose = 0   # a rhythm or contour does not move with the pitches
  set_sizes(c, 32, (128,), (128,))
  c.batch_size = 64
  c.num_steps = 3000
  c.free_bits = 8.0
  c.max_beta = 0.2
  c.beta_rate = 0.999
  c.learning_rate = 2e-3
  c.decay_rate = 0.9995
  c.sampling_schedule = 'none'
  c.sampling_rate = 0.0
  set_intervals(c, log=50, evaluate=100, checkpoint=250, advanced=1000)


def make_tiny(config: ml_collections.ConfigDict) -> None:
  """The 'tiny' variant every config offers: the smallest model that runs
  every code path (tests, smoke checks) for 4 steps."""
  set_sizes(config, 8, (16,), (16,))
  config.free_bits = 0.0
  config.batch_size = 4
  config.num_steps = 4
  config.eval_batches = 2
  config.eval_greedy_windows = 0  # tests that want it turn it on
  set_intervals(config, log=2, evaluate=2, checkpoint=2, advanced=4)


def unknown_variant(path: str, variant: str, choices: tuple[str, ...]) -> ValueError:
  return ValueError(f'{path} has no variant {variant!r} (choose '
                    + ', '.join(repr(c) for c in choices) + ')')
