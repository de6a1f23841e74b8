"""Which config fields may change when a run is resumed, and the config history.

A resumed run (or one started from `ckpt_path`) keeps the saved weights, so
every field that changes the model's shapes or the meaning of its inputs and
outputs must match the saved run: those are REFUSE fields. ALLOW fields
(optimisation, schedules, intervals, batch size, data folders, speed knobs)
may change; each change is printed and appended to `config_history.jsonl` in
the workdir.

New model families add config fields: classify them here (one line each). A
field in neither set is treated as REFUSE: refusing a harmless change costs a
person one edit, accepting a harmful one silently trains a different model on
old weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

import ml_collections

from musicvae_jax.errors import UserError

HISTORY_NAME = 'config_history.jsonl'

# Shapes or meaning of the model: a resumed run must use the saved values.
REFUSE = frozenset({
    # encoding: token vocabulary, window length, encoder inputs
    'encoding', 'drum_roll_input', 'slice_bars', 'steps_per_quarter', 'meter',
    # model sizes and structure
    'z_size', 'enc_rnn_sizes', 'dec_rnn_sizes', 'use_hier', 'split_decoder',
    'n_subsequences', 'conductor_rnn_sizes', 'encoder_embed_size',
    'decoder_embed_size', 'conductor_embed_size', 'forget_bias',
    'control_preprocessing_size',
})

# Safe to change between runs of the same model: printed and recorded.
ALLOW = frozenset({
    # run and paths
    'magenta_name', 'seed', 'ckpt_path', 'ckpt_resume_state',
    # data selection and loading (same tokens, other music or order)
    'train_dir', 'eval_dir', 'train_examples_path', 'eval_examples_path',
    'eval_fraction', 'cache_dir', 'melody_programs',
    'max_windows_per_sequence', 'max_transpose', 'fast_midi', 'num_workers',
    'prefetch_batches',
    # speed and memory (same numbers or same parameters)
    'compute_dtype', 'scan_unroll', 'remat', 'lstm_custom_vjp',
    'lstm_wavefront', 'lstm_fused_bidirectional', 'lstm_save', 'mesh_shape',
    'param_sharding',
    # optimisation and schedules (optimizer state has the same structure)
    'batch_size', 'num_steps', 'learning_rate', 'lr_schedule', 'decay_rate',
    'min_learning_rate', 'lr_scheduler_factor', 'lr_scheduler_patience',
    'grad_clip', 'grad_norm_clip_to_zero', 'beta_schedule', 'max_beta',
    'beta_rate', 'beta_start', 'beta_end', 'beta_duration', 'free_bits',
    'sampling_schedule', 'sampling_rate',
    # intervals and retention
    'log_every_steps', 'eval_every_steps', 'eval_batches',
    'advanced_every_steps', 'checkpoint_every_steps', 'keep_latest',
    'keep_best',
})


class ConfigMismatchError(UserError):
  """A resume or `ckpt_path` start with fields the saved weights cannot take."""


def classify(field: str) -> str:
  """'allow' or 'refuse' for a (dotted) field name; unknown fields refuse."""
  if field in ALLOW or field.split('.', 1)[0] in ALLOW:
    return 'allow'
  return 'refuse'


def _flatten(value: Any, prefix: str = '') -> dict[str, Any]:
  if isinstance(value, (ml_collections.ConfigDict, dict)):
    out = {}
    for key in value.keys():
      out.update(_flatten(value[key], f'{prefix}{key}.'))
    return out
  if isinstance(value, list):
    value = tuple(_normal(v) for v in value)
  return {prefix[:-1]: value}


def _normal(value: Any) -> Any:
  if isinstance(value, list):
    return tuple(_normal(v) for v in value)
  return value


def _as_dict(config) -> dict[str, Any]:
  if isinstance(config, ml_collections.ConfigDict):
    config = json.loads(config.to_json_best_effort())
  return {k: _normal(v) for k, v in _flatten(config).items()}


_MISSING = object()


def diff(saved, new) -> dict[str, tuple[Any, Any]]:
  """{field: (saved, new)} for every field whose value differs."""
  a, b = _as_dict(saved), _as_dict(new)
  out = {}
  for key in sorted(set(a) | set(b)):
    old, cur = a.get(key, _MISSING), b.get(key, _MISSING)
    if old != cur and not (_num(old) and _num(cur) and float(old) == float(cur)):
      out[key] = (None if old is _MISSING else old, None if cur is _MISSING else cur)
  return out


def _num(v: Any) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def split(changes: dict[str, tuple[Any, Any]]):
  """(refused, allowed) parts of `diff`'s result."""
  refused = {k: v for k, v in changes.items() if classify(k) == 'refuse'}
  allowed = {k: v for k, v in changes.items() if classify(k) == 'allow'}
  return refused, allowed


def _fmt(value: Any) -> str:
  if isinstance(value, tuple):
    return '(' + ', '.join(_fmt(v) for v in value) + (',)' if len(value) == 1 else ')')
  return repr(value) if isinstance(value, str) else str(value)


def describe(changes: dict[str, tuple[Any, Any]], saved_word: str = 'saved') -> str:
  return '; '.join(f'{k}: {saved_word} {_fmt(o)}, new {_fmt(n)}'
                   for k, (o, n) in changes.items())


def check_resume(saved, new, where: str) -> dict[str, tuple[Any, Any]]:
  """Raises ConfigMismatchError naming each REFUSE field that differs;
  returns the allowed changes {field: (saved, new)}."""
  refused, allowed = split(diff(saved, new))
  if refused:
    unknown = [k for k in refused if k not in REFUSE]
    note = (f' ({", ".join(unknown)} not classified in config_check.py: '
            'treated as model-changing)') if unknown else ''
    raise ConfigMismatchError(
        f'{where} was trained with a different model: {describe(refused)}{note}. '
        'Pass the saved values (or leave them out), or use another --workdir')
  return allowed


def check_init_from(source, new, ckpt_path: str) -> None:
  """`ckpt_path` start: only the model fields must match."""
  refused, _ = split(diff(source, new))
  if refused:
    raise ConfigMismatchError(
        f'ckpt_path {ckpt_path} holds a model with other settings: '
        f'{describe(refused)}. Use a config with the same values')


def record(workdir: str | Path, event: str, step: int,
           changes: dict[str, tuple[Any, Any]] | None = None,
           config=None, machine: str = '') -> Path:
  """Appends one JSON line to `<workdir>/config_history.jsonl` (`machine`:
  what this part of the run trains on, `startup.machine_summary()`)."""
  path = Path(workdir) / HISTORY_NAME
  entry: dict[str, Any] = {'time': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
                           'event': event, 'step': int(step)}
  if machine:
    entry['machine'] = machine
  if changes is not None:
    entry['changes'] = {k: {'saved': o, 'new': n} for k, (o, n) in changes.items()}
  if config is not None:
    entry['config'] = _as_dict(config)
  with open(path, 'a', encoding='utf-8') as f:
    f.write(json.dumps(entry, default=str) + '\n')
  return path


def read_history(workdir: str | Path) -> list[dict]:
  path = Path(workdir) / HISTORY_NAME
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary(changes: dict[str, tuple[Any, Any]]) -> Iterable[str]:
  for k, (o, n) in changes.items():
    yield f'  {k}: {_fmt(o)} -> {_fmt(n)}'
