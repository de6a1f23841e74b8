"""The studio's errors: each message is shown to the person as it is (one line).

`StudioError` is bad input (HTTP 400); `ForbiddenError` a request for
something the studio may not touch, e.g. a folder outside the map roots
(403); `BusyError` a request that must wait for running work, e.g. a second
map while one is being built (409).
"""

from __future__ import annotations


class StudioError(ValueError):
  """Bad input from the page: the message is shown to the person as it is."""

  status = 400


class ForbiddenError(StudioError):
  """Something the studio was not allowed to read or do."""

  status = 403


class BusyError(StudioError):
  """The studio is busy with work this request would collide with."""

  status = 409
