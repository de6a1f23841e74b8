"""How much each attribute vector moves each attribute (the paper's figure).

One pass over a data set: every window is encoded once, every attribute is
computed on the same windows, and one vector per attribute comes from those
encodings (attributes.attribute_vectors). Then a sample of the windows is
decoded from mu as it is ("base") and from mu + strength * vector for each
vector and strength, with the same seed, and the relative change of the mean
of every attribute of the decodes against the base decodes fills a matrix:
`change[strength][vector][attribute]`.

`model` is anything with `encode_tensors(windows) -> (z, mu, sigma)`,
`decode_to_tensors(z, temperature=, seed=, controls=) -> [B, T, K]` and
`split_windows(windows) -> (tokens, controls or None)` (a TrainedModel).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from musicvae_jax import attributes


@dataclasses.dataclass
class Effects:
  """The measurement. `names` orders both axes of every matrix."""

  names: list[str]
  strengths: list[float]
  change: dict[float, np.ndarray]       # strength -> [V, A]: vector V applied, attribute A
  data_values: dict[str, np.ndarray]    # name -> [N] of the data windows
  base_means: dict[str, float]          # name -> mean over the base decodes
  windows: int                          # N, windows the vectors came from
  applied: int                          # windows decoded with each vector


def encode_all(model, windows: np.ndarray, chunk: int = 256) -> np.ndarray:
  """mu `[N, Z]` of converter windows `[N, T, K (+ C)]`, a chunk at a time."""
  mus = [model.encode_tensors(windows[i:i + chunk])[1]
         for i in range(0, len(windows), chunk)]
  return np.concatenate(mus)


def measure(model, windows: np.ndarray, *, names=None, strengths=(1.0, -1.0),
            applied: int = 64, temperature: float = 0.5, seed: int = 0,
            fraction: float = 0.25) -> Effects:
  """Vectors from all `windows` `[N, T, K (+ C)]`; effects on `applied` of
  them (a seeded random choice), decoded at `temperature` with `seed`."""
  names = list(attributes.PAPER_ATTRIBUTES if names is None else names)
  windows = np.asarray(windows)
  if len(windows) < 4:
    raise ValueError(f'{len(windows)} windows: attribute vectors need at least 4')
  tokens, controls = model.split_windows(windows)
  mu = encode_all(model, windows)
  values = attributes.compute_all(tokens, names)
  vectors = attributes.attribute_vectors(mu, values, fraction)

  pick = np.sort(np.random.default_rng(seed).choice(
      len(windows), min(applied, len(windows)), replace=False))
  controls = None if controls is None else controls[pick]

  def decode_values(z):
    out = model.decode_to_tensors(z, temperature=temperature, seed=seed, controls=controls)
    return attributes.compute_all(out, names)

  base = decode_values(mu[pick])
  change = {}
  for s in strengths:
    matrix = np.full((len(names), len(names)), np.nan)
    for v, vname in enumerate(names):
      moved = decode_values(attributes.apply(mu[pick], vectors[vname], s))
      for a, aname in enumerate(names):
        matrix[v, a] = attributes.relative_change(base[aname], moved[aname])
    change[float(s)] = matrix
  base_means = {n: float(np.nanmean(v)) if not np.isnan(v).all() else float('nan')
                for n, v in base.items()}
  return Effects(names, [float(s) for s in strengths], change, values, base_means,
                 len(windows), len(pick))


def markdown_table(effects: Effects, strength: float) -> str:
  """One matrix as a Markdown table: a row per vector applied, a column per
  attribute measured, relative change in percent."""
  matrix = effects.change[float(strength)]
  head = '| vector applied | ' + ' | '.join(effects.names) + ' |'
  rule = '|---|' + '---:|' * len(effects.names)
  rows = []
  for v, vname in enumerate(effects.names):
    cells = []
    for a in range(len(effects.names)):
      x = matrix[v, a]
      text = 'n/a' if np.isnan(x) else f'{100 * x:+.0f} %'
      cells.append(f'**{text}**' if a == v else text)
    rows.append(f'| {strength:+g} x {vname} | ' + ' | '.join(cells) + ' |')
  return '\n'.join([head, rule] + rows)
