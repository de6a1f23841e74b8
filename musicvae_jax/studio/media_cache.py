"""Rendered media kept for reuse, bounded by bytes (least recently used out).

WAV and PNG bytes of recent results are worth keeping (a card plays again,
the page asks for its picture), but the studio keeps up to a thousand
results and a long walk's WAV alone is tens of megabytes: the cache holds
at most `max_bytes` (the studio's `--media_cache_mb`), dropping the least
recently used entries first. A single entry over the limit is handed out
but not kept.
"""

from __future__ import annotations

import collections
import threading
from typing import Hashable


class MediaCache:
  """A thread-safe LRU of bytes values with a byte budget."""

  def __init__(self, max_bytes: int):
    self.max_bytes = int(max_bytes)
    self._entries: collections.OrderedDict[Hashable, bytes] = collections.OrderedDict()
    self._lock = threading.Lock()
    self.bytes = 0          # held now
    self.hits = 0
    self.misses = 0
    self.evicted = 0        # entries dropped to stay under the budget

  def get(self, key: Hashable) -> bytes | None:
    with self._lock:
      value = self._entries.get(key)
      if value is None:
        self.misses += 1
        return None
      self._entries.move_to_end(key)
      self.hits += 1
      return value

  def put(self, key: Hashable, value: bytes) -> bytes:
    """Keeps `value` under `key` when it fits; returns it."""
    with self._lock:
      old = self._entries.pop(key, None)
      if old is not None:
        self.bytes -= len(old)
      if len(value) > self.max_bytes:
        return value
      self._entries[key] = value
      self.bytes += len(value)
      while self.bytes > self.max_bytes:
        _, dropped = self._entries.popitem(last=False)
        self.bytes -= len(dropped)
        self.evicted += 1
      return value

  def drop(self, match) -> None:
    """Forgets every entry whose key satisfies `match(key)`."""
    with self._lock:
      for key in [k for k in self._entries if match(k)]:
        self.bytes -= len(self._entries.pop(key))

  def __len__(self) -> int:
    return len(self._entries)

  def stats(self) -> dict:
    with self._lock:
      return {'entries': len(self._entries), 'bytes': self.bytes,
              'max_bytes': self.max_bytes, 'hits': self.hits, 'misses': self.misses,
              'evicted': self.evicted}
