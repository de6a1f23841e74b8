"""`--config=`: a config file, a shipped config's name, or a Magenta config name.

    --config=configs/mel_2bar.py:cpu      a file (the design card's form)
    --config=mel_2bar:cpu                 a shipped config, from any directory
    --config=cat-mel_2bar_small           Magenta's name (its config and variant)

plus every `--config.FIELD=VALUE` override, as ml_collections' config file
flag gives them (this flag is that flag, its parser behind one that resolves names).
`listing()` is the text `train --help` shows: every config, its variants and
the Magenta names.
"""

from __future__ import annotations

import textwrap

from absl import flags
from ml_collections import config_flags

from musicvae_jax import config_files
from musicvae_jax.magenta import convert


def resolve(spec: str) -> str:
  """A `--config=` value -> `FILE.py[:VARIANT]` with FILE an existing path.

  Raises ValueError (one line) for a name that is neither a file, a shipped
  config nor a Magenta config name.
  """
  try:
    path, variant = config_files.find(spec)
  except FileNotFoundError as missing:
    magenta = convert.magenta_configs()
    if spec in magenta:
      path, variant = config_files.find(magenta[spec])
    else:
      raise ValueError(f'{missing}; or a Magenta config name: '
                       f'{", ".join(sorted(magenta))}') from None
  return f'{path}:{variant}' if variant else str(path)


class _NamedConfigParser(flags.ArgumentParser):
  """ml_collections' config-file parser, given the resolved name."""

  def __init__(self, file_parser: flags.ArgumentParser):
    self._file_parser = file_parser

  def parse(self, argument):
    return self._file_parser.parse(resolve(argument))

  def flag_type(self):
    return self._file_parser.flag_type()


def define(name: str = 'config', help_string: str | None = None,
           flag_values: flags.FlagValues = flags.FLAGS) -> flags.FlagHolder:
  """Defines `--NAME` (and its `--NAME.FIELD` overrides), locked as the
  trainer expects."""
  holder = config_flags.DEFINE_config_file(
      name, None, help_string or 'Config: FILE.py[:VARIANT], a shipped config '
      'NAME[:VARIANT] (see --help) or a Magenta config name.',
      flag_values=flag_values, lock_config=True)
  flag = flag_values[name]
  flag.parser = _NamedConfigParser(flag.parser)
  return holder


def listing(width: int = 78) -> str:
  """Every shipped config with its variants, then the Magenta names."""
  lines = ['Configs (--config=NAME[:VARIANT]; the first variant is the default):']
  for stem in config_files.names():
    summary, variants = config_files.describe(config_files.config_dir() / f'{stem}.py')
    lines.append(f'  {stem}  {summary}')
    for variant, text in variants.items():
      lines.extend(textwrap.wrap(text, width, initial_indent=f'    :{variant:<12} ',
                                 subsequent_indent=' ' * 18))
  magenta = convert.magenta_configs()
  lines.append('Magenta config names (--config=NAME: the shipped config and variant):')
  for magenta_name, spec in magenta.items():
    lines.append(f'  {magenta_name:<46} {spec.replace(".py", "")}')
  return '\n'.join(lines)
