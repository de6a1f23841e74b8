"""Score a trained run (ours or a converted Magenta one) on held-out windows.

    python -m musicvae_jax.evaluate --workdir=runs/demo [--eval_dir=FOLDER] \
        [--num_samples_k=16] [--seeds=4] [--output=runs/demo/evaluate.json]
    python -m musicvae_jax.evaluate --config=cat-mel_2bar_small \
        --checkpoint_file=cat-mel_2bar_small.tar --eval_dir=FOLDER
    python -m musicvae_jax.evaluate --model=NAME [--eval_dir=FOLDER]
        (a pretrained model: its own held-out tunes where it was trained on
        the built-in folk corpus; any other needs --eval_dir)

Per window of the eval set (the run's own when no folder is given):

  * teacher forced (z drawn from q(z|x), as the training loop's eval) and
    free-running decodes from z = mu: greedy, and at temperature 1 averaged
    over `--seeds` seeds: token accuracy, event accuracy (steps whose target
    is not NO_EVENT), note-onset precision / recall / F1, per-bar accuracy
    (multi-bar windows), per part (trio) and per drum class (drums), and the
    share of windows decoded as silence (no note start);
  * reconstruction NLL and KL per sequence (nats), and an importance-sampled
    log-likelihood estimate with K samples from q(z|x);
  * active latent units: z dimensions whose posterior mean varies across the
    data by more than `--active_threshold` (0.01, Burda et al. 2016);
  * the family's objective's own eval metrics (`objectives.py`), which is all that
    applies to families without tokens (GrooVAE); the JSON lists the figures
    that are not defined for the model and why.

Deterministic by `--seed`; batches have the config's fixed shape (the last one
padded with weight-0 rows), one compile per decode.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags, logging

from musicvae_jax import (config_base, input_pipeline, losses, metrics, model_source,
                          pretrained, steps)

GREEDY_TEMPERATURE = 1e-5
DRUM_CLASS_NAMES = ('kick', 'snare', 'closed_hh', 'open_hh', 'low_tom',
                    'mid_tom', 'high_tom', 'crash', 'ride')
# Part name (input_pipeline.PART_NAMES) -> how its note starts are read.
PART_KINDS = {'melody': 'melody', 'bass': 'melody', 'drums': 'drums'}


class EvaluationError(ValueError):
  """Bad input (workdir, eval folder, model/data mismatch): one line."""


@dataclasses.dataclass(frozen=True)
class TokenSpecView:
  """What token metrics need to know about a categorical model's parts."""

  part_names: tuple[str, ...]
  kinds: tuple[str | None, ...]   # 'melody', 'drums' or None (no onsets)
  num_bars: int

  @classmethod
  def from_config(cls, config, part_names) -> 'TokenSpecView':
    bars = int(config.slice_bars) if config.get('slice_bars') else 1
    steps = config_base.sequence_length(config)
    if bars < 1 or steps % bars:
      bars = 1
    return cls(tuple(part_names),
               tuple(PART_KINDS.get(n) for n in part_names), bars)


# -- per-batch sums (jit-traced) ----------------------------------------------
def token_sums(pred: jax.Array, target: jax.Array, mask: jax.Array,
               weights: jax.Array, view: TokenSpecView) -> dict[str, jax.Array]:
  """Sums of the token metrics of one decode `[B, T, K]` (added over batches).

  `mask` `[B, T]` already carries the weights (0 on padding rows).
  """
  sums = {}
  ev_mask = lambda k: mask * (target[..., k] != 0)
  for k, kind in enumerate(view.kinds):
    c, n = metrics.accuracy_counts(pred[..., k], target[..., k], mask)
    ec, en = metrics.accuracy_counts(pred[..., k], target[..., k], ev_mask(k))
    sums[f'correct/{k}'], sums[f'count/{k}'] = c, n
    sums[f'event_correct/{k}'], sums[f'event_count/{k}'] = ec, en
    if kind == 'melody':
      tp, p, t = metrics.melody_onset_counts(pred[..., k], target[..., k], mask)
    elif kind == 'drums':
      tp, p, t = metrics.drum_onset_counts(pred[..., k], target[..., k], mask)
    else:
      continue
    sums[f'onset_tp/{k}'], sums[f'onset_pred/{k}'], sums[f'onset_true/{k}'] = tp, p, t
  if view.num_bars > 1:
    sums['bar_correct'], sums['bar_count'] = metrics.bar_accuracy_counts(
        pred, target, mask, view.num_bars)
  if all(kind is not None for kind in view.kinds):
    sums['silent'] = metrics.silent_windows(pred, mask, weights, view.kinds)
  sums['windows'] = jnp.sum(weights)
  return sums


