"""Where musicvae_jax keeps its caches, on every platform.

`cache_root()` is `$MUSICVAE_CACHE_DIR` when set, else the platform's user
cache folder (`platformdirs.user_cache_dir`): `~/.cache/musicvae_jax` on Linux
(or `$XDG_CACHE_HOME/musicvae_jax`), `~/Library/Caches/musicvae_jax` on macOS,
`%LOCALAPPDATA%\\musicvae_jax\\Cache` on Windows. A config's `cache_dir` still
overrides it for window caches.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = 'MUSICVAE_CACHE_DIR'


def cache_root() -> Path:
  """The folder under which window caches, corpora and downloads live."""
  env = os.environ.get(ENV_VAR)
  if env:
    return Path(env).expanduser()
  return Path(platformdirs.user_cache_dir('musicvae_jax', appauthor=False))
