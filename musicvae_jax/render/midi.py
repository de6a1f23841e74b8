"""NoteSequence -> standard MIDI file (`write_midi`)."""

from __future__ import annotations

import io
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
  are written at 0 and every note lasts at least one MIDI tick. Every track
  ends (its end-of-track event) at `ns.total_time` when that is later than
  its last event, so a window's trailing rests stay in the file and a DAW
  sees the whole loop (a 2-bar window at 120 qpm is a 4 s file). `ns` is not
  modified.
  """
  import pretty_midi
  ns = _copy(ns)
  ns.ticks_per_quarter = ns.ticks_per_quarter or MIDI_TICKS_PER_QUARTER
  _name_instruments(ns)
  _clip_midi_times(ns)
  chords = [(a.time, a.text) for a in ns.text_annotations
            if a.annotation_type == note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL]
  midi = note_seq.note_sequence_to_pretty_midi(ns)
  # Chord symbols (chord models) become MIDI text events, which note-seq drops.
  midi.text_events.extend(pretty_midi.Text(text, time) for time, text in chords)
  buffer = io.BytesIO()
  midi.write(buffer)
  data = buffer.getvalue()
  if ns.total_time > 0:
    data = end_tracks_at(data, midi.time_to_tick(ns.total_time))
  Path(path).write_bytes(data)


def end_tracks_at(data: bytes, tick: int) -> bytes:
  """The MIDI file `data` with every track's end-of-track event moved to
  absolute `tick` where it came earlier (pretty_midi ends a track one tick
  after its last event)."""
  import mido
  midi = mido.MidiFile(file=io.BytesIO(data))
  for track in midi.tracks:
    if not track or track[-1].type != 'end_of_track':
      continue
    before = sum(message.time for message in track[:-1])
    track[-1].time = max(0, tick - before)
  out = io.BytesIO()
  midi.save(file=out)
  return out.getvalue()


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
