"""Latents `[N, Z]` -> 2-D map coordinates, and back.

PCA (numpy, always there) is exact and invertible. UMAP (`umap-learn`) and
t-SNE (`openTSNE`) are used when installed; they have no inverse, so a place
on their map decodes to the inverse-distance mean of its nearest points.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import multiprocessing
import queue
from typing import Any, Callable

import numpy as np

METHODS = ('pca', 'umap', 'tsne')
_MODULES = {'umap': 'umap', 'tsne': 'openTSNE'}      # what is imported
_PACKAGES = {'umap': 'umap-learn', 'tsne': 'openTSNE'}  # what pip installs


def available() -> list[str]:
  """Projection methods usable here (PCA always; the others if installed)."""
  return ['pca'] + [m for m in ('umap', 'tsne')
                    if importlib.util.find_spec(_MODULES[m]) is not None]


def pca(x: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(coords [N, dims], mean [Z], components [dims, Z]) of `x [N, Z]`.

  Components are unit rows ordered by variance; each one's sign is chosen so
  that its largest-magnitude entry is positive (same input, same map).
  """
  x = np.asarray(x, np.float64)
  mean = x.mean(0)
  _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
  components = vt[:dims]
  if components.shape[0] < dims:  # fewer points than dims: pad with zeros
    components = np.concatenate(
        [components, np.zeros((dims - components.shape[0], x.shape[1]))])
  signs = np.sign(components[np.arange(dims), np.abs(components).argmax(1)])
  components = components * np.where(signs == 0, 1, signs)[:, None]
  return (x - mean) @ components.T, mean, components


def inverse_distance_mean(point: np.ndarray, coords: np.ndarray,
                          values: np.ndarray, k: int = 8) -> np.ndarray:
  """Mean of `values` rows of the `k` nearest `coords` to `point`, weighted by
  1 / distance^2 (a point exactly on a coordinate returns its value)."""
  d2 = ((np.asarray(coords) - np.asarray(point)[None]) ** 2).sum(1)
  nearest = np.argsort(d2, kind='stable')[:k]
  if d2[nearest[0]] < 1e-12:
    return np.asarray(values[nearest[0]], np.float32)
  w = 1.0 / d2[nearest]
  return ((w[:, None] * values[nearest]).sum(0) / w.sum()).astype(np.float32)


@dataclasses.dataclass
class Projection:
  """A fitted map: `coords [N, 2]` of the latents `mu [N, Z]`."""
  method: str
  coords: np.ndarray
  mu: np.ndarray
  mean: np.ndarray | None = None
  components: np.ndarray | None = None

  def inverse(self, point) -> np.ndarray:
    """A latent `[Z]` for a 2-D map point."""
    point = np.asarray(point, np.float64)
    if self.method == 'pca':
      return (self.mean + point @ self.components).astype(np.float32)
    return inverse_distance_mean(point, self.coords, self.mu)


def check(method: str) -> None:
  """ValueError (one line) unless `method` is a projection usable here."""
  if method not in METHODS:
    raise ValueError(f'projection {method!r}: choose one of {", ".join(METHODS)}')
  if method not in available():
    raise ValueError(f'projection {method!r} needs the package '
                     f'{_PACKAGES[method]} (pip install {_PACKAGES[method]})')


def _fit_coords(mu: np.ndarray, method: str, seed: int) -> np.ndarray:
  """UMAP / t-SNE coordinates `[N, 2]` of `mu [N, Z]` (no inverse)."""
  if method == 'umap':
    import umap
    return umap.UMAP(n_components=2, random_state=seed,
                     n_neighbors=min(15, len(mu) - 1)).fit_transform(mu)
  import openTSNE
  return np.asarray(openTSNE.TSNE(n_components=2, random_state=seed,
                                  perplexity=min(30, (len(mu) - 1) / 3)).fit(mu))


def _call_in_child(fn: Callable, args: tuple, results) -> None:
  try:
    results.put(('ok', fn(*args)))
  except Exception as error:  # sent back as one line
    results.put(('error', f'{type(error).__name__}: {error}'[:300]))


def run_interruptibly(fn: Callable, args: tuple, poll: Callable[[], None],
                      what: str) -> Any:
  """`fn(*args)` (picklable, its result too) in a child process, calling
  `poll()` every 0.1 s meanwhile; when `poll` raises (a cancelled job), the
  child is killed and the exception goes on. UMAP and t-SNE run for seconds
  to minutes in compiled code that a thread cannot interrupt; a process can
  be. `fn`'s own failure is a ValueError naming `what`."""
  context = multiprocessing.get_context('spawn')
  results = context.Queue()
  child = context.Process(target=_call_in_child, args=(fn, args, results),
                          name=f'studio-{what}', daemon=True)
  child.start()
  try:
    while True:
      poll()
      try:
        status, value = results.get(timeout=0.1)
        break
      except queue.Empty:
        if not child.is_alive() and results.empty():
          raise ValueError(f'{what} stopped without a result '
                           f'(exit code {child.exitcode})') from None
  except BaseException:
    child.kill()
    raise
  finally:
    child.join(5)
  if status == 'error':
    raise ValueError(f'{what}: {value}')
  return value


def fit(mu: np.ndarray, method: str = 'pca', seed: int = 0,
        poll: Callable[[], None] | None = None) -> Projection:
  """Projects `mu [N, Z]` to 2-D with `method` ('pca', 'umap', 'tsne').

  `poll`: called while UMAP / t-SNE run (then in a child process); an
  exception it raises (a cancelled job's) stops the fit at once and
  propagates.
  """
  check(method)
  mu = np.asarray(mu, np.float32)
  if method == 'pca':
    coords, mean, components = pca(mu)
    return Projection('pca', coords, mu, mean, components)
  if len(mu) < 5:
    raise ValueError(f'{method} needs at least 5 windows, the set has {len(mu)}')
  coords = (_fit_coords(mu, method, seed) if poll is None
            else run_interruptibly(_fit_coords, (mu, method, seed), poll, method))
  return Projection(method, np.asarray(coords, np.float64), mu)
