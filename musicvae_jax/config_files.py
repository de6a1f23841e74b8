"""The config files and the names `--config=` accepts for them.

A config is a Python file with `get_config(variant)` and `VARIANTS` (variant
name -> one-line description, the default first). The files live in the
repository's top-level `configs/` folder, which the wheel also installs as
`musicvae_jax/configs/` (setup.py), so these all name the same config, from
any directory:

    configs/mel_2bar.py:cpu     a path (absolute, or relative to the working directory)
    mel_2bar.py:cpu             a file of the shipped configs folder
    mel_2bar:cpu                the same without `.py`

Magenta's config names (`cat-mel_2bar_small`) are resolved one floor up
(`config_flag.py`), where the model families that declare them are known.
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import ml_collections

_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> Path:
  """The shipped configs: inside the package after a wheel install, else the
  repository's `configs/` (a source checkout or an editable install)."""
  installed = _PACKAGE / 'configs'
  return installed if installed.is_dir() else _PACKAGE.parent / 'configs'


def names() -> list[str]:
  """The shipped configs' names (file stems), sorted."""
  return sorted(p.stem for p in config_dir().glob('*.py') if not p.stem.startswith('_'))


def find(spec: str) -> tuple[Path, str]:
  """`FILE[.py][:VARIANT]` -> (the config file, the variant or '').

  Raises FileNotFoundError naming where it looked.
  """
  path, _, variant = spec.partition(':')
  given = Path(path).expanduser()
  candidates = [given]
  if not given.is_absolute() and len(given.parts) == 1:
    file_name = given.name if given.suffix == '.py' else f'{given.name}.py'
    candidates.append(config_dir() / file_name)
  found = next((p for p in candidates if p.is_file()), None)
  if found is None:
    raise FileNotFoundError(
        f'config {path!r} not found (looked in '
        f'{", ".join(str(p) for p in dict.fromkeys(candidates))}; shipped configs: '
        f'{", ".join(names())})')
  return found, variant


def load_module(path: Path) -> types.ModuleType:
  """Executes a config file as a module (each call a fresh module)."""
  module_spec = importlib.util.spec_from_file_location(f'musicvae_config_{path.stem}', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module


def load(spec: str) -> ml_collections.ConfigDict:
  """The config `FILE[.py][:VARIANT]` names (the file's default variant when
  none is given)."""
  path, variant = find(spec)
  module = load_module(path)
  return module.get_config(variant) if variant else module.get_config()


def describe(path: Path) -> tuple[str, dict[str, str]]:
  """A config file's first docstring line and its declared `VARIANTS`
  (name -> description, the default first)."""
  module = load_module(path)
  doc = (module.__doc__ or '').strip()
  return (doc.splitlines()[0] if doc else ''), dict(module.VARIANTS)
