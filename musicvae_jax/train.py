r"""Train a MusicVAE.

  python -m musicvae_jax.train --config=configs/hier.py --workdir=runs/hier
  python -m musicvae_jax.train --config=mel_2bar:cpu --workdir=runs/demo \
      --config.train_dir=~/midi --config.batch_size=64
  python -m musicvae_jax.train --config=cat-mel_2bar_small --workdir=runs/mel

`--config` takes a config file (`FILE.py:VARIANT`), a shipped config by name
(`NAME:VARIANT`, from any directory) or a Magenta config name; `--help` lists
them all.
Restarting with the same workdir resumes from its newest intact checkpoint
(changed settings are listed and kept in WORKDIR/config_history.jsonl). A
failure ends with one `error: ...` line (exit code 1); `--verbose` adds the
traceback.
"""

from __future__ import annotations

from absl import app, flags, logging
from musicvae_jax import cli_errors, config_flag, parallel, trainer

FLAGS = flags.FLAGS
config_flag.define('config')
flags.declare_key_flag('config')  # defined by ml_collections; shown by --help
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
  cli_errors.run(main, usage=lambda: f'{__doc__}\n{config_flag.listing()}\n')


if __name__ == '__main__':
  run()