def summarise_tokens(sums: dict[str, Any], view: TokenSpecView) -> dict[str, Any]:
  """Host-side figures from summed `token_sums`."""
  k_all = range(len(view.kinds))
  out = {
      'accuracy': metrics.ratio(sum(sums[f'correct/{k}'] for k in k_all),
                                sum(sums[f'count/{k}'] for k in k_all)),
      'event_accuracy': metrics.ratio(
          sum(sums[f'event_correct/{k}'] for k in k_all),
          sum(sums[f'event_count/{k}'] for k in k_all)),
  }
  onset_parts = [k for k in k_all if f'onset_tp/{k}' in sums]
  if onset_parts:
    out['onset'] = metrics.f1(*(sum(np.sum(sums[f'onset_{s}/{k}']) for k in onset_parts)
                                for s in ('tp', 'pred', 'true')))
  if 'silent' in sums:
    out['silent_share'] = metrics.ratio(sums['silent'], sums['windows'])
  if 'bar_correct' in sums:
    out['per_bar_accuracy'] = [
        metrics.ratio(c, n) for c, n in zip(np.asarray(sums['bar_correct']),
                                            np.asarray(sums['bar_count']))]
  if len(view.kinds) > 1 or view.kinds[0] == 'drums':
    parts = {}
    for k in k_all:
      part = {'accuracy': metrics.ratio(sums[f'correct/{k}'], sums[f'count/{k}']),
              'event_accuracy': metrics.ratio(sums[f'event_correct/{k}'],
                                              sums[f'event_count/{k}'])}
      if f'onset_tp/{k}' in sums:
        part['onset'] = metrics.f1(sums[f'onset_tp/{k}'], sums[f'onset_pred/{k}'],
                                   sums[f'onset_true/{k}'])
      if view.kinds[k] == 'drums':
        part['drum_classes'] = {
            name: metrics.f1(*(np.asarray(sums[f'onset_{s}/{k}'])[c]
                               for s in ('tp', 'pred', 'true')))
            for c, name in enumerate(DRUM_CLASS_NAMES)}
      parts[view.part_names[k]] = part
    out['parts'] = parts
  return out


def greedy_sums(params, batch, key, *, model, family, view: TokenSpecView):
  """Token sums of the greedy free-running decode from z = mu (the training
  loop's cheap check that decodes are no longer silence); `family` is the
  objective (`objectives.Objective`)."""
  mask = family.mask(batch) * batch['weights'][:, None]
  mu, _ = _posterior(family, model, params, batch, key)
  pred = family.free_running_tokens(model, params, mu, batch, key,
                                    GREEDY_TEMPERATURE)
  return token_sums(pred, batch['tokens'], mask, batch['weights'], view)


