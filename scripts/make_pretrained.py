"""Export a training run as a pretrained model that ships with the package.

  python scripts/make_pretrained.py --workdir=RUN --name=NAME \\
      --description='One line: what it makes' --data='What it was trained on' \\
      --licence='The data licence' [--attribution='Credit line'] \\
      [--eval_dir=FOLDER] [--best] [--config_spec=mel_2bar:cpu] [--machine=...] \\
      [--seed=0] [--allow_precision_loss] [--overwrite]

Writes
  musicvae_jax/pretrained/NAME/   config.json (the run's, cache_dir blanked),
                                  params.msgpack (float16), card.json
                                  (--registry: another folder)
  docs/pretrained/NAME.md         the human card, linking
  docs/pretrained/NAME/           sample_00..07 .mid, .wav (16 kHz mono), .png
                                  (--docs_dir: another folder)
  docs/pretrained.md              the index of every model in --registry
                                  (next to --docs_dir)

What it does, in order (each refusal is one `error:` line, nothing written):
  1. loads the run's latest checkpoint (--best: the best by eval loss);
  2. reads the run's record: steps, wall time (TensorBoard event times) and
     machine (config_history.jsonl; runs from before it was recorded need
     --machine);
  3. stores the params as float16 and compares that model with the float32
     one on held-out windows (--eval_dir, else the run's own eval set): mu's
     largest error and the share of identical greedy decodes; refuses when
     more than 5% differ, unless --allow_precision_loss;
  4. runs `evaluate` on the float16 model over the same held-out data (the
     card's figures: reconstruction, KL, ELBO, active units, decodes);
  5. computes the sample statistics the test recomputes (32 samples at
     temperature 0.5, --seed; pretrained/stats.py);
  6. writes the package folder, then the human card with 8 samples.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))

from musicvae_jax import cli_errors, pretrained  # noqa: E402
from musicvae_jax.errors import UserError  # noqa: E402

NUM_STATS_SAMPLES = 32
NUM_DOC_SAMPLES = 8
TEMPERATURE = 0.5
WAV_RATE = 16000


class _Parser(argparse.ArgumentParser):
  """argparse whose mistakes are one `error:` line (cli_errors)."""

  def error(self, message):
    raise UserError(f'{message} (see --help)')


def parse(argv: list[str]) -> argparse.Namespace:
  p = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workdir', required=True, help='The training run to export.')
  p.add_argument('--name', required=True, help='The model name: its folder, '
                 '--model=NAME, TrainedModel.from_pretrained(NAME); [a-z0-9_-].')
  p.add_argument('--description', required=True, help='One line: what the model makes.')
  p.add_argument('--data', required=True, help='What it was trained on (one line).')
  p.add_argument('--licence', required=True, help='The licence of that data.')
  p.add_argument('--attribution', default='', help='Credit the data asks for.')
  p.add_argument('--eval_dir', default='', help="Held-out MIDI files for the figures "
                 "(default: the run's own eval set).")
  p.add_argument('--best', action='store_true', help='The best checkpoint by eval '
                 'loss, not the latest.')
  p.add_argument('--config_spec', default='', help='The --config the run was '
                 'trained with (e.g. mel_2bar:cpu), for the card.')
  p.add_argument('--machine', default='', help='What it trained on, where '
                 'config_history.jsonl does not record it (e.g. "gpu: 1 x NVIDIA H200").')
  p.add_argument('--seed', type=int, default=0, help='Seed of the samples and statistics.')
  p.add_argument('--allow_precision_loss', action='store_true', help='Export even '
                 'when float16 params change more than 5%% of the greedy decodes.')
  p.add_argument('--overwrite', action='store_true', help='Replace an existing '
                 'export of NAME (package folder and docs).')
  p.add_argument('--registry', default=str(pretrained.PACKAGE_DIR),
                 help='Where the model folder goes (default: the package).')
  p.add_argument('--docs_dir', default=str(ROOT / 'docs' / 'pretrained'),
                 help='Where the human card and its samples go.')
  return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> tuple[Path, Path, Path]:
  """(workdir, package folder, docs media folder); one-line refusals."""
  if not pretrained.NAME_PATTERN.fullmatch(args.name):
    raise UserError(f'--name={args.name}: use lower-case letters, digits, _ and - '
                    '(it is a folder name and --model=NAME)')
  workdir = Path(args.workdir).expanduser()
  if not (workdir / 'checkpoints').is_dir():
    raise UserError(f'--workdir={args.workdir}: no training run there (no checkpoints/)')
  if args.eval_dir and not Path(args.eval_dir).expanduser().is_dir():
    raise UserError(f'--eval_dir={args.eval_dir}: no such folder')
  folder = Path(args.registry).expanduser() / args.name
  media = Path(args.docs_dir).expanduser() / args.name
  card_md = media.with_suffix('.md')
  for path, flag in ((folder, '--registry'), (card_md, '--docs_dir'), (media, '--docs_dir')):
    if path.exists() and not args.overwrite:
      raise UserError(f'{path} exists ({flag}): pass --overwrite to replace the export '
                      f'of {args.name}')
  return workdir, folder, media


def command_line(argv: list[str]) -> str:
  """The command as typed: `--flag='a value'` quoted after the `=`."""
  def quote(arg):
    flag, eq, value = arg.partition('=')
    return f'{flag}={shlex.quote(value)}' if eq and flag.startswith('--') else shlex.quote(arg)
  return ' '.join(['python scripts/make_pretrained.py'] + [quote(a) for a in argv])


def _portable_argv(argv: list[str], args: argparse.Namespace) -> list[str]:
  """`argv` as the card prints it: the run folder as the card's training
  command names it (with --config_spec), without --overwrite."""
  out = []
  for arg in argv:
    if arg == '--overwrite':
      continue
    if args.config_spec and arg.startswith('--workdir='):
      arg = f'--workdir=runs/{args.name}'
    out.append(arg)
  return out


def describe_training_data(config) -> str:
  """Where the run's training data came from, as its config says."""
  if pretrained.ships_eval_data(config):
    return "the built-in folk corpus (music21's public-domain ABC collections)"
  return config.train_examples_path or config.train_dir


