"""The configs ship with the package: `configs/` (top level of the repository)
is installed as `musicvae_jax.configs`, so `--config=NAME[:VARIANT]` works from
any directory after `pip install` (setup.cfg holds everything else)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=['musicvae_jax', 'musicvae_jax.*']) + ['musicvae_jax.configs'],
    package_dir={'musicvae_jax.configs': 'configs'},
)
