"""Train a MusicVAE.

  python -m musicvae_jax.train --config=configs/hier.py --workdir=runs/hier
  python -m musicvae_jax.train --config=configs/mel_2bar.py:cpu --workdir=runs/demo \
      --config.train_dir=~/midi --config.batch_size=64

Restarting with the same workdir resumes from its newest intact checkpoint
(changed settings are listed and kept in WORKDIR/config_history.jsonl). A
failure ends with one `error: ...` line (exit code 1); `--verbose` adds the
traceback.
"""

from __future__ import annotations

from absl import app, flags, logging
from ml_collections import config_flags

from musicvae_jax import cli_errors, parallel, trainer

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'Config file, optionally with a variant: FILE.py:VARIANT.',
    lock_config=True)
flags.DEFINE_string('workdir', None, 'Where checkpoints, config.json and '
                    'TensorBoard logs go; an existing run there is resumed.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  # Orbax and JAX log every checkpoint step at INFO; keep the console for
  # the run's own progress (pass --verbosity=0 to see them).
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  parallel.initialize_distributed()
  trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)


def run():
  """Console-script entry point (`musicvae-train`)."""
  cli_errors.run(main)


if __name__ == '__main__':
  run()
