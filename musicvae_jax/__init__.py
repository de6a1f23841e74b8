"""musicvae_jax: MusicVAE in JAX/Flax."""