class GreedyCheck:
  """The training loop's cheap look at free-running decodes: greedy from
  z = mu on the first `config.eval_greedy_windows` eval windows (whole
  batches, fixed shapes, one compile)."""

  def __init__(self, config, model, objective, part_names):
    self.view = TokenSpecView.from_config(config, part_names)
    self.windows = int(config.get('eval_greedy_windows', 0) or 0)
    self.batch_size = int(config.batch_size)
    self._fn = jax.jit(functools.partial(greedy_sums, model=model, family=objective,
                                         view=self.view))
    self.seed = int(config.seed)

  @classmethod
  def maybe(cls, config, model, objective, part_names) -> 'GreedyCheck | None':
    """A check, or None where it does not apply (size 0, no tokens)."""
    if not config.get('eval_greedy_windows', 0):
      return None
    if not objective.token_metrics:
      return None
    return cls(config, model, objective, part_names)

  def __call__(self, params, eval_batches) -> dict[str, float]:
    """Greedy figures (flat dict for the console and TensorBoard)."""
    total = None
    num = math.ceil(self.windows / self.batch_size)
    base = jax.random.key(self.seed + 3)
    for i, batch in enumerate(eval_batches):
      if i >= num:
        break
      sums = self._fn(params, batch, jax.random.fold_in(base, i))
      total = sums if total is None else jax.tree.map(jnp.add, total, sums)
    if total is None:
      return {}
    figures = summarise_tokens(jax.device_get(total), self.view)
    out = {'accuracy': figures['accuracy'],
           'event_accuracy': figures['event_accuracy'],
           'windows': float(total['windows'])}
    if 'onset' in figures:
      out['onset_f1'] = figures['onset']['f1']
    if 'silent_share' in figures:
      out['silent_share'] = figures['silent_share']
    return out


def _posterior(family, model, params, batch, key):
  out = family.apply(model, params, batch, None,
                     {'z': key, 'sample': key}, train=False)
  return out['mu'], out['sigma']


def batch_sums(params, batch, key, *, model, family, hp: steps.StepConfig,
               view: TokenSpecView | None, num_k: int, num_seeds: int):
  """Every sum `evaluate` needs from one batch, and the batch's mu `[B, Z]`
  (`family`: the objective)."""
  eval_key, is_key, greedy_key, temp_key = jax.random.split(key, 4)
  sums = steps.eval_step(params, batch, eval_key, jnp.zeros((), jnp.int32),
                         model=model, objective=family, hp=hp)
  sums = {f'family/{k}': v for k, v in sums.items()}
  w = batch['weights']
  mask = family.mask(batch) * w[:, None]

  def one_draw(k):
    out = family.apply(model, params, batch, None, {'z': k, 'sample': k},
                       train=False)
    return -family.reconstruction_loss(out, batch, mask), out['z'], out

  log_px, z0, out0 = one_draw(is_key)
  mu, sigma = out0['mu'], out0['sigma']
  kl = losses.kl_divergence(mu, sigma)
  sums['examples'] = jnp.sum(w)
  sums['nll'] = -jnp.sum(w * log_px)
  sums['kl'] = jnp.sum(w * kl)
  if family.reconstruction_is_nll and num_k > 0:
    keys = jax.random.split(is_key, num_k)
    log_px_k, z_k = jax.lax.map(lambda k: one_draw(k)[:2], keys)  # [K, B], [K, B, Z]
    ll = metrics.importance_log_likelihood(log_px_k, z_k, mu, sigma)
    sums['log_likelihood'] = jnp.sum(w * ll)
  if view is not None:
    target = batch['tokens']
    tf_pred = family.predicted_tokens(out0)
    sums.update({f'tf/{k}': v for k, v in
                 token_sums(tf_pred, target, mask, w, view).items()})
    greedy = family.free_running_tokens(model, params, mu, batch, greedy_key,
                                        GREEDY_TEMPERATURE)
    sums.update({f'greedy/{k}': v for k, v in
                 token_sums(greedy, target, mask, w, view).items()})

    def sampled(k):
      pred = family.free_running_tokens(model, params, mu, batch, k, 1.0)
      return token_sums(pred, target, mask, w, view)

    per_seed = jax.lax.map(sampled, jax.random.split(temp_key, num_seeds))
    sums.update({f'temp1/{k}': jnp.sum(v, axis=0) for k, v in per_seed.items()})
  return sums, mu


