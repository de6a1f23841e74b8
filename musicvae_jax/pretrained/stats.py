"""The sample statistics on a pretrained model's card, and their comparison.

From `n` latents z ~ N(0, I) drawn as `TrainedModel.sample` draws them
(`np.random.default_rng(seed)`, `[n, Z]`), decoded once at `temperature`
and once greedily, as NoteSequences (so every family is measured alike):

  note_density    note starts per bar, mean over the samples
  pitch_range     highest minus lowest pitched (non-drum) note in semitones,
                  mean over the samples that have pitched notes (None if none)
  in_scale_share  share of a sample's pitched notes inside its best-fitting
                  major / natural-minor scale (the 12 diatonic pitch-class
                  sets: a natural minor scale has its relative major's set),
                  mean over the samples that have pitched notes (None if none)
  silent_share    share of the greedy decodes (temperature 1e-5, as
                  evaluate's) of the same latents that hold no note at all

scripts/make_pretrained.py writes them into card.json; tests/test_pretrained.py
recomputes them from the shipped params and holds them to TOLERANCES.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from musicvae_jax.evaluate import GREEDY_TEMPERATURE

# How far a recomputed figure may be from the card's (absolute): decodes on
# another machine may flip a near-tied token now and then.
TOLERANCES = {'note_density': 0.25, 'pitch_range': 1.5, 'in_scale_share': 0.05,
              'silent_share': 0.07}
MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


def note_density(ns, bars: int) -> float:
  """Note starts per bar of one NoteSequence of `bars` bars."""
  return len(ns.notes) / max(bars, 1)


def _pitches(ns) -> np.ndarray:
  return np.array([n.pitch for n in ns.notes if not n.is_drum], np.int64)


def pitch_range(ns) -> float | None:
  """Highest minus lowest pitched note (None without pitched notes)."""
  pitches = _pitches(ns)
  return float(pitches.max() - pitches.min()) if len(pitches) else None


def in_scale_share(ns) -> float | None:
  """Share of the pitched notes in the best-fitting diatonic scale (None
  without pitched notes)."""
  pitches = _pitches(ns)
  if not len(pitches):
    return None
  counts = np.bincount(pitches % 12, minlength=12)                     # [12]
  inside = [counts[(MAJOR + tonic) % 12].sum() for tonic in range(12)]
  return float(max(inside) / counts.sum())


def _mean(values: Sequence[float | None]) -> float | None:
  kept = [v for v in values if v is not None]
  return float(np.mean(kept)) if kept else None


def summarise(sampled: Sequence, greedy: Sequence, bars: int) -> dict[str, Any]:
  """The figures of `sampled` and `greedy` NoteSequences (same latents)."""
  return {
      'note_density': float(np.mean([note_density(ns, bars) for ns in sampled])),
      'pitch_range': _mean([pitch_range(ns) for ns in sampled]),
      'in_scale_share': _mean([in_scale_share(ns) for ns in sampled]),
      'silent_share': float(np.mean([len(ns.notes) == 0 for ns in greedy])),
  }


def sample_statistics(model, n: int = 32, seed: int = 0,
                      temperature: float = 0.5) -> dict[str, Any]:
  """The card's statistics of a `TrainedModel` (its params as they are),
  with the settings that reproduce them."""
  z = np.random.default_rng(seed).standard_normal(
      (n, model.config.z_size)).astype(np.float32)                    # [n, Z]
  sampled = model.decode(z, temperature=temperature, seed=seed)
  greedy = model.decode(z, temperature=GREEDY_TEMPERATURE, seed=seed)
  figures = summarise(sampled, greedy, int(model.config.slice_bars))
  return {**figures, 'n': int(n), 'seed': int(seed), 'temperature': float(temperature),
          'greedy_temperature': GREEDY_TEMPERATURE}


def window_statistics(converter, windows: np.ndarray, bars: int,
                      limit: int = 256) -> dict[str, Any]:
  """The same figures of data windows `[n, T, ...]` (the first `limit`), read
  back as NoteSequences by `converter`: what a model's samples are held to
  (the silent share becomes the data's share of silent windows)."""
  sequences = [converter.to_note_sequence(w) for w in np.asarray(windows)[:limit]]
  return {**summarise(sequences, sequences, bars), 'n': len(sequences)}


def differences(card: dict[str, Any], found: dict[str, Any]) -> list[str]:
  """One line per figure of `found` outside TOLERANCES of the card's."""
  out = []
  for key, tolerance in TOLERANCES.items():
    want, got = card.get(key), found.get(key)
    if (want is None) != (got is None):
      out.append(f'{key}: card {want}, now {got}')
    elif want is not None and abs(want - got) > tolerance:
      out.append(f'{key}: card {want:.4g}, now {got:.4g} (tolerance {tolerance})')
  return out
