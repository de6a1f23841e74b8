"""Counting JAX compilations (tests, benchmarks, the studio's start-up line).

    counter = compile_events.Counter()
    ...                                    # anything that may compile
    counter.compiled, counter.from_disk    # since the counter was made

`compiled`: computations lowered to XLA since then (each miss of a jitted
function's in-memory cache: a new shape, dtype or static argument, and each
eager op on a new shape), whether XLA then compiled them or read them from
the persistent compilation cache (compile_cache.py). `from_disk`: how many
of those the persistent cache served. Counts come from `jax.monitoring`
events, one listener per process for every counter.
"""

from __future__ import annotations

import threading

LOWERED = '/jax/core/compile/jaxpr_to_mlir_module_duration'
CACHE_HIT = '/jax/compilation_cache/cache_hits'

_totals = {LOWERED: 0, CACHE_HIT: 0}
_lock = threading.Lock()
_installed = False


def _on_event(name: str, *args, **kwargs) -> None:
  if name in _totals:
    with _lock:
      _totals[name] += 1


def install() -> None:
  """Registers the listeners (once per process; later calls do nothing)."""
  global _installed
  import jax.monitoring
  with _lock:
    if _installed:
      return
    _installed = True
  jax.monitoring.register_event_listener(_on_event)
  jax.monitoring.register_event_duration_secs_listener(_on_event)


def totals() -> tuple[int, int]:
  """(lowered, served from the persistent cache) since `install`."""
  with _lock:
    return _totals[LOWERED], _totals[CACHE_HIT]


class Counter:
  """Compilations since this counter was made (or last `reset`)."""

  def __init__(self):
    install()
    self.reset()

  def reset(self) -> None:
    self._start = totals()

  @property
  def compiled(self) -> int:
    """Computations lowered (compiled or read from the persistent cache)."""
    return totals()[0] - self._start[0]

  @property
  def from_disk(self) -> int:
    """Of `compiled`, those the persistent compilation cache served."""
    return totals()[1] - self._start[1]