# -- data and model --------------------------------------------------------------
def load_run(workdir: str, best: bool = False):
  """(TrainedModel, step) of a workdir's latest checkpoint (the best by eval
  loss with `best`), or of a pretrained model's folder, with clear errors."""
  from musicvae_jax import checkpoints
  from musicvae_jax.trained_model import TrainedModel
  path = Path(workdir).expanduser()
  if not path.is_dir():
    raise EvaluationError(f'--workdir={workdir}: no such folder')
  if model_source.is_pretrained(path):
    model = model_source.load(path, best=best)
    return model, int(model.step)
  try:
    checkpoints.resolve_checkpoint(path)
  except FileNotFoundError:
    raise EvaluationError(
        f'--workdir={workdir} holds no checkpoint (expected '
        f'{path}/checkpoints/<step>/; train first, or convert a Magenta '
        'checkpoint with python -m musicvae_jax.convert_magenta)') from None
  model = TrainedModel.from_workdir(path, best=best)
  return model, int(model.step)


def check_own_eval_data(trained, eval_dir: str | None) -> None:
  """Raises EvaluationError (one line) for a pretrained model without
  `eval_dir` whose own eval data does not ship (all but folk-corpus ones)."""
  if trained.card is None or eval_dir or pretrained.ships_eval_data(trained.config):
    return
  raise EvaluationError(f'{pretrained.missing_data_reason(trained.pretrained, trained.card)}: '
                        f'pass --eval_dir=FOLDER (held-out MIDI files to score on)')


def eval_windows(config, eval_dir: str | None, converter):
  """(WindowSet, description) of `eval_dir`, or of the run's own eval set,
  as `converter` (the run's) reads them."""
  from musicvae_jax.data import pipeline

  def windows_of(folder):
    return input_pipeline.folder_windows(folder, config, converter)
  if eval_dir:
    folder = Path(eval_dir).expanduser()
    if not folder.is_dir():
      raise EvaluationError(f'--eval_dir={eval_dir}: no such folder')
    data = windows_of(str(folder))
    where = str(folder)
  elif config.train_examples_path or config.eval_examples_path:
    data = input_pipeline.eval_set(config, converter)
    source = input_pipeline.eval_source(config)
    where = (f'{source.path} (the run\'s eval set)' if source else
             f'{config.train_examples_path}: the run\'s held-out '
             f'{config.eval_fraction:g} of its NoteSequences')
  elif config.train_dir and config.eval_dir:
    data = windows_of(config.eval_dir)
    where = f'{config.eval_dir} (the run\'s eval_dir)'
  elif config.train_dir:
    train = windows_of(config.train_dir)
    _, data = pipeline.split_by_file(train, config.eval_fraction, config.seed)
    where = (f'{config.train_dir}: the run\'s held-out {config.eval_fraction:g} '
             'of its files')
  else:
    train_dir, folk_eval = input_pipeline._dirs(config)
    data = windows_of(folk_eval)
    where = f'{folk_eval} (the built-in folk corpus eval set)'
  if len(data.windows) == 0:
    raise EvaluationError(
        f'eval set {where} gave no {config.slice_bars}-bar {config.encoding} '
        'windows (it needs MIDI files in 4/4 with notes this model reads)')
  return data, where


def check_windows(windows: np.ndarray, config, spec, tokens: bool = True) -> None:
  """Raises EvaluationError when windows `[N, T, ...]` do not fit the model
  (their length; with `tokens`, also the parts `K` and token range)."""
  steps_ = config_base.sequence_length(config)
  length = windows.shape[1] if windows.ndim > 1 else 0
  if windows.ndim != 3 or length != steps_:
    raise EvaluationError(
        f'model/data mismatch: windows of {length} steps, the model '
        f'({config.slice_bars} bars of {config.encoding}) reads {steps_}')
  depths = tuple(spec.part_depths)
  if not tokens:
    return
  controls = len(spec.control_depths)   # chord columns after the K token parts
  if len(depths) + controls != windows.shape[2]:
    raise EvaluationError(
        f'model/data mismatch: windows have {windows.shape[2]} parts, the '
        f'model\'s {config.encoding} encoding has {len(depths)}'
        + (f' (+ {controls} control columns)' if controls else ''))
  if windows.size:
    top = windows[..., :len(depths)].reshape(-1, len(depths)).max(axis=0)
    for k, (value, depth) in enumerate(zip(top, depths)):
      if value >= depth:
        raise EvaluationError(
            f'model/data mismatch: part {k} holds token {int(value)}, the '
            f'model\'s {config.encoding} encoding has {depth} classes')


