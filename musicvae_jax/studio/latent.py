"""Latent-space math of the studio (numpy only, no model, no web).

* `mix_weights` / `blend`: two to four latents at the corners of a square
  (Melody Mixer / Beat Blender style) or the ends of a slider.
* `walk_path` / `random_anchors`: a smooth path through latent space.
* `join_sequences`: decoded windows played one after another as one piece.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from musicvae_jax.trained_model import slerp


def mix_weights(x: float, y: float, count: int) -> np.ndarray:
  """Weights `[count]` (summing to 1) of `count` latents for a point.

  count 2: a slider, position `x` in [0, 1] (`y` unused): [1 - x, x].
  count 4: corners top-left, top-right, bottom-left, bottom-right of the
    unit square (y grows downwards); bilinear weights
    [(1-x)(1-y), x(1-y), (1-x)y, xy].
  count 3: the same square whose bottom-right corner holds the mean of the
    three, so its weight is shared equally among them.
  Coordinates are clipped to [0, 1].
  """
  if count not in (2, 3, 4):
    raise ValueError(f'a mix takes 2 to 4 melodies, not {count}')
  x, y = float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1))
  if count == 2:
    return np.array([1.0 - x, x])
  square = np.array([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y])
  if count == 4:
    return square
  return square[:3] + square[3] / 3.0


def blend(zs: np.ndarray, weights: np.ndarray) -> np.ndarray:
  """Weighted sum `[Z]` of latents `zs [count, Z]` (linear, as Beat Blender)."""
  zs = np.asarray(zs, np.float32)
  weights = np.asarray(weights, np.float32)
  if zs.shape[0] != weights.shape[0]:
    raise ValueError(f'{zs.shape[0]} latents but {weights.shape[0]} weights')
  return (weights[:, None] * zs).sum(0).astype(np.float32)


def walk_path(anchors: np.ndarray, steps_between: int) -> np.ndarray:
  """Latents `[(A - 1) * (steps_between + 1) + 1, Z]` on great circles
  through `anchors [A, Z]` in order (every anchor included, once).

  Between anchors a and b the points are slerp(a, b, t) for
  t = 0, 1/(s+1), ..., s/(s+1) with s = steps_between; the last anchor ends it.
  """
  anchors = np.asarray(anchors, np.float32)
  if len(anchors) < 2:
    raise ValueError('a walk needs at least 2 anchors')
  if steps_between < 0:
    raise ValueError(f'steps_between={steps_between}: must be >= 0')
  out = []
  for a, b in zip(anchors[:-1], anchors[1:]):
    for t in np.arange(steps_between + 1) / (steps_between + 1):
      out.append(slerp(a, b, float(t)))
  out.append(anchors[-1])
  return np.stack(out).astype(np.float32)


def random_anchors(count: int, z_size: int, seed: int) -> np.ndarray:
  """`count` latents `[count, Z]` drawn from N(0, I) with `seed`."""
  return np.random.default_rng(seed).standard_normal((count, z_size)).astype(np.float32)


def join_sequences(sequences: Sequence, seconds_each: float):
  """One NoteSequence: sequence i shifted by i * `seconds_each` seconds.

  Text annotations (chord symbols) move with their notes. Tempo and time
  signature come from the first sequence; total_time is
  len(sequences) * seconds_each.
  """
  from note_seq.protobuf import music_pb2
  out = music_pb2.NoteSequence()
  if sequences:
    first = sequences[0]
    out.tempos.extend(first.tempos)
    out.time_signatures.extend(first.time_signatures)
    out.ticks_per_quarter = first.ticks_per_quarter
  for i, ns in enumerate(sequences):
    for note in ns.notes:
      copy = out.notes.add()
      copy.CopyFrom(note)
      copy.start_time = note.start_time + i * seconds_each
      copy.end_time = note.end_time + i * seconds_each
    for mark in ns.text_annotations:  # a chord model's chord symbols
      copy = out.text_annotations.add()
      copy.CopyFrom(mark)
      copy.time = mark.time + i * seconds_each
  out.total_time = len(sequences) * seconds_each
  return out
