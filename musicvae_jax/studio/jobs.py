"""Long studio work in the background: one daemon thread per job, with
progress, cancel and a one-line outcome.

A job's function receives the `Job` and calls `job.report(phase, done,
total)` as it goes; `report` raises `Cancelled` once `cancel()` was asked,
so the work stops at its next report (the file being read is finished
first). The thread is a daemon: stopping the server never waits for it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from musicvae_jax.studio.errors import BusyError, StudioError

RUNNING, DONE, FAILED, CANCELLED = 'running', 'done', 'failed', 'cancelled'


class Cancelled(Exception):
  """Raised inside a job's work when the job was cancelled."""


class Job:
  """One piece of background work (see the module docstring)."""

  def __init__(self, name: str, work: Callable[['Job'], Any]):
    self.name = name
    self._work = work
    self._cancel = threading.Event()
    self._lock = threading.Lock()
    self.state = RUNNING
    self.phase, self.done, self.total = 'starting', 0, 0
    self.error = ''
    self.result: Any = None
    self.started = time.monotonic()
    self.finished: float | None = None
    self.thread = threading.Thread(target=self._run, name=f'studio-{name}', daemon=True)

  def start(self) -> 'Job':
    self.thread.start()
    return self

  def _run(self) -> None:
    try:
      result = self._work(self)
    except Cancelled:
      self._end(CANCELLED, '')
    except StudioError as error:
      self._end(FAILED, str(error))
    except Exception as error:  # one line, as the server's 500s
      self._end(FAILED, f'internal error: {type(error).__name__}: {error}'[:300])
    else:
      with self._lock:
        self.result = result
      self._end(CANCELLED if self._cancel.is_set() else DONE, '')

  def _end(self, state: str, error: str) -> None:
    with self._lock:
      self.state, self.error, self.finished = state, error, time.monotonic()

  def report(self, phase: str, done: int = 0, total: int = 0) -> None:
    """Records progress; raises Cancelled when the job was cancelled."""
    with self._lock:
      self.phase, self.done, self.total = phase, int(done), int(total)
    self.check()

  def check(self) -> None:
    """Raises Cancelled when the job was cancelled."""
    if self._cancel.is_set():
      raise Cancelled()

  def cancel(self) -> None:
    self._cancel.set()

  @property
  def running(self) -> bool:
    return self.state == RUNNING

  def wait(self, timeout: float | None = None) -> bool:
    """Waits for the thread; True when it has ended."""
    self.thread.join(timeout)
    return not self.thread.is_alive()

  def status(self) -> dict:
    """JSON-ready: name, state, phase, done, total, seconds, error."""
    with self._lock:
      end = self.finished or time.monotonic()
      return {'job': self.name, 'state': self.state, 'phase': self.phase,
              'done': self.done, 'total': self.total,
              'seconds': round(end - self.started, 2), 'error': self.error,
              'cancelling': self._cancel.is_set() and self.state == RUNNING}


class Slot:
  """At most one running job of a kind (a second start is refused)."""

  def __init__(self, what: str):
    self.what = what
    self.job: Job | None = None
    self._lock = threading.Lock()

  def start(self, name: str, work: Callable[[Job], Any]) -> Job:
    with self._lock:
      if self.job is not None and self.job.running:
        raise BusyError(f'{self.what} is already being built '
                        f'({self.job.phase} {self.job.done}/{self.job.total}); '
                        'cancel it first')
      self.job = Job(name, work).start()
      return self.job

  def cancel(self) -> Job | None:
    with self._lock:
      if self.job is not None:
        self.job.cancel()
      return self.job
