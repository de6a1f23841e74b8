"""2-bar melody rhythm MusicVAE: a melody's onsets alone (1 where a note
starts, else 0, per 16th), as magenta.js' `mel_rhythm_2bar_tiny_fb*` models
(`MelodyRhythmConverter`, `useBooleanDecoder: true`). The windows are
mel_2bar's melodies reduced to their rhythm (data/melody_control_windows.py);
the decoder writes one logit per step, sampled as a Bernoulli at a
temperature (`logit >= 0` greedy). Sample a rhythm here, then a melody on it
with a multicontrol model (configs/mel_2bar_multicontrol.py, `--rhythm`).

  python -m musicvae_jax.train --config=configs/mel_rhythm_2bar.py:cpu \
      --workdir=runs/mel_rhythm
Variants: VARIANTS below (`--config=mel_rhythm_2bar:NAME`; `train --help` lists them).
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
  config_base.set_melody_signal_vae(c, 'melody_rhythm')
  if variant == 'cpu':
    pass
  elif variant == 'tiny':
    config_base.make_tiny(c)
  else:
    raise config_base.unknown_variant(__file__, variant, tuple(VARIANTS))
  return c