def export(argv: list[str]) -> dict:
  """The whole export; returns the card (raises UserError, one line)."""
  args = parse(argv)
  workdir, folder, media = check_args(args)
  from absl import logging
  logging.set_verbosity(logging.ERROR)   # orbax warns about read-only restores
  from musicvae_jax import evaluate, render, startup
  from musicvae_jax.pretrained import card as card_lib
  from musicvae_jax.pretrained import files, params_codec, precision, run_record, stats
  from musicvae_jax.trained_model import TrainedModel

  model = TrainedModel.from_workdir(workdir, best=args.best)
  record = run_record.read(workdir, model.step)
  record['machine'] = args.machine or record['machine']
  if not record['machine']:
    raise UserError(f'--workdir={args.workdir}: config_history.jsonl records no machine '
                    "(a run from before it did); pass --machine='gpu: 1 x NVIDIA H200'")
  print(f'{workdir}: step {model.step}, {record["wall_time"]} on {record["machine"]}',
        flush=True)

  packed, dtype = params_codec.pack(model.params)
  shipped = type(model)(model.config, params_codec.unpack(packed), max_batch=model.max_batch)
  shipped.step, shipped.pretrained = model.step, args.name
  data, where = evaluate.eval_windows(model.config, args.eval_dir or None, model.converter)
  check = precision.compare(model, shipped, data.windows, args.seed)
  print(f'float16: mu max abs error {check["mu_max_abs_error"]:.3g}, '
        f'{check["greedy_identical_share"]:.1%} of {check["windows"]} greedy decodes identical',
        flush=True)
  if not precision.acceptable(check) and not args.allow_precision_loss:
    raise UserError(
        f'float16 params change {1 - check["greedy_identical_share"]:.1%} of the greedy '
        f'decodes of {where} (more than {precision.MAX_GREEDY_MISMATCH:.0%}); pass '
        '--allow_precision_loss to export anyway')

  report = evaluate.evaluate_model(shipped, args.eval_dir or None, seed=args.seed,
                                   progress=False, label=args.name)
  figures = stats.sample_statistics(shipped, NUM_STATS_SAMPLES, args.seed, TEMPERATURE)
  data_figures = stats.window_statistics(model.converter, data.windows,
                                         int(model.config.slice_bars))
  config = model.config.copy_and_resolve_references()
  config.cache_dir = ''   # a folder of the training machine
  card = {
      'name': args.name, 'description': args.description,
      'data': {'description': args.data, 'licence': args.licence,
               'attribution': args.attribution,
               'train': describe_training_data(model.config), 'eval': where},
      'config': {'spec': args.config_spec,
                 'magenta_name': config.get('magenta_name', ''),
                 'output_family': config.get('output_family', '') or 'categorical',
                 'encoding': config.encoding, 'slice_bars': int(config.slice_bars),
                 'z_size': int(config.z_size),
                 'enc_rnn_sizes': list(config.enc_rnn_sizes),
                 'dec_rnn_sizes': list(config.dec_rnn_sizes),
                 'use_hier': bool(config.get('use_hier', False))},
      'training': {**record, 'checkpoint': 'best' if args.best else 'latest'},
      'params': {'dtype': dtype, 'bytes': len(packed),
                 'parameters': startup.parameter_count(model.params)},
      'evaluation': card_lib.evaluation_figures(report),
      'float16_check': check,
      'sample_statistics': figures,
      'data_statistics': data_figures,
      'samples': {'count': NUM_DOC_SAMPLES, 'temperature': TEMPERATURE, 'seed': args.seed,
                  'wav_sample_rate': WAV_RATE},
      'command': command_line(_portable_argv(argv, args)),
      'train_command': (run_record.training_command(
          model.config, args.config_spec, model.step, f'runs/{args.name}')
          if args.config_spec else ''),
  }
  card_md = media.with_suffix('.md')
  for path in (folder, media):
    if path.exists():   # --overwrite (check_args refused otherwise)
      shutil.rmtree(path)
  files.write_folder(folder, config, packed, card)
  card = files.read_card(folder)          # with params_sha256 and format

  media.mkdir(parents=True, exist_ok=True)
  stems = []
  for i, ns in enumerate(shipped.sample(NUM_DOC_SAMPLES, temperature=TEMPERATURE,
                                        seed=args.seed)):
    stem = f'sample_{i:02d}'
    render.write_midi(ns, media / f'{stem}.mid')
    render.write_wav(ns, media / f'{stem}.wav', sample_rate=WAV_RATE)
    render.write_piano_roll_png(ns, media / f'{stem}.png', title=f'{args.name} {stem}')
    stems.append(stem)
  card_md.write_text(card_lib.markdown(card, stems, media.name), encoding='utf-8')
  index = Path(args.docs_dir).expanduser().parent / 'pretrained.md'
  cards = [files.read_card(e.folder) for e in pretrained.list_pretrained(args.registry)]
  index.write_text(card_lib.index_markdown(cards), encoding='utf-8')
  print(f'wrote {folder} ({len(packed) / 1e6:.2f} MB of {dtype} params) and {card_md}')
  return card


@cli_errors.main_wrapper
def main(argv: list[str]) -> None:
  export(argv)


if __name__ == '__main__':
  main(sys.argv[1:])
