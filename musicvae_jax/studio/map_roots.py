"""The folders the studio's latent map may read.

The map reads only folders at or below a root: the run's own data folders
(`train_dir`, `eval_dir`), the folders given with `--data_dir` (alias `--map_root`) and
everything below them. A folder elsewhere (`/etc`, the home folder) is
refused with a message naming the flag that allows it; nothing is read or
written for it. Paths are compared after resolving `~`, `..` and symbolic
links, so a link inside a root cannot lead out of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from musicvae_jax.studio.errors import ForbiddenError, StudioError


def _resolved(folder: str | Path) -> Path:
  return Path(folder).expanduser().resolve()


class MapRoots:
  """Allowed folders (see the module docstring)."""

  def __init__(self, folders: Iterable[str | Path] = ()):
    self.roots: list[Path] = []
    for folder in folders:
      if folder and str(folder).strip():
        root = _resolved(str(folder).strip())
        if root not in self.roots:
          self.roots.append(root)

  @classmethod
  def for_run(cls, config, extra: Iterable[str | Path] = ()) -> 'MapRoots':
    """The run's data folders (those its config names) and `extra`."""
    own = [config.get('train_dir', '') or '', config.get('eval_dir', '') or '']
    return cls([*own, *extra])

  def allows(self, path: Path) -> bool:
    return any(path == root or root in path.parents for root in self.roots)

  def resolve(self, folder: str) -> Path:
    """The folder, resolved, if it is at or below a root; else ForbiddenError
    (nothing about it is looked at first) or StudioError (not a folder)."""
    folder = str(folder).strip()
    if not folder:
      raise StudioError('type the folder of MIDI files to map')
    path = _resolved(folder)
    if not self.allows(path):
      allowed = ', '.join(str(r) for r in self.roots) or 'none'
      raise ForbiddenError(
          f'{folder} is outside the folders the map may read ({allowed}); start the '
          f'studio with --data_dir={folder} to allow it')
    if not path.is_dir():
      raise StudioError(f'{folder} is not a folder on the studio\'s machine')
    return path

  def describe(self) -> list[str]:
    return [str(r) for r in self.roots]
