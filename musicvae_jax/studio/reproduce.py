"""Rebuild a studio result from its saved recipe (the "z" JSON download).

  python -m musicvae_jax.studio.reproduce --workdir=runs/demo \
      --recipe=~/Downloads/mix_i12.json --output_dir=out/again
  python -m musicvae_jax.studio.reproduce --model=NAME --recipe=... --output_dir=...

writes the same MIDI, WAV and piano roll the studio played (same model, same
recipe; at the tempo and transpose it was saved at, its "playback"). The model comes from the flags of model_source.py (--workdir, --model
for a pretrained one, ...). From Python:
`reproduce.replay(TrainedModel.from_workdir(W), recipe)`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from absl import flags

from musicvae_jax import model_source


def replay(model, recipe: dict):
  """The NoteSequence a recipe describes ('sample', 'decode' or 'walk')."""
  from musicvae_jax.studio import latent
  method = recipe.get('method')
  qpm = float(recipe.get('qpm', 120.0))
  temperature, seed = float(recipe['temperature']), int(recipe['seed'])
  over = _over(model, recipe)
  if method == 'sample':
    z = np.random.default_rng(seed).standard_normal(
        (int(recipe['n']), model.config.z_size)).astype(np.float32)
    return model.decode(z, temperature=temperature, seed=seed, qpm=qpm,
                        **over)[int(recipe['index'])]
  z = np.asarray(recipe['z'], np.float32).reshape(-1, model.config.z_size)
  if method == 'decode':
    return model.decode(z, temperature=temperature, seed=seed, qpm=qpm, **over)[0]
  if method == 'walk':
    return latent.join_sequences(
        model.decode(z, temperature=temperature, seed=seed, qpm=qpm, **over),
        float(recipe['seconds_each']))
  raise ValueError(f'recipe method {method!r} cannot be replayed (an input or map '
                   'window is its own MIDI file)')


def _over(model, recipe: dict) -> dict:
  """What the recipe's decode plays over, as `TrainedModel.decode`'s keyword
  arguments: a multicontrol model's control columns `[T, 4]` (rebuilt from
  the recipe's `controls`, studio/controls.py), else a chord model's
  progression (text or per step; none when absent)."""
  from musicvae_jax.studio import controls
  if recipe.get('controls'):
    return {'controls': controls.columns(model, recipe['controls'])[0]}
  return {'chords': recipe.get('chords') or None}


FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined when run as a command only, so that importing `replay` never
  # clashes with other commands' flags (generate also has --workdir).
  model_source.define_flags()   # the model the studio served: --workdir, --model, ...
  flags.DEFINE_string('recipe', None, 'A recipe JSON saved from the studio ("z" download).')
  flags.DEFINE_string('output_dir', None, 'Where the MIDI, WAV, PNG and index.html go.')


def main(argv):
  del argv
  from musicvae_jax import render
  from musicvae_jax.studio import arrange
  # Model errors are one line of their own (cli_errors); recipe errors name the recipe.
  model = model_source.load(model_source.workdir(), best=FLAGS.best)
  try:
    recipe = json.loads(Path(FLAGS.recipe).expanduser().read_text())
    ns = replay(model, recipe)
    # The tempo and transpose it was saved at (the page's controls), if any.
    ns = arrange.apply(ns, arrange.parse(recipe.get('playback') or {}))
    out = Path(FLAGS.output_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    title = recipe.get('title', 'studio result')
    render.write_midi(ns, out / 'result.mid')
    render.write_piano_roll_png(ns, out / 'result.png', title=title)
    render.write_wav(ns, out / 'result.wav')
    render.write_index_html(out, [{'title': title, 'midi': 'result.mid',
                                   'png': 'result.png', 'wav': 'result.wav'}], title)
  except (ValueError, OSError, KeyError, TypeError) as error:
    sys.exit(f'error: {FLAGS.recipe}: {error}')
  print(f'wrote {out / "result.mid"}; open {out / "index.html"}')


def run():
  from musicvae_jax import cli_errors
  _define_flags()
  flags.mark_flags_as_required(['recipe', 'output_dir'])
  cli_errors.run(main, help_from=(model_source.__name__,))


if __name__ == '__main__':
  run()
