"""How integer tokens become LSTM inputs.

A window holds `K` parts of tokens (`[..., K]`); part `k` has `part_depths[k]`
classes. Magenta feeds the concatenation of the parts' one-hot vectors. A part
may instead use a fixed feature table (for example Magenta's drum "roll"
input, registered in `INPUT_TABLES` by the drums encoding) or a learned
embedding (`embed_size > 0`, a knob of the PyTorch predecessor).

A spec with `bits` (magenta.js' BooleanDecoder models, e.g. a melody's
rhythm) has parts of one bit each (tokens 0 / 1, `part_depths` 2): a part is
read as the bit's value (`BIT_TABLE`, width 1, in the encoder and the
decoder alike) and written as one logit (`output_depth` = the number of
parts).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from musicvae_jax.models.lstm import LSTMLayer

# name -> function returning a float table [depth, width] (row = one token).
INPUT_TABLES: dict[str, Callable[[], np.ndarray]] = {}
# A bit part's input: token 0 -> [0.], token 1 -> [1.] (-1 -> zeros, as always).
BIT_TABLE = np.array([[0.0], [1.0]], np.float32)


@dataclasses.dataclass(frozen=True)
class TokenSpec:
  """What the tokens are. Hashable, so it can be a module attribute."""

  part_depths: tuple[int, ...]
  # Per part: None for one-hot, or a key of INPUT_TABLES.
  input_tables: tuple[str | None, ...] | None = None
  # Classes of each control track (e.g. (49,) for triad chords); () = none.
  # Controls are int `[..., C]` read as one-hots after the tokens (encoder)
  # or after the conditioning vector (decoder), as Magenta concatenates them.
  control_depths: tuple[int, ...] = ()
  # Every part is one bit read as its value and written as one logit
  # (Bernoulli); False: one-hot in, one softmax per part out.
  bits: bool = False

  @property
  def control_width(self) -> int:
    return sum(self.control_depths)

  @property
  def num_parts(self) -> int:
    return len(self.part_depths)

  @property
  def output_depth(self) -> int:
    """Logits per step: one per bit part, else every part's classes."""
    return self.num_parts if self.bits else sum(self.part_depths)

  def table_name(self, part: int) -> str | None:
    return None if self.input_tables is None else self.input_tables[part]

  def input_width(self, part: int, embed_size: int = 0) -> int:
    if embed_size:
      return embed_size
    if self.bits:
      return BIT_TABLE.shape[1]
    name = self.table_name(part)
    if name is None:
      return self.part_depths[part]
    return INPUT_TABLES[name]().shape[1]

  def total_input_width(self, embed_size: int = 0) -> int:
    return sum(self.input_width(k, embed_size) for k in range(self.num_parts))

  def one_hot_inputs(self) -> 'TokenSpec':
    """The same tokens read as one-hots: decoders always read their previous
    outputs this way (Magenta feeds input tables such as the drum roll to the
    encoder only); bit parts stay bits."""
    return dataclasses.replace(self, input_tables=None)


class TokenEmbedder(nn.Module):
  """Turns tokens into the first LSTM layer's input gates.

  Holds the learned embeddings, if any (`embed_0`, `embed_1`, ...).
  """

  spec: TokenSpec
  embed_size: int = 0

  def setup(self):
    if self.embed_size:
      self.tables = [
          self.param(f'embed_{k}', nn.initializers.normal(1.0),
                     (depth, self.embed_size))
          for k, depth in enumerate(self.spec.part_depths)]

  def _table(self, part: int) -> jax.Array | None:
    if self.embed_size:
      return self.tables[part]
    if self.spec.bits:
      return jnp.asarray(BIT_TABLE)
    name = self.spec.table_name(part)
    return None if name is None else jnp.asarray(INPUT_TABLES[name](),
                                                 jnp.float32)

  def gates(self, layer: LSTMLayer, tokens: jax.Array) -> jax.Array:
    """Input gates of `tokens [..., K]` (-1 = all-zero input), no bias.

    Returns float32 `[..., 4H]`, H being `layer`'s size. The token block
    occupies the first `spec.total_input_width(embed_size)` kernel rows.
    """
    total, start = 0.0, 0
    for k, depth in enumerate(self.spec.part_depths):
      total = total + layer.gather_rows(start, depth, tokens[..., k],
                                        self._table(k))
      start += self.spec.input_width(k, self.embed_size)
    return total


def control_gates(layer: LSTMLayer, controls: jax.Array | None, start: int,
                  control_depths: tuple[int, ...]) -> jax.Array | float:
  """Gates of the control block `controls int [..., C]` (one-hot per track,
  -1 = all-zero) at kernel rows `start:`; 0.0 when there are none."""
  if controls is None or not control_depths:
    return 0.0
  total = 0.0
  for k, depth in enumerate(control_depths):
    total = total + layer.gather_rows(start, depth, controls[..., k])
    start += depth
  return total


def one_hot_parts(tokens: jax.Array, part_depths: tuple[int, ...]) -> jax.Array:
  """`[..., K]` int tokens -> `[..., sum(part_depths)]` concatenated one-hots."""
  return jnp.concatenate(
      [jax.nn.one_hot(tokens[..., k], d) for k, d in enumerate(part_depths)],
      axis=-1)


@functools.lru_cache(maxsize=None)
def _drum_roll_table() -> np.ndarray:
  from musicvae_jax.data.encodings import drum_roll_table  # numpy only
  return drum_roll_table()


# Magenta's drum `roll_input`: 9 class bits + a "no hit" bit per drum token.
INPUT_TABLES['drum_roll'] = _drum_roll_table
