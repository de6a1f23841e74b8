"""Convert a Magenta MusicVAE checkpoint into a musicvae_jax workdir (no TensorFlow).

  python -m musicvae_jax.convert_magenta --magenta_config=hierdec-mel_16bar \
      --checkpoint=~/Downloads/hierdec-mel_16bar.tar --workdir=runs/hierdec_magenta

The checkpoint may be a prefix (`model.ckpt-N`), its `.index` file, a folder
holding one, or the `.tar` bundle Magenta publishes; or a magenta.js
checkpoint folder (`config.json` + `weights_manifest.json` + shards, then
`--magenta_config` is not needed). Layer sizes are read off
the checkpoint; `--hparams` (Magenta's syntax) is checked against them. The
workdir then works with `TrainedModel`, `generate` and `train` (fine-tuning).
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string('magenta_config', None, 'Magenta config name, e.g. cat-mel_2bar_small '
                    '(not needed for a magenta.js folder, whose config.json says).')
flags.DEFINE_string('checkpoint', None, 'Checkpoint prefix, .index, folder or .tar; '
                    'or a magenta.js folder (config.json + weights_manifest.json).')
flags.DEFINE_string('workdir', None, 'Output workdir.')
flags.DEFINE_string('hparams', '', "Magenta hparams overrides, e.g. 'z_size=32,enc_rnn_size=[128]'.")
flags.DEFINE_string('config', '', 'Our config file (FILE.py:VARIANT) to start from '
                    'instead of the one matching --magenta_config.')


def main(argv):
  del argv
  if not FLAGS['verbosity'].present:  # orbax logs ~60 lines per save
    logging.set_verbosity(logging.ERROR)
  from musicvae_jax.magenta import convert
  try:
    workdir = convert.convert_checkpoint(
        FLAGS.magenta_config, FLAGS.checkpoint, FLAGS.workdir,
        hparams=FLAGS.hparams, config_spec=FLAGS.config or None)
  except (ValueError, OSError) as error:
    sys.exit(f'error: {error}')
  logging.info('wrote %s', workdir)
  print(f'converted {FLAGS.checkpoint} -> {Path(workdir)}')


def run():
  from musicvae_jax import cli_errors
  flags.mark_flags_as_required(['checkpoint', 'workdir'])
  cli_errors.run(main)


if __name__ == '__main__':
  run()
