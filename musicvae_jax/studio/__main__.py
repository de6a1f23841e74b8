"""Start the studio: `python -m musicvae_jax.studio --workdir=DIR` (or
`musicvae-studio --workdir=DIR`), then open the address it prints."""

from musicvae_jax.studio.cli import run

if __name__ == '__main__':
  run()
