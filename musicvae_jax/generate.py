"""Generate music with a trained MusicVAE: MIDI, piano rolls, WAV previews, index.html.

  python -m musicvae_jax.generate --workdir=runs/demo --mode=sample \
      --num_outputs=8 --temperature=0.5 --output_dir=out/samples
  python -m musicvae_jax.generate --model=NAME --mode=sample --output_dir=out/samples
      (a pretrained model that ships with the package: musicvae_jax.list_pretrained())
  python -m musicvae_jax.generate --workdir=runs/demo --mode=interpolate \
      --input_midi_1=a.mid --input_midi_2=b.mid --num_outputs=7 --output_dir=out/interp
  python -m musicvae_jax.generate --workdir=runs/demo --mode=reconstruct \
      --input_midi_1=a.mid --output_dir=out/recon
  python -m musicvae_jax.generate --workdir=runs/demo --mode=attribute \
      --attribute=note_density --amount=2 --output_dir=out/attr
  python -m musicvae_jax.generate --workdir=runs/groove --mode=humanize \
      --input_midi_1=beat.mid --temperature=0.3 --output_dir=out/humanized
  python -m musicvae_jax.generate --workdir=runs/tap --mode=drumify \
      --input_midi_1=tapped.mid --output_dir=out/drums     (GrooVAE runs)

Inputs are read and checked before the model loads; interpolate and attribute
take one window per file (`--window_1`, `--window_2`; the console says which
and how many), and the written MIDI keeps the first input's tempo unless
`--qpm` is given.

Open OUTPUT_DIR/index.html to look at and listen to the results. The same
seed gives the same files. Compiled programs are kept in JAX's persistent
compilation cache (compile_cache.py: `<cache root>/xla`), so a second run
of the same model skips compiling; `--nocompilation_cache` turns it off.

Magenta's command lines work as written (docs/magenta.md, "Magenta's command
lines"): the checkpoint is converted once into the cache, then reused.

  python -m musicvae_jax.generate --config=cat-mel_2bar_big \
      --checkpoint_file=cat-mel_2bar_big.tar --mode=sample --num_outputs=5 \
      --output_dir=out
  python -m musicvae_jax.generate --config=cat-mel_2bar_big \
      --checkpoint_file=cat-mel_2bar_big.ckpt --mode=interpolate --num_outputs=5 \
      --input_midi_1=1.mid --input_midi_2=2.mid --output_dir=out
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
from absl import flags, logging

from musicvae_jax import attributes as _attributes
from musicvae_jax import family as family_lib
from musicvae_jax import compile_cache, config_base, model_source, pretrained

FLAGS = flags.FLAGS
# Magenta's --log names -> absl verbosity.
_LOG_LEVELS = {'DEBUG': logging.DEBUG, 'INFO': logging.INFO, 'WARN': logging.WARNING,
               'WARNING': logging.WARNING, 'ERROR': logging.ERROR, 'FATAL': logging.FATAL}
# The model: --workdir / --run_dir / --checkpoint_file / --model, --config,
# --hparams, --best come from model_source (defined in run()).
flags.DEFINE_enum('mode', 'sample', ['sample', 'interpolate', 'reconstruct', 'attribute',
                                     'humanize', 'drumify'],
                  'What to generate (humanize, drumify: GrooVAE runs).')
flags.DEFINE_integer('num_outputs', 5, 'Samples; interpolation steps (endpoints '
                     'included); reconstructed windows at most; attribute steps.')
flags.DEFINE_float('temperature', 0.5, 'Softmax temperature of the decoder.')
flags.DEFINE_string('input_midi_1', '', 'First input (interpolate, reconstruct, '
                    'attribute); the input of humanize (a drum beat) and drumify '
                    '(any rhythm, tapped or melodic); for sample and attribute of a '
                    'multicontrol model, the window whose chords, rhythm, shape and '
                    'register the outputs follow.')
flags.DEFINE_string('input_midi_2', '', 'Second input (interpolate).')
flags.DEFINE_string('input_midi', '', 'Deprecated: the old name of --input_midi_1 '
                    'for --mode=humanize / drumify (still read).')
flags.DEFINE_integer('max_batch_size', 8, "Most latents decoded (or windows "
                     "encoded) in one call, as Magenta's flag: larger --num_outputs "
                     'are decoded in chunks. Decrease if memory runs out.', lower_bound=1)
flags.DEFINE_enum('log', None, ['DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL'],
                  "Magenta's flag: the threshold of library log messages (as "
                  '--verbosity; default: errors only).', case_sensitive=False)
flags.DEFINE_integer('window_1', 0, 'Which window of --input_midi_1 to use '
                     '(interpolate, attribute): 0-based index among the file\'s '
                     'distinct windows of the config\'s slice_bars, one bar apart, '
                     'in order; the console says how many there are.')
flags.DEFINE_integer('window_2', 0, 'Which window of --input_midi_2 (interpolate).')
flags.DEFINE_string('output_dir', None, 'Where the files go.')
flags.DEFINE_integer('seed', 0, 'Seed for z and the decoder samples.')
flags.DEFINE_enum('attribute', 'note_density', sorted(_attributes.ATTRIBUTES),
                  'Attribute for --mode=attribute.')
flags.DEFINE_float('amount', 1.0, 'How far to move along the attribute vector.')
flags.DEFINE_string('attribute_dir', '', 'Folder of MIDI to compute the attribute '
                    'vector on (default: the run\'s own training and eval data).')
flags.DEFINE_float('qpm', None, 'Tempo of the written MIDI in quarter notes per '
                   'minute (default: the tempo of --input_midi_1 where one is '
                   'given, else 120).')
flags.DEFINE_string('chords', '', 'Chord models: chords to condition on, e.g. '
                    '"C G Am F" (one per bar, or one per step; multicontrol models: '
                    'spread over the window, or a MIDI file\'s window). Default: the '
                    'input\'s own chords (interpolate, reconstruct), else none.')
flags.DEFINE_string('rhythm', '', 'Multicontrol models: the rhythm to follow: a preset '
                    '(eighths, quarters, tresillo, syncopated, ...; docs/controls.md), a pattern '
                    "of x and . per 16th ('x..x..x.'), or a MIDI file's window (song.mid, "
                    'song.mid@2). Default: --input_midi_1\'s, else eighths.')
flags.DEFINE_string('contour', '', 'Multicontrol models: the melodic shape: a preset '
                    '(arch, valley, up, down, zigzag, ...), a Parsons code of u/d/r '
                    "('uudr'), or a MIDI file's window. Default: --input_midi_1's, else arch.")
flags.DEFINE_string('register', '', 'Multicontrol models: the register: low, middle, high, '
                    "top, a pitch (60) or note name ('C5'), or a MIDI file's window. "
                    "Default: --input_midi_1's, else middle.")
flags.DEFINE_bool('accompaniment', False, 'Chord models: also write the chords '
                  'as block chords on a second instrument.')


def write_outputs(sequences, names, output_dir: Path, title: str,
                  strip: bool = False, captions=None, inputs=()) -> list[dict]:
  """Writes MIDI, PNG and WAV per sequence plus index.html; returns the items.

  `inputs`: (NoteSequence, name, caption) of input windows, written first
  and shown first, but not part of an interpolation strip.
  """
  from musicvae_jax import render
  output_dir.mkdir(parents=True, exist_ok=True)
  items = []
  captions = list(captions or [None] * len(names))
  all_seqs = [i[0] for i in inputs] + list(sequences)
  all_names = [i[1] for i in inputs] + list(names)
  all_captions = [i[2] for i in inputs] + captions
  for ns, name, caption in zip(all_seqs, all_names, all_captions):
    render.write_midi(ns, output_dir / f'{name}.mid')
    render.write_piano_roll_png(ns, output_dir / f'{name}.png', title=name)
    render.write_wav(ns, output_dir / f'{name}.wav')
    item = {'title': name, 'midi': f'{name}.mid', 'png': f'{name}.png',
            'wav': f'{name}.wav'}
    if caption:
      item['caption'] = caption
    items.append(item)
  kwargs = {}
  if strip:
    labels = ['A'] + [str(i) for i in range(1, len(sequences) - 1)] + ['B']
    render.interpolation_strip(sequences, output_dir / 'interpolation.png', labels=labels)
    kwargs['top_image'] = 'interpolation.png'
  render.write_index_html(output_dir, items, title, **kwargs)
  return items


def _load(path: str):
  from musicvae_jax.data import midi_io
  from musicvae_jax.data.errors import BadInputError
  path = Path(path).expanduser()
  if not path.is_file():
    raise ValueError(f'{path}: no such file')
  try:
    return midi_io.load_note_sequence(path)
  except BadInputError as error:  # the reader's reason, with the file's name
    raise ValueError(f'{path}: {error}') from error


@dataclasses.dataclass
class Input:
  """One input file, read and windowed before any model is loaded."""

  path: Path
  sequence: Any                 # NoteSequence
  windows: np.ndarray           # every distinct window [n, T, K]
  index: int                    # the chosen window

  @property
  def window(self) -> np.ndarray:
    return self.windows[self.index]

  @property
  def qpm(self) -> float:
    from musicvae_jax.trained_model import sequence_qpm
    return sequence_qpm(self.sequence)

  def describe(self) -> str:
    return (f'{self.path.name}: window {self.index} of {len(self.windows)} '
            f'(0..{len(self.windows) - 1}), tempo {self.qpm:g} qpm')


def read_input(path: str, converter, config, index: int = 0,
               flag: str = 'window_1', flag_value: str = '') -> Input:
  """Reads a MIDI file and picks its window `index`; one-line errors
  (naming `--flag=flag_value`, by default `--flag=index`)."""
  ns = _load(path)
  windows = converter.all_windows(ns)
  if len(windows) == 0:
    raise ValueError(f'{path} gave no {config.slice_bars}-bar {config.encoding} '
                     'window: it needs 4/4 time and notes the converter keeps '
                     '(see docs/models.md, "Data")')
  if not 0 <= index < len(windows):
    raise ValueError(f'--{flag}={flag_value or index}: {path} has {len(windows)} window{"s" * (len(windows) != 1)} '
                     f'(0..{len(windows) - 1})')
  return Input(Path(path).expanduser(), ns, np.asarray(windows), index)


def multicontrol(config) -> bool:
  """Whether the model follows a melody's chords, rhythm, shape and register
  (configs/mel_2bar_multicontrol.py): sample and attribute take them from
  --input_midi_1's window."""
  return config.get('controls', '') == 'multicontrol'


