"""2-bar melody shape MusicVAE: a melody's contour alone, one Parsons code per
16th (0 down, 1 same, 2 up: the direction from the previous onset to the
next), as magenta.js' `mel_shape_2bar_tiny_fb*` models
(`MelodyShapeConverter`, a 3-class softmax). The windows are mel_2bar's
melodies reduced to their shape (data/melody_control_windows.py; a window
whose only onset is its last step has no code in magenta.js and is
skipped). Sample a contour here, then a melody along it with a multicontrol
model (configs/mel_2bar_multicontrol.py, `--contour`).

  python -m musicvae_jax.train --config=configs/mel_shape_2bar.py:cpu \
      --workdir=runs/mel_shape
Variants: VARIANTS below (`--config=mel_shape_2bar:NAME`; `train --help` lists them).
No Magenta (Python) config exists; magenta.js' checkpoints convert with
`python -m musicvae_jax.convert_magenta` on their folder (config.json).
"""

from musicvae_jax import config_base
from musicvae_jax.config_base import base_config

VARIANTS = {  # the first is the default
    'cpu': 'a laptop-sized model for a few thousand steps on 2 CPU cores (the default)',
    'tiny': 'the smallest thing that runs (tests, smoke checks)',
}


def get_config(variant: str = 'cpu'):
  c = base_config()
  config_base.set_melody_signal_vae(c, 'melody_shape')
  if variant == 'cpu':
    pass
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
