"""NoteSequence -> standard MIDI file (`write_midi`)."""

from __future__ import annotations

from pathlib import Path

import note_seq

from musicvae_jax.render.common import _copy, _part_styles, _parts, Part

# Ticks per quarter note when the sequence does not say: fine enough that a
# round trip moves no time by more than 0.5 ms at tempos of 60 qpm and above.
MIDI_TICKS_PER_QUARTER = 960


def write_midi(ns, path: str | Path) -> None:
  """Writes `ns` as a standard MIDI file at `path`.

  Drum notes (`is_drum`) go to MIDI channel 10 (pretty_midi reads them back
  with `is_drum=True`); every other note keeps its `program`; chord symbols
  (CHORD_SYMBOL annotations) are written as text events. Times before 0
  are written at 0 and every note lasts at least one MIDI tick. `ns` is not
  modified.
  """
  ns = _copy(ns)
  ns.ticks_per_quarter = ns.ticks_per_quarter or MIDI_TICKS_PER_QUARTER
  _name_instruments(ns)
  _clip_midi_times(ns)
  chords = [(a.time, a.text) for a in ns.text_annotations
            if a.annotation_type == note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL]
  if not chords:
    note_seq.sequence_proto_to_midi_file(ns, str(path))
    return
  # Chord symbols (chord models) become MIDI text events, which note-seq drops.
  import pretty_midi
  midi = note_seq.note_sequence_to_pretty_midi(ns)
  midi.text_events.extend(pretty_midi.Text(text, time) for time, text in chords)
  with open(path, 'wb') as f:
    midi.write(f)


def _unnamed_instruments(ns) -> list[Part]:
  named = {info.instrument for info in ns.instrument_infos if info.name}
  return [p for p in _parts(ns.notes) if p.instrument not in named]


def _name_instruments(ns) -> None:
  """Names every unnamed track by its role and General MIDI instrument:
  'melody: Acoustic Grand Piano', 'bass: Electric Bass (finger)', 'drums'
  (in place; shown by DAWs as the track name)."""
  import pretty_midi
  styles, done = _part_styles(_parts(ns.notes)), set()
  for part in _unnamed_instruments(ns):
    if part.instrument in done:
      continue
    done.add(part.instrument)
    role = styles[part][0]
    name = role if part.is_drum else (
        f'{role}: {pretty_midi.program_to_instrument_name(part.program)}')
    ns.instrument_infos.add(instrument=part.instrument, name=name)


def _clip_midi_times(ns) -> None:
  """Moves every time before 0 to 0 and lengthens notes shorter than one tick
  to one tick (in place).

  GrooVAE's micro-timing starts an early first hit a few ms before 0. A note
  whose on and off fall on the same tick is written off-then-on, so players
  (FluidSynth, DAWs) hold it to the end of the file.
  """
  slowest = min([t.qpm for t in ns.tempos if t.qpm > 0] + [120.0])
  tick = 60.0 / (slowest * ns.ticks_per_quarter)   # longest tick, seconds
  for note in ns.notes:
    note.start_time = max(note.start_time, 0.0)
    note.end_time = max(note.end_time, note.start_time + tick)
  for events in (ns.tempos, ns.time_signatures, ns.key_signatures,
                 ns.text_annotations, ns.control_changes, ns.pitch_bends):
    for event in events:
      event.time = max(event.time, 0.0)