def prepare(config, mode: str, input_midi_1: str = '', input_midi_2: str = '',
            window_1: int = 0, window_2: int = 0, attribute: str = 'note_density',
            attribute_dir: str = '', seed: int = 0,
            input_midi: str = '', controls: dict[str, str] | None = None) -> dict[str, Any]:
  """Checks and reads every input of `mode` (no model needed); raises
  ValueError / OSError with one line naming the flag or the file.

  `controls`: a multicontrol model's chosen chords / rhythm / contour /
  register (control_sources.py); read into `out['controls']` (columns
  `[T, 4]`, what each came from) for sample and attribute."""
  family_lib.require(config, mode)    # one line naming family and mode if not declared
  converter = family_lib.get(config).make_converter(config)
  out: dict[str, Any] = {}
  if mode == 'interpolate' and not (input_midi_1 and input_midi_2):
    raise ValueError('--mode=interpolate needs --input_midi_1 and --input_midi_2')
  if mode == 'reconstruct' and not input_midi_1:
    raise ValueError('--mode=reconstruct needs --input_midi_1')
  if mode == 'attribute' and attribute not in _attributes.ATTRIBUTES:
    raise ValueError(f'--attribute={attribute!r}: choose one of '
                     f'{", ".join(sorted(_attributes.ATTRIBUTES))}')
  chosen = {k: v for k, v in (controls or {}).items() if v}
  if chosen and not multicontrol(config):
    name = sorted(chosen)[0]
    if name != 'chords':
      raise ValueError(f'--{name} needs a multicontrol model '
                       '(configs/mel_2bar_multicontrol.py); this one has '
                       f'config.controls={config.get("controls", "")!r}')
  if mode in ('interpolate', 'attribute') and input_midi_1 or (
      mode == 'sample' and multicontrol(config) and input_midi_1):
    out['input_1'] = read_input(input_midi_1, converter, config, window_1, 'window_1')
  if multicontrol(config) and (mode in ('sample', 'attribute') or chosen):
    if mode == 'reconstruct':   # each window's own controls, the chosen ones replaced
      out['chosen_controls'] = chosen
      _choose_controls(config, converter, None, chosen)   # bad choices fail here
    else:
      first = out.get('input_1')
      out['controls'] = _choose_controls(config, converter, None if first is None else
                                         _taken(first.window, f'{first.path.name} window {first.index}'), chosen)
  if mode == 'interpolate':
    out['input_2'] = read_input(input_midi_2, converter, config, window_2, 'window_2')
  if mode == 'reconstruct':
    out['inputs'] = [_load(p) for p in (input_midi_1, input_midi_2) if p]
  if mode in ('humanize', 'drumify'):
    out['input_path'] = Path(_groove_input(mode, input_midi_1, input_midi)).expanduser()
    out['input'] = _load(str(out['input_path']))
  if mode == 'attribute':
    out['attribute_windows'] = _attribute_windows(config, attribute_dir, seed)
  return out


