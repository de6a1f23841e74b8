"""Exceptions shared by the file readers of `musicvae_jax.data`."""


class BadInputError(Exception):
  """A music file that cannot be read or holds no usable music.

  The readers raise only this for bad input, with a short reason, so that
  callers walking a folder can skip the file and count the reason.
  """
