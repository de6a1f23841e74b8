"""One writer per workdir: an OS lock on `<workdir>/.lock` held while training.

    with WorkdirLock(workdir):      # WorkdirBusyError if another process has it
      ...

The lock is `filelock.FileLock` on `.lock`: `flock` on POSIX systems,
`LockFileEx` (msvcrt) on Windows, both taken without waiting. The operating
system drops it when the holding process ends in any way (exit, crash,
SIGKILL): a lock left by a killed run never blocks the next start. Who holds it
(pid, host, start time, command) is written next to it, in `<workdir>/.lock.json`
(a locked file cannot be read by others on Windows), so that the refusal can
name the other process; that text is information only, never used to decide,
and is removed on release (one left by a killed holder is overwritten by the
next). The lock works between processes of one machine and on most local file
systems; on network file systems without lock support two machines could
still both write.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import filelock

from musicvae_jax.errors import UserError

LOCK_NAME = '.lock'
INFO_NAME = '.lock.json'

# Held locks, so that one is kept until release() or the process ends even if
# its WorkdirLock is dropped (filelock releases a lock when it is collected).
_HELD: set[filelock.BaseFileLock] = set()


class WorkdirBusyError(UserError):
  """Another live process holds the workdir."""


def _holder(path: Path) -> str:
  try:
    info = json.loads(path.read_text() or '{}')
  except (OSError, ValueError):
    return 'another process'
  text = f"pid {info.get('pid', '?')} on {info.get('host', '?')}"
  if info.get('started'):
    text += f", started {info['started']}"
  if info.get('command'):
    text += f" ({info['command']})"
  return text


class WorkdirLock:
  """Exclusive, non-blocking lock of a workdir for the life of the holder."""

  def __init__(self, workdir: str | Path, purpose: str = 'train'):
    self.workdir = Path(workdir)
    self.path = self.workdir / LOCK_NAME
    self.info_path = self.workdir / INFO_NAME
    self.purpose = purpose
    self._lock: filelock.BaseFileLock | None = None

  def acquire(self) -> 'WorkdirLock':
    self.workdir.mkdir(parents=True, exist_ok=True)
    # Not thread-local: the holder may release it from another thread.
    lock = filelock.FileLock(str(self.path), timeout=0, thread_local=False)
    try:
      lock.acquire()
    except filelock.Timeout:
      raise WorkdirBusyError(
          f'{self.workdir} is in use by {_holder(self.info_path)}; wait for it '
          'to finish or stop it, or use another --workdir') from None
    self._lock = lock
    _HELD.add(lock)
    info = {'pid': os.getpid(), 'host': socket.gethostname(),
            'started': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
            'purpose': self.purpose,
            'command': ' '.join([Path(sys.argv[0]).name] + sys.argv[1:])[:300]}
    try:
      tmp = self.info_path.with_name(f'{INFO_NAME}.{os.getpid()}.tmp')
      tmp.write_text(json.dumps(info))
      os.replace(tmp, self.info_path)
    except OSError:
      pass  # the lock holds without its description
    return self

  def release(self) -> None:
    if self._lock is None:
      return
    try:
      self.info_path.unlink()  # the holder's details are stale from now on
    except OSError:
      pass
    self._lock.release()
    _HELD.discard(self._lock)
    self._lock = None

  @property
  def held(self) -> bool:
    return self._lock is not None

  def __enter__(self) -> 'WorkdirLock':
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()


def try_lock(workdir: str | Path, purpose: str) -> WorkdirLock | None:
  """The lock if it is free now, else None (for readers that may tidy up)."""
  try:
    return WorkdirLock(workdir, purpose).acquire()
  except (WorkdirBusyError, OSError):
    return None
