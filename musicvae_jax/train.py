r"""Train a MusicVAE.

  python -m musicvae_jax.train --config=configs/hier.py --workdir=runs/hier
  python -m musicvae_jax.train --config=mel_2bar:cpu --workdir=runs/demo \
      --config.train_dir=~/midi --config.batch_size=64
  python -m musicvae_jax.train --config=cat-mel_2bar_small --workdir=runs/mel

`--config` takes a config file (`FILE.py:VARIANT`), a shipped config by name
(`NAME:VARIANT`, from any directory) or a Magenta config name; `--help` lists
them all.

Magenta's `music_vae_train` command lines work too (docs/magenta.md,
"Training with Magenta's flags"):

  python -m musicvae_jax.train --config=cat-mel_2bar_small --run_dir=/tmp/run/ \
      --mode=train --examples_path=/tmp/music_vae/mel_train_examples.tfrecord \
      --hparams=batch_size=32,learning_rate=0.0005
  python -m musicvae_jax.train --config=cat-mel_2bar_small --run_dir=/tmp/run/ \
      --mode=eval --examples_path=/tmp/music_vae/mel_eval_examples.tfrecord

Restarting with the same workdir resumes from its newest intact checkpoint
(changed settings are listed and kept in WORKDIR/config_history.jsonl). A
failure ends with one `error: ...` line (exit code 1); `--verbose` adds the
traceback.
"""

from __future__ import annotations

import sys

from absl import app, flags, logging
from ml_collections import config_flags
from musicvae_jax import cli_errors, config_flag, eval_mode, parallel, trainer
from musicvae_jax.magenta import train_flags

FLAGS = flags.FLAGS
config_flag.define('config')
flags.declare_key_flag('config')  # defined by ml_collections; shown by --help
flags.DEFINE_string('workdir', None, 'Where checkpoints, config.json and '
                    'TensorBoard logs go; an existing run there is resumed. '
                    'Give this or --run_dir.')
flags.DEFINE_string('run_dir', None, "Magenta's name for --workdir (give one "
                    'of them); checkpoints go to RUN_DIR/checkpoints/, not '
                    'RUN_DIR/train/.')
flags.DEFINE_enum('mode', 'train', list(train_flags.MODES),
                  'train, or eval: score the newest checkpoint of the run on '
                  'the eval data (metrics printed and written to '
                  'RUN_DIR/eval<suffix>/).')
flags.DEFINE_string('examples_path', None,
                    'TFRecord of NoteSequences (a path, glob or comma list), '
                    'read without TensorFlow: the training data with '
                    '--mode=train (config.train_examples_path), the eval data '
                    'with --mode=eval (config.eval_examples_path).')
flags.DEFINE_string('eval_examples_path', None,
                    'TFRecord of NoteSequences to evaluate on '
                    '(config.eval_examples_path); default: config.eval_dir, '
                    'else a held-out share of the training data.')
flags.DEFINE_string('hparams', '',
                    "Magenta's hparams, e.g. batch_size=32,learning_rate=0.0005,"
                    'enc_rnn_size=[512]: each sets config fields (docs/magenta.md); '
                    'applied after the config file, before --config.X.')
flags.DEFINE_integer('num_steps', None, 'Training steps (config.num_steps; '
                     "default: the config's).")
flags.DEFINE_integer('checkpoints_to_keep', None,
                     'Newest checkpoints kept, 0 for all (config.keep_latest; '
                     "default: the config's).")
flags.DEFINE_integer('eval_num_batches', None, 'Batches per evaluation, 0 for '
                     "all (config.eval_batches; default: the config's).")
flags.DEFINE_string('eval_dir_suffix', '', '--mode=eval writes to '
                    'RUN_DIR/eval<suffix>/.')
flags.DEFINE_bool('eval_loop', False, '--mode=eval: evaluate each new checkpoint '
                  "as it appears (Magenta's eval job) until step num_steps.")
flags.DEFINE_enum('log', None, ['DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL'],
                  "Magenta's log threshold: sets absl's --verbosity.",
                  case_sensitive=False)
for _flag in train_flags.UNSUPPORTED:   # Magenta flags without a counterpart
  _define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer}.get(
      type(_flag.magenta_default), flags.DEFINE_string)
  _what = ('no counterpart, a value other than Magenta\'s default is an error'
           if _flag.handling == 'error' else 'ignored, with a warning when set')
  _define(_flag.name, None, f"Magenta's flag; {_what}: {_flag.why}")
flags.mark_flags_as_required(['config'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  # Orbax and JAX log every checkpoint step at INFO; keep the console for
  # the run's own progress (pass --verbosity=0 or --log=INFO to see them).
  # In eval mode orbax also warns about every read-only restore.
  if FLAGS.log:
    logging.set_verbosity(FLAGS.log.lower())
  elif not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR if FLAGS.mode == 'eval' else logging.WARNING)
  workdir = train_flags.resolve_workdir(FLAGS.workdir, FLAGS.run_dir)
  for warning in train_flags.check_unsupported(
      {f.name: FLAGS[f.name].value for f in train_flags.UNSUPPORTED
       if FLAGS[f.name].present}):
    print(f'warning: {warning}', file=sys.stderr, flush=True)
  config = FLAGS.config
  for setting in train_flags.apply(
      config, FLAGS.mode, FLAGS.hparams, FLAGS.examples_path,
      FLAGS.eval_examples_path, FLAGS.num_steps, FLAGS.checkpoints_to_keep,
      FLAGS.eval_num_batches, config_flags.get_override_values(FLAGS['config'])):
    print(setting, flush=True)
  parallel.initialize_distributed()
  if FLAGS.mode == 'eval':
    eval_mode.run(config, workdir, FLAGS.eval_dir_suffix, FLAGS.eval_loop)
  else:
    trainer.train_and_evaluate(config, workdir)


def run():
  """Console-script entry point (`musicvae-train`)."""
  cli_errors.run(main, usage=lambda: f'{__doc__}\n{config_flag.listing()}\n')


if __name__ == '__main__':
  run()
