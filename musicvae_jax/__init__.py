"""musicvae_jax: MusicVAE in JAX/Flax.

    from musicvae_jax import TrainedModel
    model = TrainedModel.from_workdir('runs/folk_mel_2bar')
    melodies = model.sample(4, temperature=0.5)
    musicvae_jax.list_pretrained()   # the shipped models: TrainedModel.from_pretrained(name)
"""

import warnings

# note_seq imports pydub, which warns about a missing ffmpeg we never use.
warnings.filterwarnings('ignore', message="Couldn't find ffmpeg")

__version__ = '0.1.0'


def __getattr__(name):
  # Lazy, so that `import musicvae_jax.data...` does not import JAX.
  if name == 'TrainedModel':
    from musicvae_jax.trained_model import TrainedModel
    return TrainedModel
  if name == 'list_pretrained':
    from musicvae_jax.pretrained import list_pretrained
    return list_pretrained
  if name == 'load_config':
    from musicvae_jax.checkpoints import load_config
    return load_config
  raise AttributeError(name)
