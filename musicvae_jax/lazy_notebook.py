"""Start-up: `import note_seq` without its notebook helpers until they are used.

note_seq's `__init__` imports `note_seq.notebook_utils` (for `play_sequence`
and `plot_sequence`), which imports bokeh, pandas and IPython: most of
`import note_seq`'s time (about 2.3 of 3.0 s of imports on the project's
loaded 2-core machine, `python -X importtime`). The studio's command line
never plots in a notebook, so it calls `defer()` before anything imports
note_seq: `note_seq.notebook_utils` is then a stand-in whose
`play_sequence` / `plot_sequence` import the real module on their first
call and run it, so nothing changes but when bokeh is imported.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

NAME = 'note_seq.notebook_utils'
_DEFERRED = ('play_sequence', 'plot_sequence')


def _load_real() -> types.ModuleType:
  """The real `note_seq.notebook_utils`, imported now (it replaces the stand-in)."""
  current = sys.modules.get(NAME)
  if current is not None and not getattr(current, '_musicvae_stand_in', False):
    return current
  package = sys.modules['note_seq']
  spec = importlib.machinery.PathFinder.find_spec(NAME, package.__path__)
  module = importlib.util.module_from_spec(spec)
  sys.modules[NAME] = module
  try:
    spec.loader.exec_module(module)
  except BaseException:
    sys.modules[NAME] = current
    raise
  package.notebook_utils = module
  return module


def _forward(name: str):
  def call(*args, **kwargs):
    return getattr(_load_real(), name)(*args, **kwargs)
  call.__name__ = call.__qualname__ = name
  call.__doc__ = f'note_seq.notebook_utils.{name}, imported on first use (lazy_notebook.py).'
  return call


def _other_attribute(attr: str):
  """Any other public name of notebook_utils: the real module's (imported
  now). Dunder names stay missing (the import system probes `__path__`)."""
  if attr.startswith('__'):
    raise AttributeError(attr)
  return getattr(_load_real(), attr)


def defer() -> bool:
  """Puts the stand-in in place unless note_seq is already imported; True
  when it did."""
  if 'note_seq' in sys.modules or NAME in sys.modules:
    return False
  stand_in = types.ModuleType(NAME, __doc__)
  stand_in._musicvae_stand_in = True
  for name in _DEFERRED:
    setattr(stand_in, name, _forward(name))
  stand_in.__getattr__ = _other_attribute
  sys.modules[NAME] = stand_in
  return True
