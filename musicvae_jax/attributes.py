"""Attribute vectors: directions in z that raise a simple musical attribute.

An attribute is computed from a window's tokens (`[T, K]`, melody part 0:
0 = NO_EVENT, 1 = NOTE_OFF, 2.. = pitches 21..). The vector is the mean mu of
the windows in the top `fraction` of the attribute minus the mean mu of the
bottom `fraction` (the recipe of the MusicVAE paper, section 5.3).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

MIN_PITCH = 21
FIRST_PITCH_TOKEN = 2


def _onsets(tokens: np.ndarray) -> np.ndarray:
  return tokens[..., 0] >= FIRST_PITCH_TOKEN


def note_density(tokens: np.ndarray) -> np.ndarray:
  """Onsets per step: `[N, T, K] -> [N]`."""
  return _onsets(tokens).mean(axis=-1)


def mean_pitch(tokens: np.ndarray) -> np.ndarray:
  """Mean MIDI pitch of the onsets (NaN for a window without notes)."""
  onsets = _onsets(tokens)
  pitches = tokens[..., 0] - FIRST_PITCH_TOKEN + MIN_PITCH
  count = onsets.sum(-1)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(count > 0, (pitches * onsets).sum(-1) / count, np.nan)


def pitch_range(tokens: np.ndarray) -> np.ndarray:
  """Highest minus lowest onset pitch (0 without notes)."""
  onsets = _onsets(tokens)
  pitches = tokens[..., 0].astype(np.float64)
  high = np.where(onsets, pitches, -np.inf).max(-1)
  low = np.where(onsets, pitches, np.inf).min(-1)
  return np.where(onsets.any(-1), high - low, 0.0)


def rest_fraction(tokens: np.ndarray) -> np.ndarray:
  """Share of steps during which no note sounds."""
  sounding = np.zeros(tokens.shape[:2], bool)
  state = np.zeros(tokens.shape[0], bool)
  for t in range(tokens.shape[1]):
    tok = tokens[:, t, 0]
    state = np.where(tok >= FIRST_PITCH_TOKEN, True, np.where(tok == 1, False, state))
    sounding[:, t] = state
  return 1.0 - sounding.mean(-1)


ATTRIBUTES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    'note_density': note_density,
    'mean_pitch': mean_pitch,
    'pitch_range': pitch_range,
    'rest_fraction': rest_fraction,
}


def compute(name: str, tokens: np.ndarray) -> np.ndarray:
  if name not in ATTRIBUTES:
    raise ValueError(f'unknown attribute {name!r}; choose one of '
                     f'{", ".join(sorted(ATTRIBUTES))}')
  return ATTRIBUTES[name](np.asarray(tokens))


def attribute_vector(mu: np.ndarray, values: np.ndarray,
                     fraction: float = 0.25) -> np.ndarray:
  """Mean mu of the top `fraction` by value minus that of the bottom `fraction`.

  Args:
    mu: [N, Z] encodings of the windows.
    values: [N] attribute values (NaN rows are ignored).
  Returns:
    [Z] direction.
  """
  keep = ~np.isnan(values)
  mu, values = mu[keep], values[keep]
  count = int(len(values) * fraction)
  if count < 1:
    raise ValueError(f'{len(values)} windows with a value are too few for an '
                     f'attribute vector at fraction {fraction}')
  order = np.argsort(values, kind='stable')
  return mu[order[-count:]].mean(0) - mu[order[:count]].mean(0)
