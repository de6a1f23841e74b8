"""`TrainedModel` for NADE drums: Magenta's array inputs as well as rolls."""

from __future__ import annotations

import numpy as np

from musicvae_jax.trained_model import TrainedModel


class NadeTrainedModel(TrainedModel):
  """`TrainedModel` for NADE drums (`TrainedModel.from_workdir` returns it for
  `output_family='nade'`): array inputs may be drum rolls `[B, T, D]` (ints or
  floats, Magenta's decoder targets) or Magenta's encoder inputs
  `[B, T, D + 1]` (the bits and the "no hits" bit)."""

  def _tokens_from(self, inputs: np.ndarray) -> np.ndarray:
    inputs = np.asarray(inputs)
    dims = self.spec.num_parts
    if inputs.ndim == 3 and inputs.shape[-1] == dims + 1:
      inputs = inputs[..., :dims]
    if inputs.ndim != 3 or inputs.shape[-1] != dims:
      raise ValueError(f'inputs of shape {inputs.shape}: expected drum rolls '
                       f'[B, T, {dims}] or roll inputs [B, T, {dims + 1}]')
    return (inputs > 0).astype(np.int32)

