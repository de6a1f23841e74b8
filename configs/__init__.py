"""The configs, one file per model (`get_config(variant)`, `VARIANTS`).

Installed with the package as `musicvae_jax.configs`; `--config=NAME[:VARIANT]`
finds them from any directory (musicvae_jax/config_names.py).
"""
