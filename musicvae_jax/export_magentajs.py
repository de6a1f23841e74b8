"""Export a trained run as a magenta.js checkpoint (config.json + TF.js weights).

  python -m musicvae_jax.export_magentajs --workdir=runs/folk_mel_2bar --output_dir=out/js
  python -m musicvae_jax.export_magentajs --workdir=runs/hier --output_dir=out/js_q --quantize=uint8

Serve the folder over HTTP and load it in a browser or Node with
`new mm.MusicVAE('http://HOST/PATH/js')` (@magenta/music). `--quantize`
stores weights in 1 (uint8) or 2 (uint16) bytes each, as magenta.js' own
`_q1`/`_q2` checkpoints do; float32 by default.

Every family magenta.js has exports: melody (chord-conditioned too), drums,
trio (flat or hierarchical), multitrack, GrooVAE and NADE drums. A config
option magenta.js cannot represent (a hierdec model's flat encoder, token
embeddings, GrooVAE note dropout, ...) stops the export with one line naming
the config key, before anything is written (magenta/tfjs.py and the
families' magentajs.py modules list them).
"""

from __future__ import annotations

import sys

from absl import flags, logging

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # At run time only: importing this module never clashes with other flags.
  flags.DEFINE_string('workdir', None, 'Trained run (or converted Magenta checkpoint).')
  flags.DEFINE_string('output_dir', None, 'Folder to write the magenta.js checkpoint to.')
  flags.DEFINE_enum('quantize', 'none', ['none', 'uint8', 'uint16'],
                    'Weight storage: float32, or 1- / 2-byte affine quantization.')
  flags.DEFINE_bool('best', False, 'Export the best checkpoint by eval loss, not the latest.')


def main(argv):
  del argv
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR)
  from musicvae_jax.magenta import export
  try:
    out = export.export_workdir(FLAGS.workdir, FLAGS.output_dir,
                                None if FLAGS.quantize == 'none' else FLAGS.quantize,
                                best=FLAGS.best)
  except (ValueError, OSError) as error:
    sys.exit(f'error: {error}')
  size = sum(p.stat().st_size for p in out.iterdir())
  print(f'wrote a magenta.js checkpoint to {out} ({size / 1e6:.1f} MB); load it with '
        f"new mm.MusicVAE('<URL of {out.name}>')")


def run():
  _define_flags()
  flags.mark_flags_as_required(['workdir', 'output_dir'])
  from musicvae_jax import cli_errors
  cli_errors.run(main)


if __name__ == '__main__':
  run()
