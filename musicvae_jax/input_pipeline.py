"""From config to training and eval batches: the bridge between the data
package (files -> cached windows, no JAX) and the trainer."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import ml_collections
import numpy as np
from absl import logging

from musicvae_jax import paths
from musicvae_jax.data import cache, pipeline
from musicvae_jax.models import TokenSpec

PART_NAMES = {'melody': ('melody',), 'drums': ('drums',),
              'trio': ('melody', 'bass', 'drums')}


def default_cache_dir(config: ml_collections.ConfigDict) -> Path:
  if config.cache_dir:
    return Path(config.cache_dir).expanduser()
  return paths.cache_root()


def token_spec(converter) -> TokenSpec:
  """The model's view of a converter's tokens."""
  tables = converter.input_tables
  return TokenSpec(tuple(converter.part_depths),
                   None if tables is None else tuple(tables),
                   tuple(converter.control_depths))


@dataclasses.dataclass
class Data:
  """Windows for training and evaluation, and how to batch them."""

  converter: Any
  spec: TokenSpec
  train: cache.WindowSet
  eval: cache.WindowSet
  train_dir: str
  eval_dir: str

  @property
  def train_windows(self) -> np.ndarray:
    return self.train.windows             # int16 [N, T, K]

  @property
  def eval_windows(self) -> np.ndarray:
    return self.eval.windows              # int16 [M, T, K]

  @property
  def part_names(self) -> tuple[str, ...]:
    return PART_NAMES.get(self.converter_encoding, ('part',))

  @property
  def converter_encoding(self) -> str:
    return self.converter.encoding

  def train_batches(self, config: ml_collections.ConfigDict,
                    process_index: int = 0,
                    process_count: int = 1) -> 'pipeline.TrainBatches':
    return pipeline.TrainBatches(
        self.train, self.converter, batch_size=config.batch_size,
        seed=config.seed, max_transpose=config.max_transpose,
        max_windows=config.max_windows_per_sequence,
        process_index=process_index, process_count=process_count,
        prefetch=config.prefetch_batches)

  def eval_batches(self, config: ml_collections.ConfigDict) -> Iterator[dict]:
    batches = pipeline.eval_batches(self.eval, config.batch_size,
                                    config.max_windows_per_sequence,
                                    self.converter)
    limit = config.eval_batches or None
    for i, batch in enumerate(batches):
      if limit is not None and i >= limit:
        return
      yield batch


def _dirs(config: ml_collections.ConfigDict) -> tuple[str, str]:
  """(train_dir, eval_dir); the built-in folk corpus when train_dir is empty."""
  if config.train_dir:
    return config.train_dir, config.eval_dir
  from musicvae_jax.data import folk_corpus
  train_dir, eval_dir = folk_corpus.default_corpus_dirs(
      cache_dir=str(default_cache_dir(config)), num_workers=config.num_workers)
  logging.info('no train_dir given: using the built-in folk corpus in %s',
               train_dir)
  return str(train_dir), config.eval_dir or str(eval_dir)


def folder_windows(folder: str | Path, config: ml_collections.ConfigDict,
                   converter, cache_root: str | Path | None = None,
                   progress: bool = True) -> cache.WindowSet:
  """The windows of one folder for `converter` (converted once, then read
  from the cache under `cache_root`, default `<cache_dir>/windows`)."""
  root = Path(cache_root) if cache_root else default_cache_dir(config) / 'windows'
  return cache.load_or_build_windows(
      folder, root, converter, num_workers=config.num_workers,
      fast=bool(config.get('fast_midi', False)), progress=progress)


def load(config: ml_collections.ConfigDict, converter) -> Data:
  """Converts (or reads from the cache) the train and eval windows with the
  family's `converter` (`family.build(config).converter`)."""
  train_dir, eval_dir = _dirs(config)
  train = folder_windows(train_dir, config, converter)
  if eval_dir:
    evals = folder_windows(eval_dir, config, converter)
  else:
    train, evals = pipeline.split_by_file(train, config.eval_fraction,
                                          config.seed)
  return Data(converter, token_spec(converter), train, evals, train_dir,
              eval_dir)
