"""Results brought back from a saved session (the page's history after a
reload, or a session file imported on the page).

The page keeps each result's recipe (the "z.json" download). A result the
studio still holds is used as it is; otherwise its recipe is replayed
(`reproduce.replay`: samples, decodes and walks come back note for note on
the same model) or, for what cannot be replayed (an input window, a map
window, a humanized beat), its notes are read back from the session.
"""

from __future__ import annotations

import math

import numpy as np

from musicvae_jax.studio import reproduce
from musicvae_jax.studio.engine import MAX_SAMPLES, MAX_WALK_POINTS
from musicvae_jax.studio.errors import StudioError

REPLAYABLE = ('sample', 'decode', 'walk')
MAX_NOTES = 50_000
DERIVED = ('title', 'workdir', 'pretrained', 'cli', 'python', 'playback')  # added on saving
KINDS = ('sample', 'input', 'reconstruction', 'mix', 'walk', 'map', 'attribute',
         'humanize', 'drumify')


def _check(recipe: dict) -> None:
  """What a replay would decode stays within what the studio itself makes."""
  temperature = float(recipe['temperature'])
  if not (math.isfinite(temperature) and 1e-5 <= temperature <= 5.0):
    raise ValueError(f'temperature {temperature}')
  if recipe.get('method') == 'sample' and not (
      1 <= int(recipe['n']) <= MAX_SAMPLES and 0 <= int(recipe['index']) < int(recipe['n'])):
    raise ValueError(f'sample {recipe["index"]} of {recipe["n"]}')


def _z(recipe: dict, z_size: int) -> np.ndarray | None:
  """The latent the recipe names ([Z] or, for a walk, [n, Z]), or None."""
  if recipe.get('method') == 'sample':
    n, index = int(recipe['n']), int(recipe['index'])
    return np.random.default_rng(int(recipe['seed'])).standard_normal(
        (n, z_size)).astype(np.float32)[index]
  if recipe.get('z') is None:
    return None
  z = np.asarray(recipe['z'], np.float32).reshape(-1, z_size)
  return z if recipe.get('method') == 'walk' else z[0]


def _from_notes(notes, qpm: float, duration: float):
  """A NoteSequence of the page's notes ([pitch, start, end, velocity,
  is_drum, instrument] each)."""
  from note_seq.protobuf import music_pb2
  if not isinstance(notes, list) or len(notes) > MAX_NOTES:
    raise ValueError('notes: expected a list of at most %d notes' % MAX_NOTES)
  ns = music_pb2.NoteSequence(ticks_per_quarter=220)
  ns.tempos.add(qpm=qpm)
  for pitch, start, end, velocity, drum, instrument in notes:
    pitch, velocity, instrument = int(pitch), int(velocity), int(instrument)
    start, end = float(start), float(end)
    if not (0 <= pitch <= 127 and 0 <= velocity <= 127 and 0 <= instrument < 64
            and math.isfinite(end) and 0 <= start <= end <= 24 * 3600):
      raise ValueError(f'a note {[pitch, start, end, velocity]} out of range')
    ns.notes.add(pitch=pitch, start_time=start, end_time=end, velocity=velocity,
                 is_drum=bool(drum), instrument=instrument)
  if not (math.isfinite(duration) and 0 <= duration <= 24 * 3600):
    raise ValueError(f'duration {duration}')
  ns.total_time = max([duration] + [n.end_time for n in ns.notes])
  return ns


def restore(studio, entry: dict):
  """A new Item of `studio` for a saved result `entry` ({'recipe', 'title',
  'kind', and for what cannot be replayed 'notes', 'duration'}); one-line
  StudioError when the session does not fit this model."""
  recipe, title = entry.get('recipe'), str(entry.get('title') or 'restored')
  kind = entry.get('kind') if entry.get('kind') in KINDS else 'sample'
  if not isinstance(recipe, dict):
    raise StudioError(f'{title}: the session has no recipe for it')
  method = recipe.get('method')
  try:
    z = _z(recipe, studio.z_size)
    if method in REPLAYABLE:
      _check(recipe)
      if method == 'walk' and not 1 <= len(z) <= MAX_WALK_POINTS:
        raise ValueError(f'a walk of {len(z)} windows')
      with studio.lock:   # the model, one request at a time
        ns = reproduce.replay(studio.model, recipe)
      ns.total_time = max(ns.total_time, studio.window_seconds)  # as the studio made it
    else:
      ns = _from_notes(entry.get('notes'), float(recipe.get('qpm', studio.qpm)),
                       float(entry.get('duration') or 0.0))
  except StudioError:
    raise
  except (ValueError, TypeError, KeyError, IndexError) as error:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    raise StudioError(f'{title}: cannot be restored on this model ({message[:120]})') from None
  kept = {k: v for k, v in recipe.items() if k not in DERIVED}
  with studio.lock:
    return studio._add(title, kind, ns, z, kept)  # pylint: disable=protected-access