def _describe_controls(controls) -> str:
  from musicvae_jax.data import control_choices
  return control_choices.describe(controls[1])


def _taken(window: np.ndarray, source: str):
  """A multicontrol window `[T, 5]` as the source of its controls."""
  from musicvae_jax.data import control_choices
  return control_choices.Taken(np.asarray(window)[:, 1:], source)


def _choose_controls(config, converter, base, chosen: dict[str, str]):
  """(columns `[T, 4]`, what each came from) of a multicontrol model's
  chosen controls; what is not chosen comes from the `base` window
  (control_choices.Taken), else the defaults (control_choices.DEFAULTS)."""
  from musicvae_jax import control_sources
  from musicvae_jax.data import control_choices

  def window_of(path: str, index: int, name: str) -> control_choices.Taken:
    found = read_input(path, converter, config, index, name, f'{path}@{index}')
    return _taken(found.window, f'{found.path.name} window {index}')

  try:
    return control_sources.resolve(config_base.sequence_length(config), window_of, base=base,
                                   boundaries=converter.boundaries, **chosen)
  except control_choices.ControlChoiceError as error:
    raise ValueError(str(error)) from None


def _groove_input(mode: str, input_midi_1: str, input_midi: str) -> str:
  """The input of humanize / drumify: --input_midi_1, or --input_midi (its
  deprecated old name); both given must name the same file."""
  if input_midi and input_midi_1 and (Path(input_midi).expanduser().absolute()
                                      != Path(input_midi_1).expanduser().absolute()):
    raise ValueError(f'--input_midi={input_midi} and --input_midi_1={input_midi_1} '
                     'differ: --input_midi is the old name of --input_midi_1; give one')
  if not (input_midi_1 or input_midi):
    raise ValueError(f'--mode={mode} needs --input_midi_1')
  return input_midi_1 or input_midi


