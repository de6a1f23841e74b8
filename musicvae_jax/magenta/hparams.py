"""Magenta's MusicVAE `--hparams` on our config: one table, one row per HParam.

    apply_hparams(config, 'batch_size=32,learning_rate=0.0005,enc_rnn_size=[512]')

`HPARAMS` holds every hyperparameter of Magenta's MusicVAE (the defaults of
`base_model.get_default_hparams` and `lstm_models.get_default_hparams`, plus
`nade_num_hidden` of the NADE configs) with the config field(s) it sets and
how its value converts. Values are read by the row's type, as Magenta's
`HParams.parse` does by the default's type: `free_bits=48` is 48.0,
`enc_rnn_size=[512,512]` a tuple of ints, `conditional=false` a bool.

An unknown name, a value of the wrong type and a value with no counterpart
here each raise `HParamsError`, one line naming the hparam (and, where one
exists, the `--config.X` to use instead). docs/magenta.md carries the table
(`scripts/magenta_tables.py` writes it from `HPARAMS`).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any, Callable, NamedTuple

from musicvae_jax import config_base
from musicvae_jax.errors import UserError


class HParamsError(UserError, ValueError):
  """A `--hparams` entry that cannot be applied (one line, naming it)."""


# -- parsing ------------------------------------------------------------------
def split_hparams(text: str) -> dict[str, str]:
  """'a=1,b=[2,3]' -> {'a': '1', 'b': '[2,3]'} (values as written)."""
  out: dict[str, str] = {}
  for item in re.findall(r'(?:[^,\[]|\[[^\]]*\])+', text or ''):
    item = item.strip()
    if not item:
      continue
    name, sep, value = item.partition('=')
    name = name.strip()
    if not sep or not re.fullmatch(r'\w+', name):
      raise HParamsError(f'--hparams: {item!r} is not name=value')
    if name in out:
      raise HParamsError(f'--hparams: {name} is given twice')
    out[name] = value.strip()
  return out


def parse_hparams(text: str) -> dict[str, Any]:
  """Magenta's `--hparams` string: 'z_size=32,enc_rnn_size=[128],...', each
  value typed by its look (int, float, list of ints, else the string)."""
  out: dict[str, Any] = {}
  for key, value in split_hparams(text).items():
    if value.startswith('['):
      out[key] = [int(v) for v in value[1:-1].split(',') if v.strip()]
    else:
      try:
        out[key] = int(value)
      except ValueError:
        try:
          out[key] = float(value)
        except ValueError:
          out[key] = value
  return out


def _to_bool(text: str) -> bool:
  lowered = text.lower()
  if lowered in ('true', '1'):
    return True
  if lowered in ('false', '0'):
    return False
  raise ValueError(text)


def _to_str(text: str) -> str:
  return text.strip('\'"')


def _to_ints(text: str) -> tuple[int, ...]:
  if not (text.startswith('[') and text.endswith(']')):
    raise ValueError(text)
  return tuple(int(v) for v in text[1:-1].split(',') if v.strip())


KINDS: dict[str, Callable[[str], Any]] = {
    'int': int, 'float': float, 'bool': _to_bool, 'str': _to_str,
    'list of ints': _to_ints}


# -- the table ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class HParam:
  """One Magenta hyperparameter and what it becomes here.

  `fields`: the config fields it sets to its value (all of them; with
  `where_present`, those the config has: a family's own fields); `also`:
  further fields it sets to fixed values (the Magenta schedule it implies);
  `check(config, value)` returns None when the value applies, else the
  reason it has no counterpart (then nothing is set).
  """

  name: str
  kind: str
  magenta_default: Any
  fields: tuple[str, ...] = ()
  where_present: bool = False
  also: tuple[tuple[str, Any], ...] = ()
  check: Callable[[Any, Any], str | None] | None = None
  note: str = ''


def _only(allowed, why: str):
  def check(config, value):
    del config
    return None if value == allowed else why
  return check


def _max_seq_len(config, value):
  length = config_base.sequence_length(config)
  if value == length:
    return None
  if config.encoding == 'multiperf':
    how = ('--config.max_num_instruments and '
           '--config.max_events_per_instrument (their product)')
  else:
    how = f'--config.slice_bars (x {config_base.steps_per_bar(config)} steps per bar)'
  return f'windows of this config are {length} steps; set their length with {how}'


def _choice(allowed: tuple[str, ...]):
  def check(config, value):
    del config
    return None if value in allowed else f"Magenta's choices are {', '.join(allowed)}"
  return check


def _needs_field(field: str, neutral, who: str):
  def check(config, value):
    if field in config or value == neutral:
      return None
    return f'only {who} have it (config.{field})'
  return check


HPARAMS: tuple[HParam, ...] = (
    # base_model.get_default_hparams
    HParam('max_seq_len', 'int', 32, check=_max_seq_len,
           note='only the window length, which the data settings fix '
                '(`config.slice_bars` x 16 steps); another value is an error'),
    HParam('z_size', 'int', 32, ('z_size',)),
    HParam('free_bits', 'float', 0.0, ('free_bits',)),
    HParam('max_beta', 'float', 1.0, ('max_beta',),
           also=(('beta_schedule', 'magenta'),)),
    HParam('beta_rate', 'float', 0.0, ('beta_rate',),
           also=(('beta_schedule', 'magenta'),)),
    HParam('batch_size', 'int', 512, ('batch_size',)),
    HParam('grad_clip', 'float', 1.0, ('grad_clip',)),
    HParam('clip_mode', 'str', 'global_norm',
           check=_only('global_norm', "only 'global_norm' clipping is "
                       'implemented (--config.grad_clip); per-value clipping '
                       'has no counterpart'),
           note="only `'global_norm'` (`config.grad_clip`); `'value'` is an error"),
    HParam('grad_norm_clip_to_zero', 'float', 10000, ('grad_norm_clip_to_zero',)),
    HParam('learning_rate', 'float', 0.001, ('learning_rate',)),
    HParam('decay_rate', 'float', 0.9999, ('decay_rate',),
           also=(('lr_schedule', 'exponential'),)),
    HParam('min_learning_rate', 'float', 0.00001, ('min_learning_rate',)),
    # lstm_models.get_default_hparams
    HParam('conditional', 'bool', True,
           check=_only(True, 'an unconditional decoder (no z) is not '
                       'implemented'),
           note='only `True`: an unconditional decoder is an error'),
    HParam('dec_rnn_size', 'list of ints', [512],
           ('dec_rnn_sizes', 'conductor_rnn_sizes'),
           note="Magenta's conductor (hierarchical decoder) uses the same sizes"),
    HParam('enc_rnn_size', 'list of ints', [256], ('enc_rnn_sizes',)),
    HParam('dropout_keep_prob', 'float', 1.0, ('dropout_keep_prob',),
           where_present=True,
           check=_needs_field('dropout_keep_prob', 1.0,
                              'the GrooVAE configs (groovae_*.py)'),
           note='GrooVAE configs; elsewhere only `1.0` (no dropout)'),
    HParam('sampling_schedule', 'str', 'constant', ('sampling_schedule',),
           check=_choice(('constant', 'exponential', 'inverse_sigmoid'))),
    HParam('sampling_rate', 'float', 0.0, ('sampling_rate',)),
    HParam('use_cudnn', 'bool', False,
           note='ignored: deprecated in Magenta, which also runs its regular '
                'LSTM whatever the value'),
    HParam('residual_encoder', 'bool', False,
           check=_only(False, 'residual LSTM connections are not implemented'),
           note='only `False`: residual connections are an error'),
    HParam('residual_decoder', 'bool', False,
           check=_only(False, 'residual LSTM connections are not implemented'),
           note='only `False`: residual connections are an error'),
    HParam('control_preprocessing_rnn_size', 'list of ints', [256],
           note="ignored: only Magenta's BidirectionalLstmControlPreprocessingDecoder "
                'reads it, and no Magenta config uses that decoder'),
    # configs.py (nade-drums_2bar_*)
    HParam('nade_num_hidden', 'int', 128, ('nade_num_hidden',),
           where_present=True,
           check=_needs_field('nade_num_hidden', None,
                              'the NADE configs (nade_drums_2bar.py)'),
           note='NADE configs; elsewhere an error'),
)

BY_NAME = {h.name: h for h in HPARAMS}


def _set_fields(hparam: HParam, config) -> tuple[str, ...]:
  """The fields `hparam` sets on this config."""
  if hparam.where_present:
    return tuple(f for f in hparam.fields if f in config)
  return hparam.fields


class Setting(NamedTuple):
  """What a flag did: `config.<field> = value` because of `source` (field
  '' when it set nothing; `source` then says why)."""

  field: str
  value: Any
  source: str

  def __str__(self) -> str:
    if not self.field:
      return self.source
    return f'config.{self.field} = {self.value!r}  ({self.source})'


def apply_hparams(config, text: str) -> list[Setting]:
  """Applies Magenta's `--hparams` to `config` in place; returns what it set.
  Raises HParamsError naming the first hparam that is unknown, mistyped or
  without a counterpart; nothing is changed then."""
  values = []
  for name, raw in split_hparams(text).items():
    hparam = BY_NAME.get(name)
    if hparam is None:
      close = difflib.get_close_matches(name, list(BY_NAME), n=1)
      hint = f' (did you mean {close[0]}?)' if close else ''
      raise HParamsError(f'--hparams: {name} is not a MusicVAE hparam{hint}; '
                         'docs/magenta.md lists them')
    try:
      value = KINDS[hparam.kind](raw)
    except ValueError:
      article = 'an' if hparam.kind == 'int' else 'a'
      raise HParamsError(f'--hparams: {name}={raw} is not {article} {hparam.kind}'
                         + (' like [512,512]' if hparam.kind == 'list of ints' else '')
                         ) from None
    if hparam.check is not None:
      why = hparam.check(config, value)
      if why:
        raise HParamsError(f'--hparams: {name}={raw} has no counterpart here: {why}')
    values.append((hparam, value))
  done = []
  for hparam, value in values:
    fields = _set_fields(hparam, config)
    for field in fields:
      config[field] = value
      done.append(Setting(field, value, f'hparam {hparam.name}'))
    if not fields:
      done.append(Setting('', value, f'hparam {hparam.name}={value!r}: nothing '
                          f'to set ({hparam.note})'))
    for field, fixed in hparam.also:
      if config[field] != fixed:
        config[field] = fixed
        done.append(Setting(field, fixed, f'implied by hparam {hparam.name}'))
  return done


def markdown_table() -> str:
  """The table of docs/magenta.md: hparam, type, Magenta default, what it sets."""
  lines = ['| hparam | type | Magenta default | here |', '|---|---|---|---|']
  for h in HPARAMS:
    here = []
    if h.fields:
      here.append(', '.join(f'`config.{f}`' for f in h.fields)
                  + (' where the config has it' if h.where_present else ''))
    if h.also:
      here.append('and ' + ', '.join(f'`config.{f} = {v!r}`' for f, v in h.also))
    if h.note:
      here.append(h.note)
    lines.append(f'| `{h.name}` | {h.kind} | `{h.magenta_default!r}` | '
                 + '; '.join(here) + ' |')
  return '\n'.join(lines) + '\n'
