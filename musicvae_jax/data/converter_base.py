"""What every converter declares (NoteSequence -> windows, and back).

A converter subclasses `Converter` and sets what differs from these defaults,
so the cache, the batch pipeline and the model read declarations rather than
probe for attributes. A family's converter is made by its `make_converter`
(family.py); it must pickle (cache workers receive it).
"""

from __future__ import annotations

import numpy as np

from musicvae_jax import meters


class Converter:
  """Declarations shared by every converter (class attributes; a converter
  may set some per instance, e.g. its control depths)."""

  encoding: str = ''
  # Classes of each token part; windows are `[n, T, K (+ C)]`.
  part_depths: tuple[int, ...] = ()
  # Per part: None for one-hot, or a key of models.inputs.INPUT_TABLES.
  input_tables: tuple[str | None, ...] | None = None
  # Every part is one bit (0 / 1; part_depths 2): the model reads the bit's
  # value (an input of width 1) and writes one logit per part, a Bernoulli
  # (magenta.js' BooleanDecoder). False: one softmax per part.
  bits = False
  # Classes of each control column after the parts (chords); () = none.
  control_depths: tuple[int, ...] = ()
  # dtype of the cached windows (token ids; GrooVAE: float features).
  window_dtype = np.int16
  # Keep repeated windows (Magenta's multitrack converter does).
  keep_duplicates = False
  # Needs what only note_seq's MIDI reader keeps (sustain pedal): no fast path.
  note_seq_reader_only = False
  # Offers `fast_windows(NoteArrays)` (the fast MIDI path, data/fast_melody.py).
  reads_note_arrays = False
  # Builds its own batch keys: `make_batch(windows, weights, row_seeds)`.
  makes_batches = False
  # The meter its windows are bars of ('4/4', '3/4', ... meters.py); '' for
  # a converter that takes no meter setting (it reports no skipped meters).
  meter: str = ''

  def skipped_meters(self, signatures) -> dict[str, int]:
    """Stretches of a sequence in meters this converter does not read:
    {'3/4': 2}. `signatures` = (times, numerators, denominators, total
    time) of its time signatures (`time_signatures_of`)."""
    if not self.meter:
      return {}
    return meters.skipped_meters(self.meter, *signatures)

  def default_controls(self, num_steps: int) -> np.ndarray:
    """Controls `[num_steps, C]` when a caller gives none: class 0 in every
    column ("no chord"); converters whose neutral control is another class
    say so by overriding this."""
    return np.zeros((num_steps, len(self.control_depths)), np.int16)


def time_signatures_of(ns) -> tuple[list, list, list, float]:
  """(times, numerators, denominators, total time) of a NoteSequence's time
  signatures, the argument of `Converter.skipped_meters`."""
  signatures = list(ns.time_signatures)
  return ([t.time for t in signatures], [t.numerator for t in signatures],
          [t.denominator for t in signatures], ns.total_time)
