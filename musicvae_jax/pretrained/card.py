"""A pretrained model's card: the held-out figures it keeps from `evaluate`,
and the human card, docs/pretrained/<name>.md, written from card.json.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

# evaluate's report keys kept on the card (those the model has).
HEADLINE = ('eval_set', 'windows', 'step', 'seed', 'num_samples_k', 'seeds',
            'reconstruction_loss_per_sequence', 'kl_per_sequence', 'nll_per_sequence',
            'elbo_per_sequence', 'log_likelihood_is', 'active_units',
            'no_event_baseline_accuracy')
DECODES = ('teacher_forced', 'greedy', 'temperature_1')
# The human card's names of the headline figures (nats per sequence).
LABELS = {'reconstruction_loss_per_sequence': 'reconstruction loss / sequence',
          'kl_per_sequence': 'KL / sequence', 'elbo_per_sequence': 'ELBO / sequence',
          'log_likelihood_is': 'log p(x), importance sampled',
          'active_units': 'active latent units'}


def evaluation_figures(report: dict[str, Any]) -> dict[str, Any]:
  """The card's `evaluation`: the headline of an `evaluate` report, per
  decode its accuracy, event accuracy, onset F1 and silent share, and the
  family's own metrics."""
  out = {k: report[k] for k in HEADLINE if k in report}
  out['z_size'] = report['model']['z_size']
  for mode in DECODES:
    if mode in report:
      r = report[mode]
      out[mode] = {'accuracy': r['accuracy'], 'event_accuracy': r['event_accuracy']}
      if 'onset' in r:
        out[mode]['onset_f1'] = r['onset']['f1']
      if 'silent_share' in r:
        out[mode]['silent_share'] = r['silent_share']
  out['family_metrics'] = report.get('family_metrics', {})
  return out


def _number(value) -> str:
  if value is None:
    return 'n/a'
  if isinstance(value, float):
    return f'{value:.4g}'
  return str(value)


def _statistics_row(label: str, figures: dict[str, Any]) -> str:
  return (f"| {label} | {_number(figures['note_density'])} | "
          f"{_number(figures['pitch_range'])} | {_number(figures['in_scale_share'])} | "
          f"{_number(figures['silent_share'])} |")


def portable_eval_set(eval_set: str) -> str:
  """evaluate's `eval_set` without the exporting machine's folders:
  '/root/.cache/.../eval (the built-in folk corpus eval set)' -> the words in
  brackets; '/data/lmd/eval (the run's eval_dir)' -> 'lmd/eval (the run's eval_dir)'."""
  match = re.fullmatch(r'(/\S+)(?: \((.*)\))?', str(eval_set))
  if not match:
    return str(eval_set)
  path, said = match.groups()
  if said and 'built-in' in said:
    return said
  short = '/'.join(Path(path).parts[-2:])
  return f'{short} ({said})' if said else short