# -- the whole evaluation --------------------------------------------------------
def evaluate(workdir: str, eval_dir: str | None = None, num_samples_k: int = 16,
             seeds: int = 4, seed: int = 0, batch_size: int | None = None,
             active_threshold: float = 0.01, max_batches: int = 0,
             progress: bool = True, best: bool = False) -> dict[str, Any]:
  """Scores the latest checkpoint of `workdir` (the best by eval loss with
  `best`), or the pretrained model in that folder; returns the JSON dict."""
  trained, step = load_run(workdir, best)
  return evaluate_model(trained, eval_dir, num_samples_k, seeds, seed, batch_size,
                        active_threshold, max_batches, progress,
                        label='' if trained.pretrained else str(workdir))


def evaluate_model(trained, eval_dir: str | None = None, num_samples_k: int = 16,
                   seeds: int = 4, seed: int = 0, batch_size: int | None = None,
                   active_threshold: float = 0.01, max_batches: int = 0,
                   progress: bool = True, label: str = '') -> dict[str, Any]:
  """Scores a loaded `TrainedModel` (its `params` as they are) at its
  `step`; `label` is the report's `workdir` (default: the pretrained
  model's name). Returns the JSON dict."""
  check_own_eval_data(trained, eval_dir)
  step = int(trained.step)
  config, model, spec = trained.config, trained.model, trained.spec
  data, where = eval_windows(config, eval_dir, trained.converter)
  family = trained.objective
  check_windows(np.asarray(data.windows), config, spec, family.token_metrics)
  encoding = config.encoding
  part_names = input_pipeline.PART_NAMES.get(encoding, ('part',))
  view = (TokenSpecView.from_config(config, part_names)
          if family.token_metrics else None)
  hp = steps.StepConfig.from_config(config)
  fn = _jitted(model, family, hp, view, int(num_samples_k), int(seeds))
  from musicvae_jax.data import pipeline
  size = int(batch_size or config.batch_size)
  windows_per_file = config.max_windows_per_sequence
  batches = pipeline.eval_batches(data, size, windows_per_file, trained.converter)
  n_windows = _count_windows(data, windows_per_file)
  total_batches = math.ceil(n_windows / size)
  if max_batches:
    total_batches = min(total_batches, max_batches)
  from tqdm.auto import tqdm
  base = jax.random.key(seed)
  total, mus = None, []
  for i, batch in enumerate(tqdm(batches, total=total_batches, unit='batch',
                                 disable=not progress, desc='evaluate')):
    if i >= total_batches:
      break
    sums, mu = fn(trained.params, batch, jax.random.fold_in(base, i))
    total = sums if total is None else jax.tree.map(jnp.add, total, sums)
    mus.append(np.asarray(mu)[np.asarray(batch['weights']) > 0])
  total = jax.device_get(total)
  header = dict(workdir=label or trained.pretrained)
  if trained.pretrained:
    header['pretrained'] = trained.pretrained
  return _report(total, np.concatenate(mus), family, view, part_names, dict(
      **header, step=step, eval_set=where, seed=seed,
      num_samples_k=int(num_samples_k) if family.reconstruction_is_nll else 0,
      seeds=int(seeds), batch_size=size,
      model=dict(magenta_name=config.get('magenta_name', ''),
                 encoding=encoding, slice_bars=int(config.slice_bars),
                 hierarchical_decoder=bool(config.get('use_hier', False)),
                 output_family=config.get('output_family', 'categorical')
                 or 'categorical', z_size=int(config.z_size))),
      active_threshold)