def check_input_files(*paths: str) -> None:
  """Raises ValueError naming the first given path that is not a file (before
  any model is loaded or a checkpoint converted)."""
  for path in paths:
    if path and not Path(path).expanduser().is_file():
      raise ValueError(f'{Path(path).expanduser()}: no such file')


def _attribute_windows(config, folder: str = '', seed: int = 0,
                       limit: int = 4096) -> np.ndarray:
  """Windows to compute an attribute vector on: `folder`'s, else the run's
  own training and eval windows (from the cache), at most `limit`."""
  from musicvae_jax import input_pipeline
  converter = family_lib.get(config).make_converter(config)
  if folder:
    path = Path(folder).expanduser()
    if not path.is_dir():
      raise FileNotFoundError(f'--attribute_dir={folder}: no such folder')
    windows = input_pipeline.folder_windows(path, config, converter,
                                            progress=False).windows
  else:
    for key in ('train_dir', 'eval_dir'):
      if config[key] and not Path(config[key]).expanduser().is_dir():
        raise FileNotFoundError(
            f"the run's {key} {config[key]} is gone; pass --attribute_dir")
    data = input_pipeline.load(config, converter)
    windows = np.concatenate([data.train_windows, data.eval_windows])
  if len(windows) > limit:
    pick = np.random.default_rng(seed).choice(len(windows), limit, replace=False)
    windows = windows[np.sort(pick)]
  return np.asarray(windows)


