"""A multicontrol model's controls in the studio: taken from the page
(engine.py), recorded in recipes, rebuilt from them (reproduce.py).

The page sends each of chords, rhythm, contour and register as text: a
written choice (data/control_choices.py: chord symbols, a preset, an x/.
pattern, a Parsons code, a register name or note), `upload:ID@BAR` for that
control of an uploaded file's window starting at bar BAR (1-based, as "Your
MIDI" counts bars), or '' for the default (control_choices.DEFAULTS).

A recipe's `controls` holds every one of the four: the written text, or for
an upload `{'file', 'start_bar', 'columns'}` (the window's control columns
`[T, 4]`, so the recipe replays without the upload); a reconstruction's
recipe holds `{'base': ...}` (all four of its own window). `columns` turns
such a record back into the columns the decoder read.
"""

from __future__ import annotations

import dataclasses
import re
import shlex

import numpy as np

from musicvae_jax import control_sources
from musicvae_jax.data import control_choices
from musicvae_jax.studio.errors import StudioError

NAMES = control_sources.NAMES            # chords, rhythm, contour, register
MAX_CHOICE_CHARS = 400                   # the longest choice a request may send
_UPLOAD = re.compile(r'^upload:(?P<upload>[A-Za-z0-9]{1,16})@(?P<bar>\d{1,6})$')
_TAKEN_KEYS = {'file', 'start_bar', 'columns'}


def applies(config) -> bool:
  """Whether `config`'s model decodes under the four multicontrol columns."""
  return config.get('controls', '') == 'multicontrol'


@dataclasses.dataclass(frozen=True)
class Chosen:
  """The controls of one decode: the columns the decoder reads, the recipe's
  record of them and what each came from (control_choices.build's `said`)."""
  columns: np.ndarray          # int16 [T, 4]
  record: dict                 # JSON-ready; `columns(model, record)` rebuilds `columns`
  said: dict

  def name(self) -> str:
    """What a title says: the choices that are not defaults ('' when none is)."""
    if 'base' in self.record:
      return 'its own controls'
    return ', '.join(f'{name} {text}' for name, text in self.said.items()
                     if not text.endswith('(default)'))


def upload_choice(text: str) -> tuple[str, int] | None:
  """('u3', 2) for 'upload:u3@2'; None for a written choice."""
  match = _UPLOAD.match(text.strip())
  return (match['upload'], int(match['bar'])) if match else None


def source(file: str, start_bar: int, slice_bars: int) -> str:
  """'song.mid bars 3-4': where a taken control came from (messages, titles)."""
  return f'{file} bars {start_bar}-{start_bar + slice_bars - 1}'


def taken_record(file: str, start_bar: int, columns: np.ndarray) -> dict:
  """A recipe's record of the controls of an upload's window (columns `[T, 4]`)."""
  return {'file': str(file), 'start_bar': int(start_bar),
          'columns': np.asarray(columns, np.int16).tolist()}


def check_columns(columns, num_steps: int, depths) -> np.ndarray:
  """Control columns read from a recipe as int16 `[T, 4]`, each value a class
  of its column (or -1: no class); one-line ValueError otherwise."""
  try:
    array = np.asarray(columns, np.float64)
  except (TypeError, ValueError):
    raise ValueError('controls: columns are not a table of numbers') from None
  if array.shape != (num_steps, len(depths)):
    raise ValueError(f'controls: columns of shape {array.shape}, expected '
                     f'({num_steps}, {len(depths)})')
  if not (np.isfinite(array).all() and (array == np.round(array)).all()
          and (array >= -1).all() and (array < np.asarray(depths)).all()):
    raise ValueError(f'controls: a column value outside -1..depth-1 (depths {tuple(depths)})')
  return array.astype(np.int16)