@functools.lru_cache(maxsize=4)
def _jitted(model, family, hp, view, num_k, num_seeds):
  """One compiled `batch_sums` per model and settings (repeat calls reuse it)."""
  return jax.jit(functools.partial(batch_sums, model=model, family=family, hp=hp, view=view,
                                   num_k=num_k, num_seeds=num_seeds))


def _count_windows(data, max_windows: int) -> int:
  if not max_windows:
    return len(data)
  order = np.arange(len(data))
  first = np.searchsorted(data.file_ids, data.file_ids, side='left')
  return int(np.sum((order - first) < max_windows))


def _report(total, mu, family, view, part_names, header, threshold):
  n = max(float(total['examples']), 1.0)
  report = dict(header)
  report['windows'] = int(total['examples'])
  not_defined = {}
  r_loss, kl = float(total['nll']) / n, float(total['kl']) / n
  report['reconstruction_loss_per_sequence'] = r_loss
  report['kl_per_sequence'] = kl
  if family.reconstruction_is_nll:
    report['nll_per_sequence'] = r_loss
    report['elbo_per_sequence'] = -(r_loss + kl)
  else:
    not_defined['nll_per_sequence, elbo_per_sequence'] = (
        'the reconstruction loss of this family is not a log-likelihood '
        '(see reconstruction_loss_per_sequence)')
  if 'log_likelihood' in total:
    report['log_likelihood_is'] = float(total['log_likelihood']) / n
  else:
    not_defined['log_likelihood_is'] = (
        'the reconstruction loss of this family is not a log-likelihood'
        if not family.reconstruction_is_nll else '--num_samples_k=0')
  report['active_units'] = metrics.active_units(mu, threshold)
  fam = {k[len('family/'):]: v for k, v in total.items() if k.startswith('family/')}
  report['family_metrics'] = family.summarise_eval(fam, tuple(part_names))
  if view is not None:
    for name, prefix in (('teacher_forced', 'tf/'), ('greedy', 'greedy/'),
                         ('temperature_1', 'temp1/')):
      part = {k[len(prefix):]: v for k, v in total.items() if k.startswith(prefix)}
      report[name] = summarise_tokens(part, view)
    tf = {k[3:]: v for k, v in total.items() if k.startswith('tf/')}
    k_all = range(len(view.kinds))
    # What a decoder that always outputs token 0 (NO_EVENT / no hit) scores.
    report['no_event_baseline_accuracy'] = 1.0 - metrics.ratio(
        sum(tf[f'event_count/{k}'] for k in k_all),
        sum(tf[f'count/{k}'] for k in k_all))
    if any(kind is None for kind in view.kinds):
      not_defined['onset, silent_share'] = (
          f'note starts are not defined for parts {part_names}')
  else:
    not_defined['teacher_forced, greedy, temperature_1'] = (
        'token accuracy, onsets, per-bar accuracy and silence need categorical '
        'tokens; this family reports its own figures under family_metrics')
  report['not_defined'] = not_defined
  return report


