"""What magenta-js' model.ts imposes on every MusicVAE it loads, whatever its
family: a flat encoder of exactly one bidirectional layer (a hierarchical
one: one layer per level) and LSTMs with forget bias 1.0.

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
