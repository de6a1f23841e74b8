"""Generate music with a trained MusicVAE: MIDI, piano rolls, WAV previews, index.html.

  python -m musicvae_jax.generate --workdir=runs/demo --mode=sample \
      --num_outputs=8 --temperature=0.5 --output_dir=out/samples
  python -m musicvae_jax.generate --workdir=runs/demo --mode=interpolate \
      --input_midi_1=a.mid --input_midi_2=b.mid --num_outputs=7 --output_dir=out/interp
  python -m musicvae_jax.generate --workdir=runs/demo --mode=reconstruct \
      --input_midi_1=a.mid --output_dir=out/recon
  python -m musicvae_jax.generate --workdir=runs/demo --mode=attribute \
      --attribute=note_density --amount=2 --attribute_dir=~/midi --output_dir=out/attr
  python -m musicvae_jax.generate --workdir=runs/groove --mode=humanize \
      --input_midi=beat.mid --temperature=0.3 --output_dir=out/humanized
  python -m musicvae_jax.generate --workdir=runs/tap --mode=drumify \
      --input_midi=tapped.mid --output_dir=out/drums     (GrooVAE runs)

Open OUTPUT_DIR/index.html to look at and listen to the results. The same
seed gives the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Trained run (or a converted Magenta checkpoint).')
flags.DEFINE_enum('mode', 'sample', ['sample', 'interpolate', 'reconstruct', 'attribute',
                                     'humanize', 'drumify'],
                  'What to generate (humanize, drumify: GrooVAE runs).')
flags.DEFINE_integer('num_outputs', 5, 'Samples; interpolation steps (endpoints '
                     'included); reconstructed windows at most; attribute steps.')
flags.DEFINE_float('temperature', 0.5, 'Softmax temperature of the decoder.')
flags.DEFINE_string('input_midi_1', '', 'First input (interpolate, reconstruct, attribute).')
flags.DEFINE_string('input_midi_2', '', 'Second input (interpolate).')
flags.DEFINE_string('input_midi', '', 'Input of --mode=humanize / drumify (a drum '
                    'beat; for drumify any rhythm, tapped or melodic).')
flags.DEFINE_string('output_dir', None, 'Where the files go.')
flags.DEFINE_integer('seed', 0, 'Seed for z and the decoder samples.')
flags.DEFINE_string('attribute', 'note_density', 'Attribute for --mode=attribute.')
flags.DEFINE_float('amount', 1.0, 'How far to move along the attribute vector.')
flags.DEFINE_string('attribute_dir', '', 'Folder of MIDI to compute the attribute '
                    'vector on (default: the run\'s eval_dir, then train_dir).')
flags.DEFINE_bool('best', False, 'Use the best checkpoint by eval loss, not the latest.')
flags.DEFINE_float('qpm', 120.0, 'Tempo of the written MIDI.')
flags.DEFINE_string('chords', '', 'Chord models: chords to condition on, e.g. '
                    '"C G Am F" (one per bar, or one per step). Default: the '
                    'input\'s own chords (interpolate, reconstruct), else none.')
flags.DEFINE_bool('accompaniment', False, 'Chord models: also write the chords '
                  'as block chords on a second instrument.')


def write_outputs(sequences, names, output_dir: Path, title: str,
                  strip: bool = False, captions=None) -> list[dict]:
  """Writes MIDI, PNG and WAV per sequence plus index.html; returns the items."""
  from musicvae_jax import render
  output_dir.mkdir(parents=True, exist_ok=True)
  items = []
  captions = captions or [None] * len(names)
  for ns, name, caption in zip(sequences, names, captions):
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
  try:
    return midi_io.load_note_sequence(Path(path).expanduser())
  except midi_io.BadInputError as error:
    raise ValueError(f'{path}: {error}') from None


def _attribute_windows(model, folder: str) -> np.ndarray:
  from musicvae_jax import input_pipeline
  from musicvae_jax.data import cache
  config = model.config
  data = cache.load_or_build_windows(
      folder, input_pipeline.default_cache_dir(config) / 'windows', config,
      num_workers=config.num_workers, progress=False)
  return data.windows


def generate(model, mode: str, output_dir: Path, num_outputs: int = 5,
             temperature: float = 0.5, seed: int = 0, input_midi_1: str = '',
             input_midi_2: str = '', attribute: str = 'note_density',
             amount: float = 1.0, attribute_dir: str = '', qpm: float = 120.0,
             chords: str = '', accompaniment: bool = False,
             input_midi: str = ''):
  """Library form of the command line. Returns the written items."""
  from musicvae_jax import attributes
  if mode in ('humanize', 'drumify'):
    return _groove(model, mode, output_dir, input_midi or input_midi_1,
                   temperature, seed)
  chord_kw = {}
  if chords or accompaniment:   # checked up front: one line for a bad symbol
    model.chord_controls(chords or 'N.C.')
    chord_kw = {'chords': chords or None, 'accompaniment': accompaniment}
  if mode == 'sample':
    seqs = model.sample(num_outputs, temperature, seed=seed, **chord_kw)
    names = [f'sample_{i:02d}' for i in range(num_outputs)]
    return write_outputs(seqs, names, output_dir,
                         f'{num_outputs} samples at temperature {temperature}')
  if mode == 'interpolate':
    if not (input_midi_1 and input_midi_2):
      raise ValueError('--mode=interpolate needs --input_midi_1 and --input_midi_2')
    seqs = model.interpolate(_load(input_midi_1), _load(input_midi_2),
                             num_outputs, temperature, seed, **chord_kw)
    names = [f'interp_{i:02d}' for i in range(len(seqs))]
    return write_outputs(seqs, names, output_dir,
                         f'Interpolation {Path(input_midi_1).name} -> '
                         f'{Path(input_midi_2).name}', strip=True)
  if mode == 'reconstruct':
    inputs = [p for p in (input_midi_1, input_midi_2) if p]
    if not inputs:
      raise ValueError('--mode=reconstruct needs --input_midi_1')
    windows, _ = model.windows([_load(p) for p in inputs], on_multiple='all')
    windows = windows[:num_outputs]
    _, mu, _ = model.encode_tensors(windows)
    # A chord model decodes over each window's own chords unless --chords.
    recon = model.decode(mu, temperature, seed=seed, qpm=qpm,
                         controls=model.split_windows(windows)[1], **chord_kw)
    originals = [model.converter.to_note_sequence(w, qpm=qpm) for w in windows]
    seqs, names = [], []
    for i, (orig, rec) in enumerate(zip(originals, recon)):
      seqs += [orig, rec]
      names += [f'original_{i:02d}', f'reconstruction_{i:02d}']
    return write_outputs(seqs, names, output_dir, 'Reconstructions')
  if mode == 'attribute':
    folder = (attribute_dir or model.config.eval_dir or model.config.train_dir)
    if not folder:
      raise ValueError('--mode=attribute needs --attribute_dir (the run used '
                       'the built-in corpus and names no folder)')
    windows = _attribute_windows(model, folder)
    _, mu, _ = model.encode_tensors(windows)
    vector = attributes.attribute_vector(mu, attributes.compute(attribute, windows))
    if input_midi_1:
      _, z, _ = model.encode([_load(input_midi_1)], on_multiple='first')
    else:
      z = np.random.default_rng(seed).standard_normal((1, model.config.z_size)).astype(np.float32)
    steps = np.linspace(0.0, amount, max(num_outputs, 2))
    zs = np.concatenate([z + s * vector[None] for s in steps])
    tokens = model.decode_to_tensors(
        zs, temperature=temperature, seed=seed,
        controls=model.chord_controls(chords) if chords else None)
    seqs = [model.converter.to_note_sequence(t, qpm=qpm) for t in tokens]
    values = attributes.compute(attribute, tokens)
    names = [f'{attribute}_{i:02d}' for i in range(len(seqs))]
    captions = [f'a = {s:+.2f}: {attribute} = {v:.3f}' for s, v in zip(steps, values)]
    return write_outputs(seqs, names, output_dir,
                         f'{attribute}: z + a * vector, a from 0 to {amount}',
                         captions=captions)
  raise ValueError(f'unknown mode {mode!r}')


def _groove(model, mode: str, output_dir: Path, path: str, temperature: float,
            seed: int):
  """humanize / drumify one MIDI file with a GrooVAE run (groove_model.py)."""
  if not path:
    raise ValueError(f'--mode={mode} needs --input_midi')
  if not hasattr(model, mode):
    raise ValueError(f'--mode={mode} needs a GrooVAE run (configs/groovae_*.py); '
                     f'this run is {model.config.magenta_name}')
  ns = _load(path)
  ns.filename = Path(path).name
  out = getattr(model, mode)(ns, temperature, seed)
  return write_outputs([ns, out], ['input', mode], output_dir,
                       f'{mode} of {Path(path).name} at temperature {temperature}')


def main(argv):
  del argv
  from musicvae_jax.trained_model import TrainedModel
  try:
    model = TrainedModel.from_workdir(FLAGS.workdir, best=FLAGS.best)
    output_dir = Path(FLAGS.output_dir).expanduser()
    items = generate(model, FLAGS.mode, output_dir, FLAGS.num_outputs,
                     FLAGS.temperature, FLAGS.seed, FLAGS.input_midi_1,
                     FLAGS.input_midi_2, FLAGS.attribute, FLAGS.amount,
                     FLAGS.attribute_dir, FLAGS.qpm, chords=FLAGS.chords,
                     accompaniment=FLAGS.accompaniment, input_midi=FLAGS.input_midi)
  except (ValueError, OSError) as error:
    sys.exit(f'error: {error}')
  print(f'wrote {len(items)} outputs to {output_dir}; open {output_dir / "index.html"}')


def run():
  flags.mark_flags_as_required(['workdir', 'output_dir'])
  app.run(main)


if __name__ == '__main__':
  run()