def markdown(card: dict[str, Any], samples: Sequence[str], media_folder: str) -> str:
  """The human card. `samples`: the sample stems (sample_00, ...) whose
  .png, .mid and .wav are in `media_folder` (relative to the card)."""
  name, data, config = card['name'], card['data'], card['config']
  training, ev = card['training'], card['evaluation']
  check, stats = card['float16_check'], card['sample_statistics']
  sizes = (f"z {config['z_size']}, encoder {list(config['enc_rnn_sizes'])}, "
           f"decoder {list(config['dec_rnn_sizes'])}"
           + (', hierarchical decoder' if config.get('use_hier') else ''))
  licence = data['licence'] + (f"; {data['attribution']}" if data.get('attribution') else '')
  lines = [
      f'# Pretrained model `{name}`', '', card['description'], '',
      '| | |', '|---|---|',
      f"| data | {data['description']} (read from {data['train']}) |",
      f"| licence | {licence} |",
      f"| config | `{config['spec'] or config['magenta_name']}`: {config['encoding']}, "
      f"{config['slice_bars']} bars, {sizes} |",
      f"| parameters | {card['params']['parameters']:,} stored as {card['params']['dtype']} "
      f"({card['params']['bytes'] / 1e6:.2f} MB, sha256 `{card['params_sha256'][:16]}...`) |",
      f"| training | {training['steps']:,} steps, {training['wall_time']} on "
      f"{training['machine']} |",
      f"| load | `TrainedModel.from_pretrained('{name}')`, `--model={name}` |",
      '', '## Held-out evaluation', '',
      f"{_number(ev.get('windows'))} windows of {portable_eval_set(ev.get('eval_set'))} "
      f"(`python -m musicvae_jax.evaluate`, seed {ev.get('seed')}; nats).", '',
      '| figure | value |', '|---|---|']
  for key, label in LABELS.items():
    if key in ev:
      what = f"{ev[key]} of {ev['z_size']}" if key == 'active_units' else _number(ev[key])
      lines.append(f'| {label} | {what} |')
  decodes = [m for m in DECODES if m in ev]
  if decodes:
    lines += ['', '| decode | accuracy | event accuracy | onset F1 | silent share |',
              '|---|---|---|---|---|']
    for mode in decodes:
      r = ev[mode]
      lines.append(f"| {mode.replace('_', ' ')} | {_number(r['accuracy'])} | "
                   f"{_number(r['event_accuracy'])} | {_number(r.get('onset_f1'))} | "
                   f"{_number(r.get('silent_share'))} |")
  lines += [
      '', f"## Samples: statistics of {stats['n']} at temperature {stats['temperature']} "
      f"(seed {stats['seed']})", '',
      '| of | note starts per bar | pitch range | in best-fitting major / minor scale | '
      'silent |', '|---|---|---|---|---|',
      _statistics_row(f"{stats['n']} samples (silent: greedy decodes of the same z)", stats)]
  if card.get('data_statistics'):
    lines.append(_statistics_row(f"{card['data_statistics']['n']} held-out windows",
                                 card['data_statistics']))
  lines += [
      '', '## float16 storage', '',
      f"On {check['windows']} held-out windows the float16 params move mu by at most "
      f"{check['mu_max_abs_error']:.2g}; {check['greedy_identical_share']:.1%} of the "
      'greedy decodes are identical to float32\'s.', '',
      f"## {len(samples)} samples at temperature {card['samples']['temperature']} "
      f"(seed {card['samples']['seed']})", '']
  for stem in samples:
    base = f'{media_folder}/{stem}'
    lines += [f'![{stem}]({base}.png)', '',
              f'[{stem}.mid]({base}.mid) · [{stem}.wav]({base}.wav)', '']
  lines += ['## Regenerate', '']
  if card.get('train_command'):
    lines += ['Train (the run; data folders as the config says), then export:', '',
              '```', card['train_command'], '```', '']
  lines += ['```', card['command'], '```', '']
  return '\n'.join(lines)


def index_markdown(cards: Sequence[dict[str, Any]]) -> str:
  """docs/pretrained.md: one row per shipped model (its card.json), linking
  the human cards in pretrained/."""
  lines = [
      '# Shipped pretrained models', '',
      'Small models trained by this project on data it may redistribute. They ship inside '
      'the package and load offline: `--model=NAME` on `generate`, `studio` and `evaluate`, '
      "`TrainedModel.from_pretrained('NAME')` in Python (usage: "
      '[usage.md](usage.md#pretrained-models)). This page and the cards are written by '
      '`scripts/make_pretrained.py`; each card ends with the commands that train and export '
      'its model again.', '',
      '| model | what it makes | config | steps, wall time | held-out greedy accuracy '
      '| onset F1 | active units | weights |', '|---|---|---|---|---|---|---|---|']
  for card in sorted(cards, key=lambda c: c['name']):
    name, ev, training = card['name'], card['evaluation'], card['training']
    greedy = ev.get('greedy', {})
    units = (f"{ev['active_units']} of {ev['z_size']}" if 'active_units' in ev else 'n/a')
    lines.append(
        f"| [`{name}`](pretrained/{name}.md) | {card['description']} | "
        f"`{card['config']['spec'] or card['config']['magenta_name']}` | "
        f"{training['steps']:,}, {training['wall_time']} | {_number(greedy.get('accuracy'))} | "
        f"{_number(greedy.get('onset_f1'))} | {units} | "
        f"{card['params']['bytes'] / 1e6:.1f} MB {card['params']['dtype']} |")
  return '\n'.join(lines + [''])
