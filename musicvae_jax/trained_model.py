"""Use a trained MusicVAE: encode, decode, sample, interpolate, reconstruct.

    model = TrainedModel.from_workdir('runs/hier')
    model = TrainedModel.from_pretrained('NAME')             # shipped (musicvae_jax.pretrained)
    melodies = model.sample(4, temperature=0.5, seed=0)      # NoteSequences
    melodies = model.decode(z, length=32, temperature=0.5)   # keywords only
    z, mu, sigma = model.encode([ns_a, ns_b])
    steps = model.interpolate(ns_a, ns_b, num_steps=7)

Array-level methods mirror Magenta's TrainedModel: `encode_tensors`,
`decode_to_tensors`. Chord-conditioned models (`config.controls`) take
`controls` (int chord classes `[T, 1]` shared by the batch as in Magenta, or
`[B, T, 1]`; one-hots work too) or, at the NoteSequence level, `chords`
('C G Am F': one chord per bar, or one per step); without them every step
gets "no chord", and interpolations / reconstructions use the input's own
inferred chords. Every computation is jit-compiled once per batch-size
bucket (`buckets`: by default the powers of two up to `max_batch`; rows are
padded to the bucket and the outputs sliced, `batch_buckets.py`), so any
batch size reuses one of a few compiled shapes; `buckets=()` turns padding
off (each new size compiles). Padding never changes the real rows' results
(`decode_to_tensors` says how for the sampling noise).

`weights='bfloat16'` or `'int8'` (any constructor: `from_workdir(...,
weights='int8')`) stores the LSTM kernels that encode / decode read in lower
precision (`models/weight_storage.py`; float32 arithmetic); `params` stays
float32 (exports, evaluation). Off (`'float32'`) by default: see
docs/usage.md for its agreement with float32 and its speed.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from musicvae_jax import (batch_buckets, checkpoints, config_base, input_pipeline, pretrained,
                          steps, workdir_lock)
from musicvae_jax import family as family_lib
from musicvae_jax.data import chords as chords_lib
from musicvae_jax.models import weight_storage
from musicvae_jax.pretrained import files as pretrained_files
from musicvae_jax.pretrained import params_codec


class ExtractionError(ValueError):
  """A NoteSequence gave no window, or several where one was expected."""


def slerp(p0: np.ndarray, p1: np.ndarray, t: float) -> np.ndarray:
  """Spherical interpolation between vectors `p0`, `p1` `[Z]` at `t` in [0, 1]."""
  p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
  cos = np.dot(p0 / np.linalg.norm(p0), p1 / np.linalg.norm(p1))
  omega = np.arccos(np.clip(cos, -1.0, 1.0))
  if np.sin(omega) < 1e-6:  # (anti)parallel: fall back to a straight line
    return ((1 - t) * p0 + t * p1).astype(np.float32)
  return ((np.sin((1 - t) * omega) * p0 + np.sin(t * omega) * p1)
          / np.sin(omega)).astype(np.float32)


@functools.partial(jax.jit, static_argnums=0)
def _encode_noise(shape: tuple[int, int]) -> jax.Array:
  """The reparameterisation noise of `encode_tensors`: N(0, 1) `[rows, Z]`
  from key 0, drawn at a bucketed row count and sliced (the first rows of a
  taller draw are the draw itself: threefry is partitionable)."""
  return jax.random.normal(jax.random.key(0), shape)


class TrainedModel:
  """A MusicVAE with its parameters and converter, ready to use."""

  def __init__(self, config: ml_collections.ConfigDict, params,
               max_batch: int = 256, weights: str = 'float32',
               buckets: Sequence[int] | None = None):
    self.config = config
    # Storage of the LSTM kernels the jitted paths read (inference only).
    self.weights = weight_storage.check_format(weights)
    self.family = family_lib.get(config)
    self.converter = self._make_converter(config)
    self.spec = input_pipeline.token_spec(self.converter)
    self.model = self.family.build_model(config, self.spec)
    self.objective = self.family.objective(config, self.spec)
    self.params = params
    self.step = 0          # the checkpoint's step (from_workdir sets it)
    # A shipped model's name and card (from_pretrained sets them); '' and
    # None for a training run.
    self.pretrained = ''
    self.card: dict | None = None
    self.max_batch = int(max_batch)
    # Padded batch sizes (batch_buckets.py); () pads nothing.
    self.buckets = (batch_buckets.ladder(self.max_batch) if buckets is None
                    else batch_buckets.check_sizes(buckets, self.max_batch))
    self.seq_len = config_base.sequence_length(config)
    model = self.model
    self.num_controls = len(self.spec.control_depths)
    # Controls go in only when given, so families whose models take none
    # (NADE) share these functions.
    extra = lambda controls, *before: () if controls is None else (*before, controls)
    self._encode_fn = jax.jit(lambda p, tokens, lengths, controls=None: model.apply(
        {'params': p}, tokens, lengths, *extra(controls), method='encode'))
    self._sample_fn = jax.jit(
        lambda p, z, key, temperature, num_steps, controls=None: model.apply(
            {'params': p}, z, temperature, num_steps, *extra(controls),
            rngs={'sample': key}, method='sample'),
        static_argnums=4)
    self._logits_fn = jax.jit(lambda p, z, tokens, controls=None: model.apply(
        {'params': p}, z, tokens, *extra(controls, None), method='decode_logits'))

  def _make_converter(self, config):
    """The converter for `config` (a family's TrainedModel may override)."""
    return self.family.make_converter(config)

  @property
  def params(self):
    """The float32 parameters as trained (or as loaded)."""
    return self._params

  @params.setter
  def params(self, value):
    self._params = value
    self._inference_params = None

  @property
  def inference_params(self):
    """What encode / decode read: `params` with the LSTM kernels stored as
    `self.weights` (`params` itself for float32); made on first use."""
    if self._inference_params is None and self._params is not None:
      self._inference_params = weight_storage.store_params(self._params, self.weights)
    return self._inference_params

  # -- loading ---------------------------------------------------------------
  @classmethod
  def from_workdir(cls, workdir: str | Path, step: int | None = None,
                   best: bool = False, **kw) -> 'TrainedModel':
    """Loads a run's parameters (latest step, `step`, or the best by eval loss).

    Without an explicit step (argument or a `checkpoints/<step>` path), a
    checkpoint that does not restore is reported and the next older one is
    used; it is moved to `checkpoints/corrupt/` unless a run holds the
    workdir (see `checkpoints.Checkpointer.restore_newest_intact`).
    """
    explicit = step is not None or Path(workdir).name.isdigit()
    workdir, found = checkpoints.resolve_checkpoint(workdir)
    lock = None if explicit else workdir_lock.try_lock(workdir, 'from_workdir')
    try:
      ckpt = checkpoints.Checkpointer(
          workdir, read_only=True, async_save=False, tidy=lock is not None,
          report=functools.partial(print, file=sys.stderr))
      try:
        order = sorted(ckpt.all_steps(), reverse=True)
        if explicit:
          order = [found if step is None else step]
        elif best and ckpt.best_step() is not None:
          order.remove(ckpt.best_step())
          order.insert(0, ckpt.best_step())
        config = checkpoints.load_config(workdir)
        if cls is TrainedModel:  # the family's own class (family.Family)
          cls = family_lib.get(config).trained_model_class()
        instance = cls(config, None, **kw)
        restored = ckpt.restore_newest_intact(instance._abstract_state(), steps=order)
        if restored is None:
          raise checkpoints.CheckpointError(f'no checkpoint in {ckpt.directory}')
        step, state, _ = restored
      finally:
        ckpt.close()
    finally:
      if lock is not None:
        lock.release()
    instance.params = state.params
    instance.step = step
    return instance

  from_checkpoint = from_workdir

  @classmethod
  def from_pretrained(cls, name: str, registry=None, **kw) -> 'TrainedModel':
    """Loads pretrained model `name` (offline; `musicvae_jax.list_pretrained()`
    lists them). `registry`: a folder (or folders) to search instead of
    `$MUSICVAE_PRETRAINED_DIR` and the package's own (musicvae_jax/pretrained).

    Raises `pretrained.PretrainedError` (one line listing the names) for an
    unknown name, and `files.PretrainedFileError` when params.msgpack does
    not match its card's sha256 or its config.
    """
    folder = pretrained.locate(name, registry)
    card = pretrained_files.read_card(folder)
    config = pretrained_files.read_config(folder)
    params = params_codec.unpack(pretrained_files.read_params_bytes(folder, card))
    if cls is TrainedModel:  # the family's own class (family.Family)
      cls = family_lib.get(config).trained_model_class()
    instance = cls(config, None, **kw)
    _check_fits(params, instance._abstract_state().params, folder)
    instance.params = jax.tree.map(jnp.asarray, params)
    instance.step = int(card['training'].get('steps', 0))
    instance.pretrained, instance.card = name, card
    return instance

  def _abstract_state(self):
    example = self.objective.example_batch(self.config, 1)
    return jax.eval_shape(functools.partial(
        steps.create_train_state, self.config, self.model, self.objective), example)

  # -- arrays ----------------------------------------------------------------
  def _tokens_from(self, inputs: np.ndarray) -> np.ndarray:
    """Accepts tokens [B, T, K] / [B, T] or one-hots [B, T, sum(depths)]."""
    inputs = np.asarray(inputs)
    if inputs.ndim == 2:
      return inputs[..., None].astype(np.int32)
    if np.issubdtype(inputs.dtype, np.integer) and inputs.shape[-1] == self.spec.num_parts:
      return inputs.astype(np.int32)
    if inputs.shape[-1] != self.spec.output_depth:
      raise ValueError(f'inputs of depth {inputs.shape[-1]}: expected tokens '
                       f'[B, T, {self.spec.num_parts}] or one-hots '
                       f'[B, T, {self.spec.output_depth}]')
    parts, start = [], 0
    for depth in self.spec.part_depths:
      parts.append(np.argmax(inputs[..., start:start + depth], axis=-1))
      start += depth
    return np.stack(parts, -1).astype(np.int32)

  def split_windows(self, windows: np.ndarray):
    """Converter windows `[N, T, K + C]` -> (tokens `[N, T, K]`, controls
    `[N, T, C]` or None)."""
    windows = np.asarray(windows)
    if not self.num_controls:
      return windows, None
    return windows[..., :-self.num_controls], windows[..., -self.num_controls:]

  def _controls_from(self, controls, batch: int, steps: int) -> np.ndarray | None:
    """Controls for a batch: int `[B, T, C]` (from `[T]`, `[T, C]`, `[B, T, C]`
    or one-hots); the converter's `default_controls` when None. None for a
    model without controls (and an error if some were given)."""
    if not self.num_controls:
      if controls is not None:
        raise ValueError(f'this model takes no controls (config.controls='
                         f'{self.config.get("controls", "")!r}): it is not chord-conditioned')
      return None
    if controls is None:   # the converter's neutral controls (no chord, ...)
      neutral = np.asarray(self.converter.default_controls(steps), np.int32)
      return np.ascontiguousarray(np.broadcast_to(neutral[None], (batch,) + neutral.shape))
    controls = np.asarray(controls)
    width = sum(self.spec.control_depths)
    if controls.ndim >= 2 and controls.shape[-1] == width != self.num_controls:
      parts, start = [], 0
      for depth in self.spec.control_depths:
        parts.append(np.argmax(controls[..., start:start + depth], axis=-1))
        start += depth
      controls = np.stack(parts, -1)
    if controls.ndim == 1:
      controls = controls[:, None]
    if controls.ndim == 2:
      controls = np.broadcast_to(controls[None], (batch,) + controls.shape)
    if controls.shape[0] != batch:
      raise ValueError(f'controls for {controls.shape[0]} examples, {batch} given')
    return np.asarray(controls, np.int32)

  def chord_controls(self, chords, num_steps: int | None = None) -> np.ndarray:
    """'C G Am F' (one chord per bar, or exactly one per step) -> int `[T, 1]`.

    Raises ValueError with one line for an unknown symbol or a model that is
    not chord-conditioned.
    """
    if self.config.get('controls', '') != 'triad_chords':
      raise ValueError(f'--chords needs a chord-conditioned model; this one has '
                       f'config.controls={self.config.get("controls", "")!r}')
    if self.config.encoding == 'multiperf':   # multitrack: per event, not per step
      return self.converter.chord_controls(chords)
    steps = chords_lib.parse_chords(chords, num_steps or self.seq_len,
                                    config_base.steps_per_bar(self.config))
    if self.config.use_hier and len(steps) != self.seq_len:
      raise ValueError(f'a hierarchical model takes chords for exactly '
                       f'{self.config.slice_bars} bars, not {len(steps) // 16}')
    return steps[:, None].astype(np.int32)

  def _chunks(self, n: int) -> list[tuple[int, int, int]]:
    """`(start, stop, padded size)` of each chunk of `n` rows (batch_buckets.plan)."""
    return batch_buckets.plan(n, self.max_batch, self.buckets)

  def compiled_batch_sizes(self, rows: int) -> tuple[int, ...]:
    """The padded batch sizes that calls of 1..`rows` rows compile (what a
    server warms ahead so that no call compiles)."""
    return batch_buckets.shapes_up_to(rows, self.buckets, self.max_batch)

  def example_inputs(self, rows: int) -> np.ndarray:
    """Zero encoder inputs `[rows, T, K]` in the form `encode_tensors` takes
    (what warming up the encoder compiles with)."""
    return np.zeros((rows, self.seq_len, self.spec.num_parts), np.int32)

  def encode_tensors(self, inputs: np.ndarray, lengths: np.ndarray | None = None,
                     controls: np.ndarray | None = None):
    """(z, mu, sigma) `[B, Z]` for windows `inputs` (tokens or one-hots).

    z is drawn with a fixed key per call position, so it is reproducible.
    For a model with controls, `inputs` may be converter windows (tokens and
    control columns), or `controls` are given separately.
    """
    inputs = np.asarray(inputs)
    if (self.num_controls and controls is None and inputs.ndim == 3
        and np.issubdtype(inputs.dtype, np.integer)
        and inputs.shape[-1] == self.spec.num_parts + self.num_controls):
      inputs, controls = self.split_windows(inputs)
    tokens = self._tokens_from(inputs)
    n = len(tokens)
    controls = self._controls_from(controls, n, tokens.shape[1])
    return self._encode_chunked(tokens, lengths, controls)

  def encode_windows(self, windows: np.ndarray):
    """(z, mu, sigma) for converter windows `[N, T, ...]` as the data pipeline
    writes them (a family whose encoder reads transformed inputs overrides
    this)."""
    return self.encode_tensors(windows)

  def _encode_chunked(self, inputs: np.ndarray, lengths: np.ndarray | None,
                      controls: np.ndarray | None):
    """`_encode_fn` over `inputs [B, T, ...]` in padded chunks of at most
    `max_batch` (few compiled shapes) -> (z, mu, sigma) `[B, Z]`; z uses a
    fixed key, so it is reproducible. Shared by every family's TrainedModel."""
    n = len(inputs)
    lengths = (np.full((n,), inputs.shape[1], np.int32) if lengths is None
               else np.asarray(lengths, np.int32))
    mus, sigmas = [], []
    for start, stop, size in self._chunks(n):
      x = batch_buckets.pad_rows(inputs[start:stop], size)
      l = np.concatenate([lengths[start:stop],
                          np.full((size - (stop - start),), inputs.shape[1], np.int32)])
      c = None if controls is None else batch_buckets.pad_rows(controls[start:stop], size)
      mu, sigma = self._encode_fn(self.inference_params, x, l, c)
      mus.append(np.asarray(mu)[:stop - start])
      sigmas.append(np.asarray(sigma)[:stop - start])
    mu = np.concatenate(mus) if mus else np.zeros((0, self.config.z_size), np.float32)
    sigma = np.concatenate(sigmas) if sigmas else np.zeros_like(mu)
    # One draw over all rows, as before bucketing; its height bucketed too.
    rows = sum(size for _, _, size in self._chunks(n))
    eps = np.asarray(_encode_noise((rows, mu.shape[1])))[:n]
    return mu + sigma * eps, mu, sigma

  def decode_to_tensors(self, z: np.ndarray, *, length: int | None = None,
                        temperature: float = 1.0, seed: int = 0,
                        controls: np.ndarray | None = None) -> np.ndarray:
    """Free-running decode: int tokens `[B, T, K]` for latents `z [B, Z]`.

    Tuning arguments are keyword-only, in Magenta's order and with its
    defaults (`length=None`: the config's length; `temperature=1.0`).
    Chord models: step t reads control t of `controls` (`[T, C]` for the
    whole batch, as Magenta's `c_input`, or `[B, T, C]`); their length sets
    T when `length` is None.

    Sampling noise: chunk i (rows `i * max_batch` on) samples with key
    `fold_in(key(seed), i)`; inside a chunk every random draw has the batch
    as its leading axis (`[B, ...]` per step), and threefry being
    partitionable (jax's default), the first rows of a taller draw are
    exactly the shorter draw. So padding a chunk to its bucket leaves the
    real rows' noise, hence their tokens, as they are unpadded
    (tests/test_batch_buckets.py); `max_batch` still matters.
    """
    z = np.asarray(z, np.float32)
    if self.num_controls and controls is not None and length is None:
      length = np.asarray(controls).shape[-2]
    steps_ = None if length is None or length == self.seq_len else int(length)
    controls = self._controls_from(controls, len(z), length or self.seq_len)
    key = jax.random.key(seed)
    out = []
    for i, (start, stop, size) in enumerate(self._chunks(len(z))):
      chunk = batch_buckets.pad_rows(z[start:stop], size)
      c = None if controls is None else batch_buckets.pad_rows(controls[start:stop], size)
      tokens, _ = self._sample_fn(self.inference_params, chunk, jax.random.fold_in(key, i),
                                  jnp.float32(temperature), steps_, c)
      out.append(np.asarray(tokens)[:stop - start])
    return np.concatenate(out) if out else np.zeros((0, self.seq_len, self.spec.num_parts), np.int32)

  def teacher_forced_logits(self, z: np.ndarray, inputs: np.ndarray,
                            controls: np.ndarray | None = None) -> np.ndarray:
    """Decoder logits `[B, T, V]` given targets (no sampling)."""
    tokens = self._tokens_from(inputs)
    controls = self._controls_from(controls, len(tokens), tokens.shape[1])
    return np.asarray(self._logits_fn(self.inference_params, np.asarray(z, np.float32),
                                      tokens, controls))

  # -- NoteSequences -----------------------------------------------------------
  def windows(self, note_sequences: Sequence, on_multiple: str = 'error',
              ) -> tuple[np.ndarray, list[int]]:
    """Windows `[N, T, K]` of the sequences and, per window, its source index.

    Args:
      on_multiple: when a sequence yields several windows: 'error' (Magenta's
        behaviour), 'first' (keep its first window) or 'all'.
    """
    if on_multiple not in ('error', 'first', 'all'):
      raise ValueError(f"on_multiple={on_multiple!r}: use 'error', 'first' or 'all'")
    out, source = [], []
    for i, ns in enumerate(note_sequences):
      found = self.converter.to_windows(ns)
      if len(found) == 0:
        raise ExtractionError(
            f'sequence {i} ({_describe(ns)}) gave no {self.config.slice_bars}-bar '
            f'{self.config.encoding} window: it needs '
            f'{self.config.get("meter", "4/4")} time and notes the '
            'converter keeps (see docs/models.md, "Data").')
      if len(found) > 1 and on_multiple == 'error':
        raise ExtractionError(
            f'sequence {i} ({_describe(ns)}) gave {len(found)} windows of '
            f'{self.config.slice_bars} bars; pass on_multiple="first" or "all".')
      if on_multiple != 'all':
        found = found[:1]
      out.append(np.asarray(found))
      source.extend([i] * len(found))
    return np.concatenate(out).astype(np.int32), source

  def encode(self, note_sequences: Sequence, on_multiple: str = 'error'):
    """(z, mu, sigma) `[N, Z]`, one row per extracted window (with its own
    chords for a chord model)."""
    windows, _ = self.windows(note_sequences, on_multiple)
    return self.encode_tensors(windows)

  # Magenta's TrainedModel takes `decode(z, length=None, temperature=1.0)`;
  # here every tuning argument is keyword-only (same order and defaults), so
  # `decode(mu, 32)` is a TypeError rather than a silent temperature of 32.
  def decode(self, z: np.ndarray, *, length: int | None = None,
             temperature: float = 1.0, seed: int = 0, qpm: float = 120.0,
             chords=None, controls: np.ndarray | None = None,
             accompaniment: bool = False) -> list:
    """NoteSequences decoded from `z [N, Z]`, at `qpm` quarter notes a minute;
    a chord model's outputs carry the chords as CHORD_SYMBOL annotations (and,
    with `accompaniment`, as block chords on a second instrument)."""
    if chords is not None:
      controls = self.chord_controls(chords)
    tokens = self.decode_to_tensors(z, length=length, temperature=temperature,
                                    seed=seed, controls=controls)
    if not self.num_controls:
      return [self.converter.to_note_sequence(t, qpm=qpm) for t in tokens]
    controls = self._controls_from(controls, len(tokens), tokens.shape[1])
    return [self.converter.to_note_sequence(t, qpm=qpm, controls=c,
                                            accompaniment=accompaniment)
            for t, c in zip(tokens, controls)]

  def sample(self, n: int, *, length: int | None = None,
             temperature: float = 1.0, same_z: bool = False, seed: int = 0,
             qpm: float = 120.0, chords=None, accompaniment: bool = False) -> list:
    """`n` NoteSequences decoded from z ~ N(0, I) (one shared z if `same_z`)."""
    rng = np.random.default_rng(seed)
    shape = (1 if same_z else n, self.config.z_size)
    z = rng.standard_normal(shape).astype(np.float32)
    if same_z:
      z = np.repeat(z, n, axis=0)
    return self.decode(z, length=length, temperature=temperature, seed=seed,
                       qpm=qpm, chords=chords, accompaniment=accompaniment)

  def interpolate(self, start_sequence, end_sequence, num_steps: int = 5, *,
                  length: int | None = None, temperature: float = 1.0,
                  seed: int = 0, on_multiple: str = 'first',
                  qpm: float | None = None, chords=None,
                  accompaniment: bool = False) -> list:
    """Decodes `num_steps` points on the great circle between the two mu's
    (endpoints included), at `qpm` (default: the start sequence's tempo). A
    chord model decodes every step over `chords`, or, when None, over the
    chords of `start_sequence`'s window."""
    if num_steps < 2:
      raise ValueError(f'num_steps={num_steps}: an interpolation needs >= 2')
    windows, _ = self.windows([start_sequence, end_sequence], on_multiple)
    _, mu, _ = self.encode_tensors(windows)
    z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0, 1, num_steps)])
    controls = self.split_windows(windows)[1]
    controls = None if controls is None else controls[0]
    qpm = sequence_qpm(start_sequence) if qpm is None else qpm
    return self.decode(z, length=length, temperature=temperature, seed=seed,
                       qpm=qpm, chords=chords, controls=controls,
                       accompaniment=accompaniment)

  def reconstruct(self, note_sequences: Sequence, *, temperature: float = 1.0,
                  seed: int = 0, on_multiple: str = 'first',
                  qpm: float | None = None, accompaniment: bool = False) -> list:
    """Encodes (z = mu) and decodes each sequence's window(s), at `qpm`
    (default: the first sequence's tempo); a chord model decodes over each
    window's own chords."""
    windows, _ = self.windows(note_sequences, on_multiple)
    _, mu, _ = self.encode_tensors(windows)
    qpm = sequence_qpm(note_sequences[0]) if qpm is None else qpm
    return self.decode(mu, temperature=temperature, seed=seed, qpm=qpm,
                       controls=self.split_windows(windows)[1],
                       accompaniment=accompaniment)


def _check_fits(params, abstract, folder: Path) -> None:
  """Raises PretrainedFileError (one line) unless `params` has the paths and
  shapes of `abstract` (the model's parameter tree)."""
  def table(tree):
    return {jax.tree_util.keystr(path): tuple(np.shape(leaf))
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}
  got, want = table(params), table(abstract)
  if got == want:
    return
  diff = sorted(set(got) ^ set(want)) or sorted(k for k in got if got[k] != want[k])
  where = diff[0]
  raise pretrained_files.PretrainedFileError(
      f'{folder / pretrained_files.PARAMS} does not fit its config.json: '
      f'{where} is {got.get(where, "missing")}, the model has {want.get(where, "nothing there")}')


def sequence_qpm(ns, default: float = 120.0) -> float:
  """The first tempo of `ns` in quarter notes per minute (`default` if none)."""
  if ns is not None and ns.tempos and ns.tempos[0].qpm > 0:
    return float(ns.tempos[0].qpm)
  return default


def _describe(ns) -> str:
  name = getattr(ns, 'filename', '') or getattr(ns, 'id', '')
  return f'{name or "unnamed"}, {len(ns.notes)} notes, {ns.total_time:.1f} s'
