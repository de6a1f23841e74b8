"""What magenta-js' model.ts imposes on every MusicVAE it loads, whatever its
family: a flat encoder of exactly one bidirectional layer (a hierarchical
one: one layer per level) and LSTMs with forget bias 1.0; and the reading
steps every family's config.json mapping shares (its dataConverter's args,
bars from numSteps).

Pure config checks (no JAX, no files): each family's `magentajs.py` adds its
own converter's limits and declares the `export_magentajs` capability from
both (`problem(config)`).
"""

from __future__ import annotations


def common_problem(config) -> str:
  """'' when model.ts can hold the model, else one line naming the config key."""
  sizes = tuple(config.enc_rnn_sizes)
  if len(sizes) != 1:
    return (f'config.enc_rnn_sizes={sizes}: magenta.js reads an encoder of exactly '
            'one bidirectional layer (per level)')
  if float(config.get('forget_bias', 1.0)) != 1.0:
    return (f'config.forget_bias={config.forget_bias}: magenta.js runs its LSTMs '
            'with forget bias 1.0')
  if config.get('meter', '4/4') != '4/4':
    return (f'config.meter={config.meter!r}: magenta.js models carry no meter (its '
            'converters read and write 4/4 bars)')
  return ''


def problem(config, to_spec) -> str:
  """'' when `to_spec(config)` (a family's) describes the model for
  magenta.js, else the line naming the config key it cannot represent."""
  found = common_problem(config)
  if found:
    return found
  try:
    to_spec(config)
  except ValueError as error:
    return str(error)
  return ''


def converter_args(spec: dict, types) -> dict | None:
  """The dataConverter args of a config.json whose converter type is one of
  `types` (a family's `CONVERTERS`); None for another family's converter."""
  converter = spec.get('dataConverter') or {}
  if converter.get('type', '') not in types:
    return None
  return converter.get('args') or {}


def set_bars(config, num_steps: int) -> None:
  """`config.slice_bars` for a window of `num_steps` steps; ValueError when
  that is not a whole number of the config's bars."""
  steps_per_bar = 4 * config.steps_per_quarter
  if num_steps % steps_per_bar:
    raise ValueError(f'numSteps={num_steps} is not a whole number of '
                     f'{steps_per_bar}-step bars')
  config.slice_bars = num_steps // steps_per_bar
