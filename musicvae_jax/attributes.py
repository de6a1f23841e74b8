"""Attribute vectors: directions in z that raise a simple musical attribute.

An attribute is computed from a window's tokens (`[N, T, K]`, melody part 0:
0 = NO_EVENT, 1 = NOTE_OFF, 2.. = pitches 21..; one step a 16th note). The
vector is the mean mu of the windows in the top `fraction` of the attribute
minus the mean mu of the bottom `fraction` (the recipe of the MusicVAE paper,
section 5.3), and `apply` moves z by `strength` times it.

The paper's five melody attributes (Roberts et al. 2018, section 5.3 and the
online supplement's figures 6-11), as defined here, over the onsets (pitch
tokens) of a window:
  c_diatonic        share of onsets whose pitch class is in C major
                    (C D E F G A B).
  note_density      onsets per step.
  average_interval  mean |pitch difference| in semitones between consecutive
                    onsets.
  syncopation_16th  share of onsets on an odd 16th step (1, 3, 5, ...) with
                    no onset on the step before.
  syncopation_8th   share of onsets on an off-beat 8th (step 2, 6, 10, ...)
                    with no onset on either of the two steps before.
The paper names these five but gives no formulas; the syncopation ones are
the reading of its supplement's figures 10-11 (notes starting off the 8th /
quarter grid without an onset on the grid point before them). A window with
no onset (one for average_interval) has NaN for the shares and the interval.
Our own additions: mean_pitch, pitch_range, rest_fraction.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

MIN_PITCH = 21
FIRST_PITCH_TOKEN = 2


C_MAJOR_PITCH_CLASSES = (0, 2, 4, 5, 7, 9, 11)


def _onsets(tokens: np.ndarray) -> np.ndarray:
  """`[N, T, K] -> [N, T]` bool: a note starts at this step."""
  return tokens[..., 0] >= FIRST_PITCH_TOKEN


def _share_of_onsets(flags: np.ndarray, onsets: np.ndarray) -> np.ndarray:
  """`[N, T]` flags (only counted on onsets) / onsets per window: `[N]`,
  NaN for a window without onsets."""
  count = onsets.sum(-1)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(count > 0, (flags & onsets).sum(-1) / np.maximum(count, 1), np.nan)


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


def c_diatonic(tokens: np.ndarray) -> np.ndarray:
  """Share of onsets in the C major scale: `[N, T, K] -> [N]` (NaN without notes)."""
  onsets = _onsets(tokens)
  pitch_class = (tokens[..., 0].astype(np.int64) - FIRST_PITCH_TOKEN + MIN_PITCH) % 12
  return _share_of_onsets(np.isin(pitch_class, C_MAJOR_PITCH_CLASSES), onsets)


def average_interval(tokens: np.ndarray) -> np.ndarray:
  """Mean absolute interval (semitones) between consecutive onsets:
  `[N, T, K] -> [N]` (NaN with fewer than two notes)."""
  out = np.full(tokens.shape[0], np.nan)
  for i, row in enumerate(tokens[..., 0]):
    pitches = row[row >= FIRST_PITCH_TOKEN].astype(np.int64)
    if len(pitches) > 1:
      out[i] = np.abs(np.diff(pitches)).mean()
  return out


def _onset_before(onsets: np.ndarray, back: int) -> np.ndarray:
  """`[N, T]`: an onset `back` steps earlier (False before the window)."""
  shifted = np.zeros_like(onsets)
  shifted[:, back:] = onsets[:, :-back]
  return shifted


def syncopation_16th(tokens: np.ndarray) -> np.ndarray:
  """Share of onsets on odd steps without an onset the step before:
  `[N, T, K] -> [N]` (NaN without notes)."""
  onsets = _onsets(tokens)
  odd = (np.arange(onsets.shape[1]) % 2 == 1)[None]
  return _share_of_onsets(odd & ~_onset_before(onsets, 1), onsets)


def syncopation_8th(tokens: np.ndarray) -> np.ndarray:
  """Share of onsets on steps 2, 6, 10, ... (the off-beat 8ths) without an
  onset on either of the two steps before: `[N, T, K] -> [N]`."""
  onsets = _onsets(tokens)
  offbeat = (np.arange(onsets.shape[1]) % 4 == 2)[None]
  free = ~_onset_before(onsets, 1) & ~_onset_before(onsets, 2)
  return _share_of_onsets(offbeat & free, onsets)


ATTRIBUTES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    'note_density': note_density,
    'mean_pitch': mean_pitch,
    'pitch_range': pitch_range,
    'rest_fraction': rest_fraction,
    'c_diatonic': c_diatonic,
    'average_interval': average_interval,
    'syncopation_16th': syncopation_16th,
    'syncopation_8th': syncopation_8th,
}

# The paper's five, in the order of its figure.
PAPER_ATTRIBUTES = ('c_diatonic', 'note_density', 'average_interval',
                    'syncopation_16th', 'syncopation_8th')


def _check_name(name: str) -> None:
  if name not in ATTRIBUTES:
    raise ValueError(f'unknown attribute {name!r}; choose one of '
                     f'{", ".join(sorted(ATTRIBUTES))}')


def compute(name: str, tokens: np.ndarray) -> np.ndarray:
  """Attribute `name` of windows `[N, T, K]`: `[N]`."""
  _check_name(name)
  return ATTRIBUTES[name](np.asarray(tokens))


def compute_all(tokens: np.ndarray, names=None) -> dict[str, np.ndarray]:
  """Every attribute (or those of `names`) of the same windows `[N, T, K]`:
  name -> `[N]`."""
  names = list(ATTRIBUTES) if names is None else list(names)
  for name in names:
    _check_name(name)
  tokens = np.asarray(tokens)
  return {name: ATTRIBUTES[name](tokens) for name in names}


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


def attribute_vectors(mu: np.ndarray, values: dict[str, np.ndarray],
                      fraction: float = 0.25) -> dict[str, np.ndarray]:
  """One vector `[Z]` per attribute of `values` (name -> `[N]`), all from
  the same encodings `mu [N, Z]`."""
  return {name: attribute_vector(mu, v, fraction) for name, v in values.items()}


def apply(z: np.ndarray, vector: np.ndarray, strength: float) -> np.ndarray:
  """z + strength * vector: `[..., Z]` latents moved along one vector `[Z]`."""
  z, vector = np.asarray(z, np.float32), np.asarray(vector, np.float32)
  if vector.shape[-1:] != z.shape[-1:]:
    raise ValueError(f'vector of size {vector.shape[-1:]} for latents of size {z.shape[-1:]}')
  return z + np.float32(strength) * vector


def relative_change(base: np.ndarray, moved: np.ndarray) -> float:
  """(mean(moved) - mean(base)) / |mean(base)| over the windows with a
  value (NaN rows ignored); NaN when the base mean is 0 or has no values."""
  b, m = np.asarray(base, np.float64), np.asarray(moved, np.float64)
  if np.isnan(b).all() or np.isnan(m).all():
    return float('nan')
  b_mean, m_mean = np.nanmean(b), np.nanmean(m)
  if b_mean == 0:
    return float('nan')
  return float((m_mean - b_mean) / abs(b_mean))
