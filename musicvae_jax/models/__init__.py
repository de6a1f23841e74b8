"""Flax linen modules of MusicVAE."""

from musicvae_jax.models.inputs import INPUT_TABLES, TokenSpec
from musicvae_jax.models.vae import MusicVAE

__all__ = ['INPUT_TABLES', 'MusicVAE', 'TokenSpec']