def format_table(report: dict[str, Any]) -> str:
  """A plain-text table of the headline figures."""
  lines = [f"{report['workdir']} at step {report['step']}: "
           f"{report['windows']} windows of {report['eval_set']}"]
  rows = []
  for mode in ('teacher_forced', 'greedy', 'temperature_1'):
    if mode in report:
      r = report[mode]
      onset = r.get('onset', {}).get('f1', float('nan'))
      rows.append((mode, r['accuracy'], r['event_accuracy'], onset,
                   r.get('silent_share', float('nan'))))
  if rows:
    lines.append(f"{'decode':<15}{'accuracy':>10}{'event acc':>11}"
                 f"{'onset F1':>10}{'silent':>8}")
    for mode, acc, ev, f1, silent in rows:
      lines.append(f'{mode:<15}{acc:>10.4f}{ev:>11.4f}{f1:>10.4f}{silent:>8.3f}')
  if 'no_event_baseline_accuracy' in report:
    lines.append(f"{'all NO_EVENT':<15}{report['no_event_baseline_accuracy']:>10.4f}"
                 '   (baseline: a decoder that never starts a note)')
  for mode in ('teacher_forced', 'greedy', 'temperature_1'):
    bars = report.get(mode, {}).get('per_bar_accuracy')
    if bars:
      lines.append(f'per-bar accuracy ({mode}): '
                   + ' '.join(f'{b:.3f}' for b in bars))
  figures = [('NLL / sequence', report['nll_per_sequence'])
             if 'nll_per_sequence' in report else
             ('recon. loss / seq.', report['reconstruction_loss_per_sequence']),
             ('KL / sequence', report['kl_per_sequence'])]
  if 'elbo_per_sequence' in report:
    figures.append(('ELBO / sequence', report['elbo_per_sequence']))
  if 'log_likelihood_is' in report:
    figures.append((f"log p(x), K={report['num_samples_k']}",
                    report['log_likelihood_is']))
  figures.append(('active units', report['active_units']))
  for name, value in figures:
    lines.append(f'{name:<22}{value:>12.4f}' if isinstance(value, float)
                 else f'{name:<22}{value:>12}')
  lines.append(f"(of z_size {report['model']['z_size']})")
  for key, why in report['not_defined'].items():
    lines.append(f'not defined: {key}: {why}')
  return '\n'.join(lines)


# -- command line -------------------------------------------------------------------
FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined when run as a command only: the trainer imports this module, and
  # train.py has its own --workdir and --config.
  model_source.define_flags()
  flags.DEFINE_string('eval_dir', '', 'Folder of MIDI files to score on (default: '
                      "the run's own eval set).")
  flags.DEFINE_integer('num_samples_k', 16, 'Importance samples per window for '
                       'the log p(x) estimate (0: skip it).', lower_bound=0)
  flags.DEFINE_integer('seeds', 4, 'Temperature-1 decodes per window.', lower_bound=1)
  flags.DEFINE_integer('seed', 0, 'Seed for z draws and decodes (same seed, same numbers).')
  flags.DEFINE_integer('batch_size', 0, "Windows per batch (0: the run's batch size).",
                       lower_bound=0)
  flags.DEFINE_float('active_threshold', 0.01, 'A latent unit is active when the '
                     'variance of its posterior mean across windows exceeds this.')
  flags.DEFINE_integer('max_batches', 0, 'Score only the first N batches (0: all).',
                       lower_bound=0)
  flags.DEFINE_string('output', '', 'JSON file to write (default: WORKDIR/evaluate.json; '
                      'with --checkpoint_file, WORKDIR is the converted one in the cache; '
                      'with --model=NAME, NAME_evaluate.json in the current folder).')


def main(argv) -> None:
  """The command: score the model the flags name, print the table, write the JSON."""
  del argv
  if not FLAGS['verbosity'].present:  # orbax warns about read-only restores
    logging.set_verbosity(logging.ERROR)
  workdir = model_source.workdir()
  report = evaluate(str(workdir), FLAGS.eval_dir or None, FLAGS.num_samples_k,
                    FLAGS.seeds, FLAGS.seed, FLAGS.batch_size or None,
                    FLAGS.active_threshold, FLAGS.max_batches, best=FLAGS.best)
  source = model_source.Source.from_flags()
  if source.checkpoint_file or source.run_dir or source.model:
    report['model_source'] = {'flags': source.given(), 'config': source.config,
                              'hparams': source.hparams}
  default = (Path(f'{workdir.name}_evaluate.json') if model_source.is_pretrained(workdir)
             else workdir / 'evaluate.json')
  output = Path(FLAGS.output or default).expanduser()
  output.write_text(json.dumps(report, indent=2) + '\n')
  print(format_table(report))
  print(f'wrote {output}')


def run() -> None:
  """Console-script entry point (`musicvae-evaluate`) and `python -m`."""
  from musicvae_jax import cli_errors
  _define_flags()
  cli_errors.run(main, help_from=(model_source.__name__,))


if __name__ == '__main__':
  run()
