"""A trained GrooVAE, ready for drummers: humanize, drumify, sample, interpolate.

    model = TrainedModel.from_workdir('runs/groove')   # a GrooveTrainedModel
    performance = model.humanize(beat_ns, temperature=0.3)
    kit = model.drumify(tapped_or_melodic_ns)

Windows are Magenta's 27-vectors (families/groove/data.py). Encoding and decoding use
the converter in Magenta's inference mode (the reduced drum map, which knows
every General MIDI drum pitch). A longer input is cut into consecutive
`slice_bars` windows (empty bars kept, so the output lines up with the input)
and the decoded windows are joined again, at the input's tempo, so the MIDI
keeps each hit's velocity and micro-timing. An input with tempo or time
signature changes is read piece by piece (4/4 pieces only); its windows are
joined end to end at the first tempo.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from note_seq.protobuf import music_pb2

from musicvae_jax import batch_buckets
from musicvae_jax.data.errors import BadInputError
from musicvae_jax.families.groove import data as groove
from musicvae_jax.trained_model import ExtractionError, TrainedModel, slerp

TAP_PITCH = 46   # any mapped pitch: tapify collapses every hit onto one channel


def _name(ns) -> str:
  return getattr(ns, 'filename', '') or 'the input'


def _qpm(ns) -> float:
  return float(ns.tempos[0].qpm) if len(ns.tempos) else 120.0


def tap_sequence(ns: music_pb2.NoteSequence) -> music_pb2.NoteSequence:
  """Any rhythm -> one drum voice: every note onset (any instrument, drum or
  pitched) becomes a hit of `TAP_PITCH` with its velocity and exact time."""
  out = music_pb2.NoteSequence()
  out.CopyFrom(ns)
  del out.notes[:]
  for note in ns.notes:
    hit = out.notes.add()
    hit.CopyFrom(note)
    hit.pitch, hit.is_drum, hit.instrument, hit.program = TAP_PITCH, True, 9, 0
    hit.end_time = max(note.end_time, note.start_time + 0.01)
  return out


def join_windows(sequences: Sequence[music_pb2.NoteSequence], window_seconds: float,
                 qpm: float) -> music_pb2.NoteSequence:
  """Consecutive windows -> one performance; a hit played before time 0 (an
  early first step) starts at 0."""
  out = music_pb2.NoteSequence()
  out.tempos.add(qpm=qpm)
  out.time_signatures.add(numerator=4, denominator=4)
  out.ticks_per_quarter = 220
  for i, ns in enumerate(sequences):
    for note in ns.notes:
      new = out.notes.add()
      new.CopyFrom(note)
      shift = i * window_seconds
      length = note.end_time - note.start_time
      new.start_time = max(0.0, note.start_time + shift)
      new.end_time = new.start_time + length
  out.total_time = max([n.end_time for n in out.notes], default=0.0)
  return out


class GrooveTrainedModel(TrainedModel):
  """`TrainedModel` for `output_family='groove'` configs (float windows)."""

  def __init__(self, config: ml_collections.ConfigDict, params, max_batch: int = 256,
               weights: str = 'float32', buckets: Sequence[int] | None = None):
    super().__init__(config, params, max_batch, weights, buckets)
    model = self.model
    self._encode_fn = jax.jit(lambda p, x, lengths, controls: model.apply(
        {'params': p}, x, lengths, controls, method='encode'))
    self._sample_fn = jax.jit(
        lambda p, z, key, temperature, num_steps, controls: model.apply(
            {'params': p}, z, temperature, num_steps, controls,
            rngs={'sample': key}, method='sample'),
        static_argnums=4)
    self._logits_fn = jax.jit(lambda p, z, targets, controls: model.apply(
        {'params': p}, z, targets, controls, method='decode'))

  def _make_converter(self, config):
    """Magenta's inference mode: the reduced drum map (every GM drum pitch)."""
    return groove.converter_from_config(config).for_inference()

  @property
  def window_seconds_at(self):
    return lambda qpm: self.seq_len * 60.0 / qpm / self.converter.steps_per_quarter

  # -- arrays ----------------------------------------------------------------
  def _controls(self, n: int, controls) -> np.ndarray | None:
    if not self.converter.control_depth:
      return None
    if controls is None:
      return np.zeros((n, self.seq_len, self.converter.control_depth), np.float32)
    return np.asarray(controls, np.float32)

  def example_inputs(self, rows: int) -> np.ndarray:
    """Zero encoder inputs `[rows, T, input depth]` (float32)."""
    return np.zeros((rows, self.seq_len, self.converter.input_depth), np.float32)

  def encode_tensors(self, inputs: np.ndarray, lengths: np.ndarray | None = None,
                     controls: np.ndarray | None = None):
    """(z, mu, sigma) `[B, Z]` for encoder inputs `[B, T, 27]` (already
    transformed: see `batch_for`)."""
    inputs = np.asarray(inputs, np.float32)
    return self._encode_chunked(inputs, lengths,
                                self._controls(len(inputs), controls))

  def decode_to_tensors(self, z: np.ndarray, *, length: int | None = None,
                        temperature: float = 1.0, seed: int = 0,
                        controls: np.ndarray | None = None) -> np.ndarray:
    """Free-running decode: `[B, T, 27]` (hits 0/1, velocities, offsets)."""
    z = np.asarray(z, np.float32)
    steps_ = None if length is None or length == self.seq_len else int(length)
    controls = self._controls(len(z), controls)
    key = jax.random.key(seed)
    out = []
    for i, (start, stop, size) in enumerate(self._chunks(len(z))):  # as TrainedModel's
      chunk = batch_buckets.pad_rows(z[start:stop], size)
      c = None if controls is None else batch_buckets.pad_rows(controls[start:stop], size)
      samples, _ = self._sample_fn(self.inference_params, chunk, jax.random.fold_in(key, i),
                                   jnp.float32(temperature), steps_, c)
      out.append(np.asarray(samples)[:stop - start])
    return (np.concatenate(out) if out
            else np.zeros((0, self.seq_len, self.converter.output_depth), np.float32))

  def teacher_forced_logits(self, z: np.ndarray, targets: np.ndarray,
                            controls: np.ndarray | None = None) -> np.ndarray:
    """Raw decoder outputs `[B, T, 27]` given targets."""
    targets = np.asarray(targets, np.float32)
    return np.asarray(self._logits_fn(self.inference_params, np.asarray(z, np.float32), targets,
                                      self._controls(len(targets), controls)))

  # -- NoteSequences -----------------------------------------------------------
  def windows(self, note_sequences: Sequence, on_multiple: str = 'all',
              ) -> tuple[np.ndarray, list[int]]:
    """Consecutive target windows `[N, T, 27]` of the sequences (every
    window, empty bars included, so they can be joined back) and their source."""
    if on_multiple not in ('error', 'first', 'all'):
      raise ValueError(f"on_multiple={on_multiple!r}: use 'error', 'first' or 'all'")
    out, source = [], []
    for i, ns in enumerate(note_sequences):
      try:
        found = self.converter.all_windows(ns)
      except BadInputError as error:
        raise ExtractionError(f'{_name(ns)}: {error}') from None
      if len(found) == 0:
        raise ExtractionError(
            f'{_name(ns)}: no {self.config.slice_bars}-bar 4/4 drum window '
            '(GrooVAE reads 4/4 only, as Magenta; see docs/models.md, "GrooVAE")')
      if len(found) > 1 and on_multiple == 'error':
        raise ExtractionError(f'{_name(ns)} gave {len(found)} windows; pass '
                              'on_multiple="first" or "all"')
      if on_multiple == 'first':
        found = found[:1]
      out.append(found)
      source.extend([i] * len(found))
    return np.concatenate(out), source

  def batch_for(self, targets: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The config's encoder inputs (and controls) for target windows."""
    return self.converter.make_batch(targets, row_seeds=[(seed, i) for i in range(len(targets))])

  def encode_windows(self, windows: np.ndarray, seed: int = 0):
    """(z, mu, sigma) for target windows `[N, T, 27]`: the encoder reads
    them through the config's input transformations (humanize, tapify, ...)."""
    batch = self.batch_for(np.asarray(windows), seed)
    return self.encode_tensors(batch['inputs'], controls=batch.get('controls'))

  def encode(self, note_sequences: Sequence, on_multiple: str = 'first'):
    windows, _ = self.windows(note_sequences, on_multiple)
    return self.encode_windows(windows)

  def decode(self, z: np.ndarray, *, length: int | None = None,
             temperature: float = 1.0, seed: int = 0, qpm: float = 120.0,
             controls: np.ndarray | None = None, chords=None,
             accompaniment: bool = False) -> list:
    """`TrainedModel.decode`'s call (so `sample` serves both); GrooVAE has no
    chord controls."""
    if chords is not None or accompaniment:
      raise ValueError('chords / accompaniment: this GrooVAE run has no chord '
                       'controls (use a chord config)')
    tensors = self.decode_to_tensors(z, length=length, temperature=temperature,
                                     seed=seed, controls=controls)
    return [self.converter.to_note_sequence(t, qpm=qpm) for t in tensors]

  def interpolate(self, start_sequence, end_sequence, num_steps: int = 5, *,
                  length: int | None = None, temperature: float = 1.0,
                  seed: int = 0, on_multiple: str = 'first',
                  qpm: float | None = None) -> list:
    if num_steps < 2:
      raise ValueError(f'num_steps={num_steps}: an interpolation needs >= 2')
    _, mu, _ = self.encode([start_sequence, end_sequence], on_multiple)
    z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0, 1, num_steps)])
    return self.decode(z, length=length, temperature=temperature, seed=seed,
                       qpm=_qpm(start_sequence) if qpm is None else qpm)

  def reconstruct(self, note_sequences: Sequence, *, temperature: float = 1.0,
                  seed: int = 0, on_multiple: str = 'first',
                  qpm: float | None = None) -> list:
    _, mu, _ = self.encode(note_sequences, on_multiple)
    return self.decode(mu, temperature=temperature, seed=seed,
                       qpm=_qpm(note_sequences[0]) if qpm is None else qpm)

  def perform(self, ns: music_pb2.NoteSequence, temperature: float = 0.5,
              seed: int = 0) -> music_pb2.NoteSequence:
    """Every window of `ns` through the model (encoder input by the config's
    transformations, z = mu, decoded at `temperature`), joined at the input's
    tempo."""
    windows, _ = self.windows([ns], 'all')
    batch = self.batch_for(windows, seed)
    _, mu, _ = self.encode_tensors(batch['inputs'], controls=batch.get('controls'))
    out = self.decode_to_tensors(mu, temperature=temperature, seed=seed,
                                 controls=batch.get('controls'))
    qpm = _qpm(ns)
    seconds = self.window_seconds_at(qpm)
    return join_windows([self.converter.to_note_sequence(w, qpm=qpm) for w in out],
                        seconds, qpm)

  def humanize(self, ns: music_pb2.NoteSequence, temperature: float = 0.5,
               seed: int = 0) -> music_pb2.NoteSequence:
    """Quantized drums in, expressive performance (velocities, micro-timing) out."""
    return self.perform(ns, temperature, seed)

  def drumify(self, ns: music_pb2.NoteSequence, temperature: float = 0.5,
              seed: int = 0) -> music_pb2.NoteSequence:
    """Any rhythm in (tapped, drums, or a melody: every onset counts), a full
    kit out. Meant for a tapify model (groovae_2bar_tap_fixed_velocity)."""
    tapped = tap_sequence(ns)
    tapped.filename = _name(ns)
    return self.perform(tapped, temperature, seed)

