"""One writer per workdir: an OS lock on `<workdir>/.lock` held while training.

    with WorkdirLock(workdir):      # WorkdirBusyError if another process has it
      ...

The lock is `fcntl.flock` on the file, so the operating system drops it when
the holding process ends in any way (exit, crash, SIGKILL): a lock left by a
killed run never blocks the next start. The file also records who holds it
(pid, host, start time, command) so that the refusal can name the other
process; that text is information only, never used to decide. flock works
between processes of one machine and on most local file systems; on network
file systems without lock support two machines could still both write.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from musicvae_jax.errors import UserError

LOCK_NAME = '.lock'


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
    self.purpose = purpose
    self._fd: int | None = None

  def acquire(self) -> 'WorkdirLock':
    self.workdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      raise WorkdirBusyError(
          f'{self.workdir} is in use by {_holder(self.path)}; wait for it to '
          'finish or stop it, or use another --workdir') from None
    info = {'pid': os.getpid(), 'host': socket.gethostname(),
            'started': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
            'purpose': self.purpose,
            'command': ' '.join([Path(sys.argv[0]).name] + sys.argv[1:])[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    self._fd = fd
    return self

  def release(self) -> None:
    if self._fd is None:
      return
    try:
      os.ftruncate(self._fd, 0)  # the holder's details are stale from now on
    except OSError:
      pass
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None

  @property
  def held(self) -> bool:
    return self._fd is not None

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