def _taken(entry: dict, model) -> control_choices.Taken:
  """A recipe's upload record -> control_choices.Taken."""
  if not isinstance(entry, dict) or set(entry) != _TAKEN_KEYS:
    raise ValueError(f'controls: an upload is recorded as {sorted(_TAKEN_KEYS)}')
  columns = check_columns(entry['columns'], model.seq_len, model.converter.control_depths)
  return control_choices.Taken(columns, source(str(entry['file']), int(entry['start_bar']),
                                                int(model.config.slice_bars)))


def columns(model, record: dict) -> tuple[np.ndarray, dict]:
  """(columns int16 `[T, 4]`, what each came from) of a recipe's `controls`
  for `model` (a multicontrol TrainedModel); one-line ValueError for a record
  that does not fit (control_choices.ControlChoiceError is one)."""
  if not applies(model.config):
    raise ValueError('the recipe has multicontrol controls; this model has config.controls='
                     f'{model.config.get("controls", "")!r}')
  if not isinstance(record, dict) or set(record) - {*NAMES, 'base'}:
    raise ValueError(f'controls: expected an object of {", ".join(NAMES)} (or base)')
  values = {}
  for name, value in record.items():
    if isinstance(value, str):
      values[name] = value
    else:
      values[name] = _taken(value, model)
  return control_choices.build(model.seq_len, boundaries=model.converter.boundaries, **values)


def choose(model, texts: dict, window_of) -> Chosen:
  """The controls of the page's `texts` (name -> text, see the module's
  docstring; '' or absent: the default) for `model`. `window_of(upload_id,
  bar)` gives (file name, control columns `[T, 4]`) of an upload's window or
  raises StudioError. A bad choice is a one-line StudioError."""
  values, record = {}, {}
  for name in NAMES:
    text = str(texts.get(name) or '').strip()
    if len(text) > MAX_CHOICE_CHARS:
      raise StudioError(f'{name}: {len(text)} characters; at most {MAX_CHOICE_CHARS}')
    upload = upload_choice(text) if text else None
    if upload:
      file, window_columns = window_of(*upload)
      record[name] = taken_record(file, upload[1], window_columns)
      values[name] = control_choices.Taken(
          np.asarray(window_columns), source(file, upload[1], int(model.config.slice_bars)))
    else:
      record[name] = text or control_choices.DEFAULTS[name]
      values[name] = text or None
  try:
    columns_, said = control_choices.build(model.seq_len, boundaries=model.converter.boundaries,
                                           **values)
  except control_choices.ControlChoiceError as error:
    raise StudioError(str(error)) from None
  return Chosen(columns_, record, said)


def own(model, file: str, start_bar: int, window_columns: np.ndarray) -> Chosen:
  """The controls of an upload's own window (a reconstruction decodes under
  them): every column of `window_columns` `[T, 4]`, recorded as the base."""
  taken = control_choices.Taken(np.asarray(window_columns),
                                source(file, start_bar, int(model.config.slice_bars)))
  columns_, said = control_choices.build(model.seq_len, base=taken,
                                         boundaries=model.converter.boundaries)
  return Chosen(columns_, {'base': taken_record(file, start_bar, window_columns)}, said)


def page_info(model) -> dict:
  """What the page's Controls panel offers (control_choices' presets, so
  the page names none itself): steps, presets, register names, defaults."""
  boundaries = model.converter.boundaries
  names = (list(control_choices.REGISTERS)
           if len(boundaries) + 1 == len(control_choices.REGISTERS) else [])
  return {'steps': int(model.seq_len),
          'steps_per_bar': int(model.seq_len // model.config.slice_bars),
          'rhythms': dict(control_choices.RHYTHMS),
          'contours': dict(control_choices.CONTOURS),
          'registers': names,
          'defaults': dict(control_choices.DEFAULTS)}


def cli_flags(record: dict) -> str | None:
  """`generate`'s flags for a recipe's written controls ('--chords=... ');
  None when one came from an upload (generate reads files, not uploads)."""
  if 'base' in record or any(not isinstance(v, str) for v in record.values()):
    return None
  return ''.join(f'--{name}={shlex.quote(record[name])} ' for name in NAMES if name in record)
