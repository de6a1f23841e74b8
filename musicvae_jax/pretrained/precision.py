"""Does a model decode the same from float16-stored params? (the export's check)

The float32 model and the same model with its params rounded through
`params_codec` (float16 storage, float32 compute) encode the same held-out
windows and decode greedily from their own mu:

  mu_max_abs_error        max |mu16 - mu32| over windows and latent units
  greedy_identical_share  share of windows whose greedy decodes are identical
                          (integer tokens equal; float outputs, GrooVAE's,
                          within FLOAT_OUTPUT_ATOL)

`scripts/make_pretrained.py` refuses to export when more than
MAX_GREEDY_MISMATCH of the decodes differ (unless --allow_precision_loss).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicvae_jax.evaluate import GREEDY_TEMPERATURE

MAX_GREEDY_MISMATCH = 0.05
MAX_WINDOWS = 256
FLOAT_OUTPUT_ATOL = 1e-2


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Per window `[N, ...] -> [N]`: identical decodes."""
  axes = tuple(range(1, a.ndim))
  if np.issubdtype(a.dtype, np.integer):
    return np.all(a == b, axis=axes)
  return np.all(np.abs(a - b) <= FLOAT_OUTPUT_ATOL, axis=axes)


def compare(model32, model16, windows: np.ndarray, seed: int = 0) -> dict[str, Any]:
  """The figures above for converter windows `[N, T, ...]` (the first
  MAX_WINDOWS of them); both models are `TrainedModel`s of one config."""
  windows = np.asarray(windows)[:MAX_WINDOWS]
  _, mu32, _ = model32.encode_windows(windows)                      # [N, Z]
  _, mu16, _ = model16.encode_windows(windows)
  controls = model32.split_windows(windows)[1]     # a chord model's own chords
  greedy32 = model32.decode_to_tensors(mu32, temperature=GREEDY_TEMPERATURE,
                                       seed=seed, controls=controls)
  greedy16 = model16.decode_to_tensors(mu16, temperature=GREEDY_TEMPERATURE,
                                       seed=seed, controls=controls)
  same = _same(np.asarray(greedy32), np.asarray(greedy16))
  return {'windows': int(len(windows)),
          'mu_max_abs_error': float(np.max(np.abs(mu16 - mu32))) if len(windows) else 0.0,
          'greedy_identical_share': float(np.mean(same)) if len(windows) else 1.0,
          'max_greedy_mismatch': MAX_GREEDY_MISMATCH}


def acceptable(check: dict[str, Any]) -> bool:
  """True when at most MAX_GREEDY_MISMATCH of the greedy decodes differ."""
  return 1.0 - check['greedy_identical_share'] <= MAX_GREEDY_MISMATCH + 1e-12
