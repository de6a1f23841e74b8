"""Export a trained run (a workdir) as a magenta.js checkpoint folder.

The one place that loads a run for the export (`TrainedModel`); the folder
format and the config.json mapping are `tfjs.py`'s, which knows nothing of
workdirs. The command line is `python -m musicvae_jax.export_magentajs`.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from musicvae_jax.magenta import tfjs
from musicvae_jax.trained_model import TrainedModel


def export_model(model: TrainedModel, output_dir: str | Path,
                 quantization: str | None = None) -> Path:
  """Writes a loaded model as a magenta.js checkpoint folder; returns it.
  ValueError (naming the config key) when magenta.js cannot represent it."""
  params = jax.tree.map(np.asarray, model.params)
  return tfjs.write_checkpoint(model.config, params, output_dir, quantization)


def export_workdir(workdir: str | Path, output_dir: str | Path,
                   quantization: str | None = None, best: bool = False) -> Path:
  """Writes a trained run (latest checkpoint, or the best by eval loss) as a
  magenta.js checkpoint folder; returns it."""
  return export_model(TrainedModel.from_workdir(workdir, best=best), output_dir,
                      quantization)
