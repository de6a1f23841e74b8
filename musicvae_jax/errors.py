"""Error types the library raises for people to read, apart from the CLI layer.

Library modules raise `UserError` (and subclasses) when the message is the
whole story: the command-line layer (`cli_errors`, absl flags, one-line exits)
prints it as `error: <message>` without a traceback. Nothing here imports absl
or any other module of the package, so every layer can import it.
"""

from __future__ import annotations

import errno
import re


class UserError(Exception):
  """Bad input or state the person can fix; the message is the whole story."""


class UnsupportedCapabilityError(UserError, ValueError):
  """A model family was asked for something it does not declare (family.py)."""


def disk_full(error: BaseException) -> str | None:
  """None unless `error` (or its cause) is a full disk; then the path being
  written when it is known, else ''."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    text = str(error)
    if ((isinstance(error, OSError) and error.errno == errno.ENOSPC)
        or 'No space left on device' in text):
      if isinstance(error, OSError) and error.filename:
        return str(error.filename)
      found = re.search(r'(?:local file|Failed writing:) "([^"]+)"', text)
      return found.group(1) if found else ''
    error = error.__cause__ or error.__context__
  return None
