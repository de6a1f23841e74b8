"""JAX's persistent compilation cache for the studio and generate.

    compile_cache.enable()             # before anything compiles
    compile_cache.default_dir()        # <cache root>/xla (paths.cache_root)

A second start of the studio (or of generate) with the same model, jax and
machine reads its compiled programs from this folder instead of compiling
them again. The folder is `paths.cache_root() / 'xla'`
(`~/.cache/musicvae_jax/xla` on Linux; `$MUSICVAE_CACHE_DIR/xla` when that
is set), or `--compilation_cache_dir`; `--nocompilation_cache` turns it off.
Only programs that took at least `MIN_COMPILE_SECS` to compile are written
(the model's encode and decode, not the many tiny eager ops, whose files
would cost more to read than to compile). JAX keys every entry by the
program, the jax / XLA version and the device, so a stale entry is never
used; past `MAX_BYTES` (1 GiB) the least recently used entries are deleted;
deleting the folder is always safe.

It must be switched on before the process compiles anything: JAX decides
once, at its first compilation, whether a cache is in use.
"""

from __future__ import annotations

from pathlib import Path

from musicvae_jax import paths

# Compile time (seconds) from which a program is written to the cache. The
# studio's encodes and decodes take 0.3 s and more on a CPU; eager ops and
# small helpers take milliseconds.
MIN_COMPILE_SECS = 0.2
# Size bound of the folder: past it JAX deletes the least recently used
# entries (new jax versions and models add entries; old ones age out).
MAX_BYTES = 1 << 30


def default_dir() -> Path:
  """`<cache root>/xla`: where the compiled programs live by default."""
  return paths.cache_root() / 'xla'


def enable(directory: str | Path | None = None,
           min_compile_secs: float = MIN_COMPILE_SECS) -> Path:
  """Points JAX's persistent compilation cache at `directory` (default:
  `default_dir()`, created if needed) and returns it. Call before anything
  compiles (a later call is too late for this process)."""
  import jax
  folder = Path(directory).expanduser() if directory else default_dir()
  folder.mkdir(parents=True, exist_ok=True)
  jax.config.update('jax_compilation_cache_dir', str(folder))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', float(min_compile_secs))
  jax.config.update('jax_compilation_cache_max_size', MAX_BYTES)
  return folder


def define_flags() -> None:
  """--compilation_cache and --compilation_cache_dir (the studio and
  generate; once per process)."""
  from absl import flags
  if 'compilation_cache' in flags.FLAGS:
    return
  flags.DEFINE_bool('compilation_cache', True,
                    'Keep compiled programs on disk (JAX\'s persistent compilation cache) so '
                    'that the next start skips compiling; --nocompilation_cache turns it off.')
  flags.DEFINE_string('compilation_cache_dir', None,
                      'Folder of the compilation cache (default: <cache root>/xla, '
                      'e.g. ~/.cache/musicvae_jax/xla; $MUSICVAE_CACHE_DIR/xla when set).')


def enable_from_flags() -> Path | None:
  """`enable` as the flags say: the folder in use, or None when turned off.
  Raises OSError when the folder cannot be made."""
  from absl import flags
  if not flags.FLAGS.compilation_cache:
    return None
  return enable(flags.FLAGS.compilation_cache_dir)
