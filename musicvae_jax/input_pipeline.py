"""From config to training and eval batches: the bridge between the data
package (files -> cached windows, no JAX) and the trainer."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import ml_collections
import numpy as np
from absl import logging

from musicvae_jax import paths
from musicvae_jax.data import cache, pipeline, record_cache
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
                   tuple(converter.control_depths), bool(converter.bits))


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
    return part_names(self.converter)

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
    return eval_batches(self.eval, config, self.converter)


def part_names(converter) -> tuple[str, ...]:
  """Names of a converter's token parts (metrics per part)."""
  return PART_NAMES.get(converter.encoding, ('part',))


def eval_batches(windows: cache.WindowSet, config: ml_collections.ConfigDict,
                 converter) -> Iterator[dict]:
  """Fixed-shape eval batches of `windows`, at most `config.eval_batches`
  (0: all)."""
  batches = pipeline.eval_batches(windows, config.batch_size,
                                  config.max_windows_per_sequence, converter)
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
  meter = config.get('meter', '4/4')
  train_dir, eval_dir = folk_corpus.default_corpus_dirs(
      cache_dir=str(default_cache_dir(config)), num_workers=config.num_workers,
      meter=meter)
  logging.info('no train_dir given: using the built-in folk corpus (%s tunes) in %s',
               meter, train_dir)
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


def record_windows(spec: str, config: ml_collections.ConfigDict, converter,
                   progress: bool = True) -> cache.WindowSet:
  """The windows of TFRecord file(s) of NoteSequences (`spec`: a path, glob
  or comma list), cached under `<cache_dir>/records` by content."""
  root = default_cache_dir(config) / 'records'
  return record_cache.load_or_build_windows(
      spec, root, converter, num_workers=config.num_workers, progress=progress)


class Source(NamedTuple):
  """Where windows come from: TFRecord(s) of NoteSequences or a folder."""

  kind: str          # 'records' or 'folder'
  path: str          # a TFRecord spec (path, glob, comma list) or a folder

  def windows(self, config: ml_collections.ConfigDict, converter) -> cache.WindowSet:
    if self.kind == 'records':
      return record_windows(self.path, config, converter)
    return folder_windows(self.path, config, converter)


def train_source(config: ml_collections.ConfigDict) -> Source:
  """`train_examples_path`, else `train_dir`, else the built-in folk corpus
  (converted on first use)."""
  if config.train_examples_path:
    return Source('records', config.train_examples_path)
  return Source('folder', _dirs(config)[0])


def eval_source(config: ml_collections.ConfigDict) -> Source | None:
  """`eval_examples_path`, else `eval_dir`, else None: a held-out share of
  the training data (with the folk corpus: its own eval folder)."""
  if config.eval_examples_path:
    return Source('records', config.eval_examples_path)
  if config.eval_dir:
    return Source('folder', config.eval_dir)
  if config.train_examples_path or config.train_dir:
    return None
  return Source('folder', _dirs(config)[1])


def eval_set(config: ml_collections.ConfigDict, converter) -> cache.WindowSet:
  """The eval windows of `load`, reading the training data only where eval
  is its held-out share."""
  source = eval_source(config)
  if source is not None:
    return source.windows(config, converter)
  train = train_source(config).windows(config, converter)
  return pipeline.split_by_file(train, config.eval_fraction, config.seed)[1]


def load(config: ml_collections.ConfigDict, converter) -> Data:
  """Converts (or reads from the cache) the train and eval windows with the
  family's `converter` (`family.build(config).converter`).

  Training data: `train_examples_path` (TFRecords of NoteSequences) if set,
  else `train_dir` (else the built-in folk corpus). Eval data:
  `eval_examples_path`, else `eval_dir`, else a held-out `eval_fraction` of
  the training files (NoteSequences).
  """
  train_from, eval_from = train_source(config), eval_source(config)
  train = train_from.windows(config, converter)
  if eval_from is not None:
    evals = eval_from.windows(config, converter)
  else:
    train, evals = pipeline.split_by_file(train, config.eval_fraction,
                                          config.seed)
  return Data(converter, token_spec(converter), train, evals, train_from.path,
              eval_from.path if eval_from else '')
