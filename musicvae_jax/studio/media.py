"""NoteSequence -> bytes the page can play, show or download (in memory).

Each function has one job and reuses `render` (the files `generate` writes
are the same bytes). Audio goes through `synthesize`: FluidSynth with a GM
SoundFont when the system has both, else the built-in synthesiser
(`render.preview_audio`).

Sizes stay bounded however long a piece is: WAV audio covers at most
`MAX_AUDIO_SECONDS` (a 33-window walk of a 16-bar model lasts over 17
minutes; its MIDI has all of it), and a piano roll is at most
`MAX_PNG_WIDTH` pixels wide (the time scale shrinks to fit).
"""

from __future__ import annotations

import io
import json
import tempfile
import wave
from pathlib import Path

import numpy as np

from musicvae_jax import render

SAMPLE_RATE = 22050
MAX_AUDIO_SECONDS = 300.0
MAX_PNG_WIDTH = 6000
PIXELS_PER_SECOND = 100.0


def end_time(ns) -> float:
  """Seconds to the end of `ns` (total_time or the last note's end)."""
  return max([ns.total_time, 0.0] + [n.end_time for n in ns.notes])


def audio_seconds(ns, max_seconds: float = MAX_AUDIO_SECONDS) -> float:
  """How much of `ns` the WAV covers."""
  return min(end_time(ns), max_seconds)


def head(ns, seconds: float):
  """The first `seconds` of `ns` (notes cut there; `ns` itself when shorter)."""
  if end_time(ns) <= seconds:
    return ns
  from note_seq.protobuf import music_pb2
  out = music_pb2.NoteSequence()
  out.CopyFrom(ns)
  del out.notes[:]
  for note in ns.notes:
    if note.start_time < seconds:
      copy = out.notes.add()
      copy.CopyFrom(note)
      copy.end_time = min(note.end_time, seconds)
  out.total_time = seconds
  return out


def synthesize(ns, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
  """Mono float32 audio `[samples]` in [-1, 1] for `ns`: FluidSynth + GM
  SoundFont when installed, else the built-in synth (`render.preview_audio`)."""
  return render.preview_audio(ns, sample_rate)


def wav_bytes(ns, sample_rate: int = SAMPLE_RATE,
              max_seconds: float = MAX_AUDIO_SECONDS) -> bytes:
  """A 16-bit PCM mono WAV file of `synthesize(ns)`, of its first
  `max_seconds` at most (`audio_seconds`)."""
  audio = synthesize(head(ns, max_seconds), sample_rate)
  pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype('<i2')
  buffer = io.BytesIO()
  with wave.open(buffer, 'wb') as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(sample_rate)
    f.writeframes(pcm.tobytes())
  return buffer.getvalue()


def midi_bytes(ns) -> bytes:
  """A standard MIDI file of `ns`, exactly as `render.write_midi` writes it."""
  with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / 'x.mid'
    render.write_midi(ns, path)
    return path.read_bytes()


def png_bytes(ns, title: str | None = None, max_width: int = MAX_PNG_WIDTH) -> bytes:
  """A piano-roll PNG of `ns` (`render.piano_roll_image`), at most about
  `max_width` pixels wide."""
  scale = min(PIXELS_PER_SECOND, (max_width - 80) / max(end_time(ns), 1.0))
  buffer = io.BytesIO()
  render.piano_roll_image(ns, title=title, pixels_per_second=scale).save(buffer, format='PNG')
  return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
  """`np.save` of `array` (float32)."""
  buffer = io.BytesIO()
  np.save(buffer, np.asarray(array, np.float32))
  return buffer.getvalue()


def json_bytes(value) -> bytes:
  return json.dumps(value, indent=1).encode('utf-8')


def notes_json(ns) -> list[list]:
  """Notes for the page's canvas: [pitch, start s, end s, velocity, is_drum,
  instrument] each, sorted by start."""
  return [[n.pitch, round(n.start_time, 4), round(n.end_time, 4), n.velocity,
           bool(n.is_drum), n.instrument]
          for n in sorted(ns.notes, key=lambda n: (n.start_time, n.pitch))]
