"""Import a file of scripts/ as a module, for tests of its functions."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / 'scripts'


def load(filename: str) -> types.ModuleType:
  """scripts/<filename> (e.g. 'make_pretrained.py'), executed once per call."""
  path = SCRIPTS / filename
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module
