"""Per-bar accuracy of several `evaluate` JSONs in one plot, and a markdown
table of their headline figures (docs/quality.md).

  python scripts/plot_per_bar.py --output=docs/quality_per_bar.png \
      flat=runs/flat16/evaluate.json hier=runs/hier16/evaluate.json
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('runs', nargs='+', help='LABEL=path/to/evaluate.json')
  parser.add_argument('--output', required=True, help='PNG file')
  parser.add_argument('--title', default='')
  args = parser.parse_args()
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), sharey=False, dpi=80)
  modes = (('teacher_forced', 'teacher forced'), ('greedy', 'greedy from z = mu'),
           ('temperature_1', 'sampled, temperature 1'))
  for label_path in args.runs:
    label, path = label_path.split('=', 1)
    report = json.load(open(path))
    for ax, (mode, title) in zip(axes, modes):
      bars = report.get(mode, {}).get('per_bar_accuracy')
      if bars:
        ax.plot(range(1, len(bars) + 1), bars, marker='o', markersize=3,
                label=f"{label} (step {report['step']})")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel('bar')
  baselines = {round(json.load(open(lp.split('=', 1)[1])).get('no_event_baseline_accuracy', -1), 6)
               for lp in args.runs}
  if len(baselines) == 1 and -1 not in baselines:   # the same held-out windows
    baseline = next(iter(baselines))
    for ax in axes:
      ax.axhline(baseline, color='gray', linestyle='--', linewidth=1,
                 label='all NO_EVENT (whole window)')
  axes[0].set_ylabel('token accuracy')
  axes[0].legend(fontsize=8)
  if args.title:
    fig.suptitle(args.title, fontsize=10)
  fig.tight_layout()
  fig.savefig(args.output)
  print(f'wrote {args.output}')
  print(markdown_table([(lp.split('=', 1)[0], json.load(open(lp.split('=', 1)[1])))
                        for lp in args.runs]))


def markdown_table(runs) -> str:
  """Headline figures of `(label, report)` pairs as a markdown table."""
  rows = ['| run | step | TF acc | greedy acc | T=1 acc | TF event acc | greedy '
          'onset F1 | T=1 onset F1 | greedy silent | NLL | KL | log p(x) IS | '
          'active units |', '|' + '---|' * 13]
  for label, r in runs:
    tf, gr, t1 = r['teacher_forced'], r['greedy'], r['temperature_1']
    rows.append(
        f"| {label} | {r['step']} | {tf['accuracy']:.4f} | {gr['accuracy']:.4f} | "
        f"{t1['accuracy']:.4f} | {tf['event_accuracy']:.4f} | "
        f"{gr['onset']['f1']:.4f} | {t1['onset']['f1']:.4f} | "
        f"{gr['silent_share']:.2f} | {r['nll_per_sequence']:.1f} | "
        f"{r['kl_per_sequence']:.1f} | {r['log_likelihood_is']:.1f} | "
        f"{r['active_units']}/{r['model']['z_size']} |")
  return '\n'.join(rows)


if __name__ == '__main__':
  main()