def generate(model, mode: str, output_dir: Path, num_outputs: int = 5,
             temperature: float = 0.5, seed: int = 0, input_midi_1: str = '',
             input_midi_2: str = '', attribute: str = 'note_density',
             amount: float = 1.0, attribute_dir: str = '',
             qpm: float | None = None, chords: str = '',
             accompaniment: bool = False, input_midi: str = '', *,
             window_1: int = 0, window_2: int = 0, rhythm: str = '', contour: str = '',
             register: str = '', prepared: dict[str, Any] | None = None, log=print):
  """Library form of the command line. Returns the written items.

  `qpm=None`: the tempo of the first input, else 120. `prepared`: the result
  of `prepare` (read here when not given). `log` receives one line per input
  saying which window was used. `chords`, `rhythm`, `contour`, `register`:
  a multicontrol model's controls (control_sources.py).
  """
  if chords or accompaniment:   # a model without chords says so before anything else
    family_lib.require(model.config, 'chords')
  if prepared is None:
    prepared = prepare(model.config, mode, input_midi_1, input_midi_2, window_1,
                       window_2, attribute, attribute_dir, seed, input_midi,
                       controls=dict(chords=chords, rhythm=rhythm, contour=contour,
                                     register=register))
  if mode in ('humanize', 'drumify'):
    return _groove(model, mode, output_dir, prepared, temperature, seed)
  chord_kw = {}
  if (chords or accompaniment) and not multicontrol(model.config):
    model.chord_controls(chords or 'N.C.')   # checked up front: one line for a bad symbol
    chord_kw = {'chords': chords or None, 'accompaniment': accompaniment}
  elif accompaniment:   # a multicontrol model: its chosen or its inputs' chords
    chord_kw = {'accompaniment': True}
  first = prepared.get('input_1')
  if qpm is None:
    from musicvae_jax.trained_model import sequence_qpm
    if first is not None:
      qpm = first.qpm
    else:
      qpm = sequence_qpm(prepared['inputs'][0]) if prepared.get('inputs') else 120.0
  to_ns = model.converter.to_note_sequence
  if mode == 'sample' and multicontrol(model.config):
    columns = prepared['controls'][0]
    if first is not None:
      log(f'input: {first.describe()}')
    log(f'controls: {_describe_controls(prepared["controls"])}')
    z = np.random.default_rng(seed).standard_normal(
        (num_outputs, model.config.z_size)).astype(np.float32)
    seqs = model.decode(z, temperature=temperature, seed=seed, qpm=qpm, controls=columns,
                        accompaniment=accompaniment)
    names = [f'sample_{i:02d}' for i in range(num_outputs)]
    inputs = [] if first is None else [
        (to_ns(first.window, qpm=qpm), 'input', first.describe())]
    return write_outputs(seqs, names, output_dir,
                         f'{num_outputs} samples at temperature {temperature} under '
                         f'{_describe_controls(prepared["controls"])}', inputs=inputs)
  if mode == 'sample':
    seqs = model.sample(num_outputs, temperature=temperature, seed=seed, qpm=qpm,
                        **chord_kw)
    names = [f'sample_{i:02d}' for i in range(num_outputs)]
    return write_outputs(seqs, names, output_dir,
                         f'{num_outputs} samples at temperature {temperature}')
  if mode == 'interpolate':
    from musicvae_jax.trained_model import slerp
    if num_outputs < 2:
      raise ValueError(f'--num_outputs={num_outputs}: an interpolation needs >= 2')
    a, b = prepared['input_1'], prepared['input_2']
    for label, item in (('A', a), ('B', b)):
      log(f'input {label}: {item.describe()}')
    pair = np.stack([a.window, b.window])
    _, mu, _ = model.encode_windows(pair)
    z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0, 1, num_outputs)])
    # A chord model decodes over the first input's chords unless --chords.
    controls = model.split_windows(pair)[1]
    if 'controls' in prepared:   # a multicontrol model's chosen controls (over A's)
      controls = prepared['controls'][0][None]
      log(f"controls: {_describe_controls(prepared['controls'])}")
    seqs = model.decode(z, temperature=temperature, seed=seed, qpm=qpm,
                        controls=None if controls is None else controls[0],
                        **chord_kw)
    names = [f'interp_{i:02d}' for i in range(len(seqs))]
    inputs = [(to_ns(a.window, qpm=qpm), 'input_a', f'A: {a.describe()}'),
              (to_ns(b.window, qpm=qpm), 'input_b', f'B: {b.describe()}')]
    return write_outputs(seqs, names, output_dir,
                         f'Interpolation {a.path.name} (window {a.index}) -> '
                         f'{b.path.name} (window {b.index})', strip=True,
                         inputs=inputs)
  if mode == 'reconstruct':
    windows, _ = model.windows(prepared['inputs'], on_multiple='all')
    windows = windows[:num_outputs]
    _, mu, _ = model.encode_windows(windows)
    # A chord model decodes over each window's own chords unless --chords.
    controls = model.split_windows(windows)[1]
    if prepared.get('chosen_controls'):   # each window's own, the chosen ones replaced
      controls = np.stack([_choose_controls(model.config, model.converter,
                                            _taken(w, f'window {i}'),
                                            prepared['chosen_controls'])[0]
                           for i, w in enumerate(windows)])
    recon = model.decode(mu, temperature=temperature, seed=seed, qpm=qpm,
                         controls=controls, **chord_kw)
    originals = [to_ns(w, qpm=qpm) for w in windows]
    seqs, names = [], []
    for i, (orig, rec) in enumerate(zip(originals, recon)):
      seqs += [orig, rec]
      names += [f'original_{i:02d}', f'reconstruction_{i:02d}']
    return write_outputs(seqs, names, output_dir, 'Reconstructions')
  if mode == 'attribute':
    windows = prepared['attribute_windows']
    _, mu, _ = model.encode_tensors(windows)
    vector = _attributes.attribute_vector(mu, _attributes.compute(attribute, windows))
    inputs = ()
    if first is not None:
      log(f'input: {first.describe()}')
      _, z, _ = model.encode_tensors(first.window[None])
      inputs = [(to_ns(first.window, qpm=qpm), 'input', first.describe())]
    else:
      z = np.random.default_rng(seed).standard_normal((1, model.config.z_size)).astype(np.float32)
    steps = np.linspace(0.0, amount, max(num_outputs, 2))
    zs = np.concatenate([z + s * vector[None] for s in steps])
    if multicontrol(model.config):
      controls = prepared['controls'][0]
    else:
      controls = model.chord_controls(chords) if chords else None
    tokens = model.decode_to_tensors(zs, temperature=temperature, seed=seed,
                                     controls=controls)
    seqs = [to_ns(t, qpm=qpm) for t in tokens]
    values = _attributes.compute(attribute, tokens)
    names = [f'{attribute}_{i:02d}' for i in range(len(seqs))]
    captions = [f'a = {s:+.2f}: {attribute} = {v:.3f}' for s, v in zip(steps, values)]
    return write_outputs(seqs, names, output_dir,
                         f'{attribute}: z + a * vector, a from 0 to {amount} '
                         f'(vector from {len(windows)} windows)',
                         captions=captions, inputs=inputs)
  raise ValueError(f'unknown mode {mode!r}')


