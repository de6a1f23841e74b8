"""Magenta checkpoints converted once, into the cache, for commands that load them.

    workdir = converted.workdir_for('cat-mel_2bar_big', 'cat-mel_2bar_big.tar')

The first call converts the checkpoint (`convert.convert_checkpoint`) into
`paths.cache_root()/magenta_checkpoints/<name>-<key>`; later calls with the
same checkpoint, config and hparams find it there and convert nothing. `<name>`
is the Magenta config name (or the config file and variant, or the magenta.js
folder's name) and `<key>` the first 16 hex digits of a SHA-256 over the
checkpoint's bytes (the `.tar`; the `.index` and `.data-*` files of a prefix;
every file of a magenta.js folder), the hparams string, the config argument,
the bytes of the config file it maps to, and `CACHE_VERSION`. So a new
checkpoint in a training folder, other hparams or an edited config file get a
new entry, and moving or renaming the checkpoint does not.

A conversion writes into a temporary sibling folder that is renamed into place
when complete, so a killed conversion never leaves a half entry (its leftover
is removed by the next conversion of the same entry); a `filelock.FileLock` on
`<entry>.lock` keeps two processes from converting the same entry at once (the
second waits, then reuses the first's).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import filelock

from musicvae_jax import config_base, paths
from musicvae_jax.magenta import convert, tf_bundle, tfjs

# Bump when converting the same inputs would write a different workdir.
CACHE_VERSION = 1
FOLDER = 'magenta_checkpoints'
_CHUNK = 1 << 20


class UnknownConfigError(ValueError):
  """A config argument that is neither a Magenta name read here nor FILE.py:VARIANT."""


def cache_dir() -> Path:
  """Where converted checkpoints live: `paths.cache_root()/magenta_checkpoints`."""
  return paths.cache_root() / FOLDER


def is_config_file(config: str) -> bool:
  """True for our `FILE.py[:VARIANT]` form, False for a Magenta config name."""
  return config.partition(':')[0].endswith('.py')


def config_spec(config: str) -> str:
  """Our `FILE.py:VARIANT` for a config argument (a Magenta name is mapped
  through the families' tables); raises UnknownConfigError."""
  if is_config_file(config):
    return config
  known = convert.magenta_configs()
  if config not in known:
    raise UnknownConfigError(
        f'not a Magenta config name this package reads, nor FILE.py:VARIANT '
        f'(known: {", ".join(sorted(known))})')
  return known[config]


def source_files(checkpoint: str | os.PathLike) -> list[Path]:
  """The files whose bytes make up a checkpoint (in a fixed order).

  Raises tf_bundle.CheckpointError when `checkpoint` names none.
  """
  path = Path(checkpoint).expanduser()
  if tfjs.is_tfjs_checkpoint(path):
    return sorted(p for p in path.iterdir() if p.is_file())
  kind, location = tf_bundle.resolve_checkpoint(path)
  if kind == 'tar':
    return [location]
  index = Path(f'{location}.index')
  shards = sorted(location.parent.glob(f'{location.name}.data-*'))
  return [index, *shards]


def entry_name(config: str, checkpoint: str | os.PathLike) -> str:
  """`<name>` of a cache entry: the Magenta config name, `FILE_VARIANT` for a
  config file, else the magenta.js folder's name."""
  if not config:
    name = f'magentajs_{Path(checkpoint).expanduser().absolute().name}'
  elif is_config_file(config):
    file, _, variant = config.partition(':')
    name = '_'.join(filter(None, (Path(file).stem, variant)))
  else:
    name = config
  return re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('.') or 'checkpoint'


def cache_key(config: str, checkpoint: str | os.PathLike, hparams: str = '') -> str:
  """The first 16 hex digits of the entry's SHA-256 (see the module docstring)."""
  digest = hashlib.sha256()

  def add(data: bytes) -> None:
    digest.update(len(data).to_bytes(8, 'little'))
    digest.update(data)

  add(f'musicvae_jax converted magenta checkpoint v{CACHE_VERSION}'.encode())
  add(config.encode())
  add((hparams or '').encode())
  if config:
    add(config_base.config_file(config_spec(config)).read_bytes())
  for file in source_files(checkpoint):
    digest.update(b'file')
    with open(file, 'rb') as f:
      while chunk := f.read(_CHUNK):
        digest.update(chunk)
  return digest.hexdigest()[:16]


def workdir_for(config: str, checkpoint: str | os.PathLike, hparams: str = '', *,
                log: Callable[[str], None] = print, root: Path | None = None) -> Path:
  """The converted workdir of `checkpoint` read as `config` (a Magenta name,
  `FILE.py:VARIANT`, or '' for a magenta.js folder), converting it first when
  the cache does not hold it yet. `log` gets one line: converted or reused,
  and where.

  Raises UnknownConfigError, tf_bundle.CheckpointError (nothing to read) or
  what `convert.convert_checkpoint` raises (sizes, hparams, mismatches).
  """
  root = Path(root) if root is not None else cache_dir()
  entry = root / f'{entry_name(config, checkpoint)}-{cache_key(config, checkpoint, hparams)}'
  if entry.is_dir():  # entries appear complete (a rename), never half written
    log(f'reused the conversion of {checkpoint} in {entry}')
    return entry
  root.mkdir(parents=True, exist_ok=True)
  lock = filelock.FileLock(str(entry) + '.lock')
  try:
    lock.acquire(timeout=0)
  except filelock.Timeout:
    log(f'waiting for another process converting {checkpoint} into {entry}')
    lock.acquire()
  try:
    if entry.is_dir():
      log(f'reused the conversion of {checkpoint} in {entry}')
      return entry
    for stale in root.glob(f'.{entry.name}.*.partial'):  # a killed conversion's
      shutil.rmtree(stale, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=f'.{entry.name}.', suffix='.partial', dir=root))
    try:
      magenta_name = '' if is_config_file(config) else config
      convert.convert_checkpoint(
          magenta_name, str(Path(checkpoint).expanduser()), str(partial),
          hparams=hparams, config_spec=config if is_config_file(config) else None)
      os.replace(partial, entry)
    except BaseException:
      shutil.rmtree(partial, ignore_errors=True)
      raise
  finally:
    lock.release()
  log(f'converted {checkpoint} into {entry} (later runs reuse it)')
  return entry
