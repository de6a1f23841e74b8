"""FluidSynth with a General MIDI SoundFont, when the system has them.

Debian / Ubuntu: `sudo apt-get install fluidsynth fluid-soundfont-gm`;
macOS: `brew install fluid-synth` plus any GM `.sf2` named by
`MUSICVAE_SOUNDFONT`. Rendering runs the `fluidsynth` program (or the
`pyfluidsynth` module when it is importable and no program is found).

`find()` says what would be used; `audio.preview_audio` calls `synthesize`
here when `find()` finds both, else the built-in synthesiser.
`MUSICVAE_SYNTH=builtin` always uses the built-in one.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from musicvae_jax.render.midi import write_midi

# Where Debian's fluid-soundfont-gm, Fedora's fluid-soundfont-gm, Arch's
# soundfont-fluid and Homebrew put a GM SoundFont.
SOUNDFONT_PATHS = (
    '/usr/share/sounds/sf2/FluidR3_GM.sf2',
    '/usr/share/sounds/sf2/default-GM.sf2',
    '/usr/share/soundfonts/FluidR3_GM.sf2',
    '/usr/share/soundfonts/default.sf2',
    '/usr/share/soundfonts/FluidR3_GM2-2.sf2',
    '/opt/homebrew/share/soundfonts/default.sf2',
    '/usr/local/share/soundfonts/default.sf2',
)


@dataclasses.dataclass(frozen=True)
class FluidSynth:
  """A usable FluidSynth: `program` (path) or the pyfluidsynth module, and a
  SoundFont."""

  soundfont: Path
  program: str | None          # path of the fluidsynth executable
  module: bool = False         # pyfluidsynth instead of the program

  def describe(self) -> str:
    engine = self.program or 'pyfluidsynth'
    return f'FluidSynth ({engine}) with {self.soundfont}'


def find_soundfont() -> Path | None:
  """$MUSICVAE_SOUNDFONT, else the first GM SoundFont in SOUNDFONT_PATHS."""
  named = os.environ.get('MUSICVAE_SOUNDFONT')
  if named:
    path = Path(named).expanduser()
    return path if path.is_file() else None
  for candidate in SOUNDFONT_PATHS:
    if Path(candidate).is_file():
      return Path(candidate)
  return None


def find() -> FluidSynth | None:
  """The FluidSynth to use, or None (no program/module, no SoundFont, or
  MUSICVAE_SYNTH=builtin)."""
  if os.environ.get('MUSICVAE_SYNTH', '').lower() == 'builtin':
    return None
  soundfont = find_soundfont()
  if soundfont is None:
    return None
  program = shutil.which('fluidsynth')
  if program:
    return FluidSynth(soundfont, program)
  try:
    import fluidsynth  # noqa: F401  (pyfluidsynth)
  except Exception:  # ImportError, or OSError when libfluidsynth is missing
    return None
  return FluidSynth(soundfont, None, module=True)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
  """Mono float32 samples in [-1, 1] and the rate of a 16-bit PCM WAV."""
  with wave.open(str(path)) as w:
    channels, rate, width = w.getnchannels(), w.getframerate(), w.getsampwidth()
    data = w.readframes(w.getnframes())
  if width != 2:
    raise ValueError(f'{path}: {8 * width}-bit WAV, expected 16-bit')
  audio = np.frombuffer(data, '<i2').astype(np.float32) / 32768.0
  return audio.reshape(-1, channels).mean(axis=1), rate


def synthesize(ns, sample_rate: int, engine: FluidSynth, length: int) -> np.ndarray:
  """Renders `ns` with FluidSynth: float32 mono `[length]` (cut or padded)."""
  if engine.module:
    import pretty_midi
    with tempfile.TemporaryDirectory() as tmp:
      write_midi(ns, Path(tmp) / 'in.mid')
      midi = pretty_midi.PrettyMIDI(str(Path(tmp) / 'in.mid'))
    audio = midi.fluidsynth(fs=sample_rate, sf2_path=str(engine.soundfont))
    audio = np.asarray(audio, np.float32)
  else:
    with tempfile.TemporaryDirectory() as tmp:
      midi, wav = Path(tmp) / 'in.mid', Path(tmp) / 'out.wav'
      write_midi(ns, midi)
      subprocess.run([engine.program, '-ni', '-q', '-g', '0.8', '-r', str(sample_rate),
                      '-F', str(wav), '-T', 'wav', '-O', 's16',
                      str(engine.soundfont), str(midi)],
                     check=True, capture_output=True, timeout=120)
      audio, rate = _read_wav(wav)
    if rate != sample_rate:
      raise ValueError(f'fluidsynth wrote {rate} Hz, asked for {sample_rate}')
  out = np.zeros(length, np.float32)
  out[:min(length, len(audio))] = audio[:length]
  return out