def _groove(model, mode: str, output_dir: Path, prepared: dict[str, Any],
            temperature: float, seed: int):
  """humanize / drumify one MIDI file with a GrooVAE run (families/groove/trained.py)."""
  family_lib.require(model.config, mode)
  ns, path = prepared['input'], prepared['input_path']
  ns.filename = path.name
  perform = {'humanize': model.humanize, 'drumify': model.drumify}[mode]
  out = perform(ns, temperature=temperature, seed=seed)
  return write_outputs([ns, out], ['input', mode], output_dir,
                       f'{mode} of {path.name} at temperature {temperature}')


def main(argv):
  del argv
  # Orbax logs ~30 lines per restore at INFO/WARNING; keep the console for
  # the result (pass --verbosity=0 or Magenta's --log=INFO to see them).
  if FLAGS.log:
    logging.set_verbosity(_LOG_LEVELS[FLAGS.log.upper()])
  elif not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR)
  from musicvae_jax import startup
  try:
    # Every input is checked before a checkpoint is converted or a model loaded.
    check_input_files(FLAGS.input_midi_1, FLAGS.input_midi_2, FLAGS.input_midi)
    workdir = model_source.workdir()
    config = model_source.load_config(workdir)
    compile_cache.enable_from_flags()  # before anything compiles
    if (FLAGS.mode == 'attribute' and not FLAGS.attribute_dir
        and model_source.is_pretrained(workdir)):
      _check_attribute_data(workdir, config)
    prepared = prepare(config, FLAGS.mode, FLAGS.input_midi_1, FLAGS.input_midi_2,
                       FLAGS.window_1, FLAGS.window_2, FLAGS.attribute,
                       FLAGS.attribute_dir, FLAGS.seed, FLAGS.input_midi,
                       controls=dict(chords=FLAGS.chords, rhythm=FLAGS.rhythm,
                                     contour=FLAGS.contour, register=FLAGS.register))
    model = model_source.load(workdir, best=FLAGS.best, max_batch=FLAGS.max_batch_size,
                              weights=FLAGS.weights)
    startup.print_summary(model.params, extra={'step': model.step})
    output_dir = Path(FLAGS.output_dir).expanduser()
    items = generate(model, FLAGS.mode, output_dir, FLAGS.num_outputs,
                     FLAGS.temperature, FLAGS.seed, FLAGS.input_midi_1,
                     FLAGS.input_midi_2, FLAGS.attribute, FLAGS.amount,
                     FLAGS.attribute_dir, FLAGS.qpm, chords=FLAGS.chords,
                     accompaniment=FLAGS.accompaniment, input_midi=FLAGS.input_midi,
                     window_1=FLAGS.window_1, window_2=FLAGS.window_2,
                     rhythm=FLAGS.rhythm, contour=FLAGS.contour, register=FLAGS.register,
                     prepared=prepared)
  except (ValueError, OSError) as error:
    sys.exit(f'error: {error}')
  print(f'wrote {len(items)} outputs to {output_dir}; open {output_dir / "index.html"}')


def _check_attribute_data(folder: Path, config) -> None:
  """A pretrained model computes attribute vectors on its own training data
  only where that ships (the built-in folk corpus); else one line asking for
  --attribute_dir."""
  if not pretrained.ships_eval_data(config):
    card = pretrained.files.read_card(folder)
    raise ValueError(f'{pretrained.missing_data_reason(folder.name, card)}: pass '
                     '--attribute_dir=FOLDER (MIDI files to compute the attribute vector on)')


def run():
  from musicvae_jax import cli_errors
  model_source.define_flags()
  model_source.define_weights_flag()
  compile_cache.define_flags()
  flags.mark_flags_as_required(['output_dir'])
  cli_errors.run(main, help_from=(model_source.__name__, compile_cache.__name__))


if __name__ == '__main__':
  run()
