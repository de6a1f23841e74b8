"""NoteSequence -> mono audio: a small built-in synthesiser (additive / FM
voices, synthetic drums; no sound font), or FluidSynth with a GM SoundFont
when the system has them (`preview_audio`, `soundfont.py`); `write_wav`.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Sequence

import numpy as np

from musicvae_jax.render import soundfont
from musicvae_jax.render.common import _end_time, _is_bass, _span

# Every note rings on for this long after its end (the envelope's release), so
# the rendered audio is this much longer than the sequence.
RELEASE_SECONDS = 0.25
# The whole buffer fades out over this long, in case a drum hit is cut off.
_FINAL_FADE_SECONDS = 0.01
_PEAK = 0.89          # about -1 dBFS after normalisation


def audio_length(ns, sample_rate: int = 22050) -> int:
  """Number of samples `synthesize` returns:
  `round(T * sample_rate) + round(RELEASE_SECONDS * sample_rate)` where
  `T = max(ns.total_time, last note end)` (0 for an empty sequence, so an
  empty sequence gives RELEASE_SECONDS of silence)."""
  return (int(round(_end_time(ns) * sample_rate))
          + int(round(RELEASE_SECONDS * sample_rate)))


def _adsr(held: int, sample_rate: int, attack: float, decay: float,
          sustain: float, release: float) -> np.ndarray:
  """Envelope, shape [held + release samples], in [0, 1].

  Linear attack to 1, exponential decay towards `sustain` while held, then a
  raised-cosine fade from the level reached to exactly 0 over `release`.
  """
  t = np.arange(held) / sample_rate
  attack = max(attack, 1.0 / sample_rate)
  on = np.where(t < attack, t / attack,
                sustain + (1.0 - sustain) * np.exp(-(t - attack) / max(decay, 1e-4)))
  level = on[-1] if held else 0.0
  r = max(int(round(release * sample_rate)), 1)
  off = level * 0.5 * (1.0 + np.cos(np.pi * np.arange(1, r + 1) / r))
  return np.concatenate([on, off])


def _harmonics(freq: float, t: np.ndarray, weights: Sequence[float],
               sample_rate: int, decay_per_harmonic: float = 0.0) -> np.ndarray:
  """Sum of sine harmonics k * freq (k = 1..len(weights)) weighted by
  `weights`, harmonic k decaying as exp(-t * k * decay_per_harmonic); those
  above 0.45 * sample_rate are dropped (no aliasing). Shape = t.shape."""
  out = np.zeros_like(t)
  for k, w in enumerate(weights, start=1):
    if w and k * freq < 0.45 * sample_rate:
      partial = np.sin(2 * np.pi * k * freq * t)
      if decay_per_harmonic:
        partial *= np.exp(-t * k * decay_per_harmonic)
      out += w * partial
  return out


def _family(program: int) -> str:
  """GM program (0-127) -> voice family name used by `_pitched_voice`."""
  if _is_bass(program):
    return 'bass'
  if 16 <= program <= 23:
    return 'organ'
  if 24 <= program <= 31 or 104 <= program <= 111:
    return 'pluck'
  if 40 <= program <= 55 or 88 <= program <= 103:
    return 'pad'
  if 56 <= program <= 79:
    return 'wind'
  if 80 <= program <= 87:
    return 'lead'
  return 'piano'


def _pitched_voice(pitch: int, seconds: float, velocity: int, program: int,
                   sample_rate: int) -> np.ndarray:
  """One pitched note, float32 shape [held + release samples], peak about
  velocity / 127. Voice by program family:

  piano: FM (ratio 1) whose brightness and level decay, like a struck string;
  bass: sine + a little 2nd/3rd harmonic, soft-saturated, round;
  organ: drawbar-style harmonics, sustained; pluck: fast-decaying harmonics;
  pad: soft harmonics, slow attack; wind: FM tracking the envelope;
  lead: odd harmonics (square-ish).
  """
  family = _family(program)
  freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
  held = max(int(round(seconds * sample_rate)), 1)
  release = RELEASE_SECONDS if family in ('pad', 'organ', 'wind') else RELEASE_SECONDS * 0.8
  if family == 'piano':
    env = _adsr(held, sample_rate, 0.003, 0.35, 0.35, release)
    t = np.arange(len(env)) / sample_rate
    index = 1.6 * np.exp(-t * 5.0) + 0.15
    modulator = index * np.sin(2 * np.pi * freq * t)
    body = np.sin(2 * np.pi * freq * t + modulator)
    body *= np.exp(-t * (0.8 + freq / 600.0))
  elif family == 'bass':
    env = _adsr(held, sample_rate, 0.006, 0.5, 0.6, release)
    t = np.arange(len(env)) / sample_rate
    body = np.tanh(1.4 * _harmonics(freq, t, [1.0, 0.35, 0.12], sample_rate)) / np.tanh(1.4)
  elif family == 'organ':
    env = _adsr(held, sample_rate, 0.01, 0.1, 0.9, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0.6, 0.35, 0.3, 0, 0.15, 0, 0.1], sample_rate) / 1.6
  elif family == 'pluck':
    env = _adsr(held, sample_rate, 0.002, 0.3, 0.1, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0.5, 0.33, 0.25, 0.2, 0.16], sample_rate, 2.0) / 1.4
  elif family == 'pad':
    env = _adsr(held, sample_rate, 0.08, 0.3, 0.8, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0.5, 0.3, 0.2, 0.12], sample_rate) / 1.5
  elif family == 'wind':
    env = _adsr(held, sample_rate, 0.03, 0.2, 0.75, release)
    t = np.arange(len(env)) / sample_rate
    body = np.sin(2 * np.pi * freq * t + 1.2 * env * np.sin(2 * np.pi * freq * t))
  else:  # lead
    env = _adsr(held, sample_rate, 0.005, 0.2, 0.7, release)
    t = np.arange(len(env)) / sample_rate
    body = _harmonics(freq, t, [1.0, 0, 1 / 3, 0, 1 / 5, 0, 1 / 7], sample_rate) / 1.3
  return (body * env * (velocity / 127.0)).astype(np.float32)


def _highpass(x: np.ndarray, times: int = 1) -> np.ndarray:
  """Crude high-pass: first difference, `times` times (same shape)."""
  for _ in range(times):
    x = np.diff(x, prepend=0.0)
  return x


def _drum_voice(pitch: int, velocity: int, sample_rate: int,
                rng: np.random.Generator) -> np.ndarray:
  """One GM drum hit (channel-10 pitch), float32 shape [samples], ending at 0.

  Kick: falling sine sweep; snare: noise + tone; clap: noise bursts; hats:
  high-passed noise (closed short, open long); toms: falling sine at a
  pitch-dependent frequency; cymbals / ride: high-passed noise + inharmonic
  partials; cowbell: two square-ish tones; anything else: a short click.
  """
  def length(seconds):
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    return t, rng.standard_normal(n)

  if pitch in (35, 36):
    t, noise = length(0.35)
    phase = 2 * np.pi * (48 * t + 110 / 28 * (1 - np.exp(-28 * t)))
    sound = np.sin(phase) * np.exp(-t * 9) + 0.15 * noise * np.exp(-t * 200)
  elif pitch in (38, 40, 37):
    t, noise = length(0.22 if pitch != 37 else 0.06)
    sound = (0.55 * _highpass(noise) / 2 * np.exp(-t * 18)
             + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30))
  elif pitch == 39:
    t, noise = length(0.2)
    bursts = sum(np.exp(-np.maximum(t - d, 0) * 60) * (t >= d) for d in (0, 0.01, 0.02))
    sound = 0.5 * _highpass(noise) / 2 * bursts
  elif pitch in (42, 44, 46, 22, 26):
    open_hat = pitch in (46, 26)
    t, noise = length(0.45 if open_hat else 0.08)
    sound = 0.35 * _highpass(noise, 2) / 4 * np.exp(-t * (7 if open_hat else 55))
  elif pitch in (41, 43, 45, 47, 48, 50):
    t, noise = length(0.4)
    base = 80.0 * 2.0 ** ((pitch - 41) / 9.0)
    phase = 2 * np.pi * (base * t + base * 0.6 / 12 * (1 - np.exp(-12 * t)))
    sound = 0.8 * np.sin(phase) * np.exp(-t * 8) + 0.1 * noise * np.exp(-t * 60)
  elif pitch in (49, 52, 55, 57, 51, 53, 59):
    ride = pitch in (51, 53, 59)
    t, noise = length(0.8)
    metal = np.zeros_like(t)
    for f in ((3150, 4430, 5710) if ride else (2390, 3730, 6070)):
      metal += np.sin(2 * np.pi * f * t)
    sound = (0.25 * _highpass(noise, 2) / 4 + (0.12 if ride else 0.05) * metal)
    sound *= np.exp(-t * (5 if ride else 3.5))
  elif pitch in (54, 56):
    t, noise = length(0.25)
    square = lambda f: np.tanh(4 * np.sin(2 * np.pi * f * t))
    sound = 0.3 * (square(540) + square(800)) * np.exp(-t * 14)
  else:
    t, noise = length(0.05)
    sound = 0.4 * _highpass(noise) / 2 * np.exp(-t * 80)
  # 1 ms fade in and 5 ms fade out: no clicks.
  n = len(sound)
  fade = np.ones(n)
  a, r = min(n, max(1, sample_rate // 1000)), min(n, max(1, sample_rate // 200))
  fade[:a] *= np.linspace(0, 1, a)
  fade[n - r:] *= np.linspace(1, 0, r)
  return (sound * fade * (velocity / 127.0)).astype(np.float32)


def synthesize(ns, sample_rate: int = 22050) -> np.ndarray:
  """Renders `ns` to mono audio with the built-in synthesiser.

  Returns:
    float32 array, shape [audio_length(ns, sample_rate)] =
    [round(T * sample_rate) + round(RELEASE_SECONDS * sample_rate)] with
    T = max(ns.total_time, last note end): the sequence plus a
    RELEASE_SECONDS tail in which the last notes die away. Peak-normalised to
    0.89 (about -1 dBFS), so always within [-1, 1]; all zeros if there are no
    notes. Deterministic (drum noise uses a fixed seed). Note times are
    clipped into [0, T]: a note starting before 0 (GrooVAE's early first hit)
    starts at 0; a zero-length note is a short blip.
  """
  out = np.zeros(audio_length(ns, sample_rate), np.float32)
  rng = np.random.default_rng(0)
  end_time = _end_time(ns)
  for note in ns.notes:
    if note.velocity <= 0:
      continue
    begin, end = _span(note, end_time)
    start = int(round(begin * sample_rate))
    if note.is_drum:
      sound = _drum_voice(note.pitch, note.velocity, sample_rate, rng)
    else:
      sound = _pitched_voice(note.pitch, end - begin, note.velocity, note.program,
                             sample_rate)
    stop = min(len(out), start + len(sound))
    out[start:stop] += sound[:stop - start]
  fade = min(len(out), int(_FINAL_FADE_SECONDS * sample_rate))
  if fade:
    out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
  peak = float(np.max(np.abs(out))) if len(out) else 0.0
  if peak > 0:
    out *= np.float32(_PEAK / peak)
  return out


def preview_audio(ns, sample_rate: int = 22050) -> np.ndarray:
  """Audio for previews: FluidSynth with a GM SoundFont when the system has
  both (see `soundfont.find`), else `synthesize`. Same shape and peak as
  `synthesize`: float32 `[audio_length(ns, sample_rate)]`, peak 0.89."""
  engine = soundfont.find()
  if engine is None:
    return synthesize(ns, sample_rate)
  out = soundfont.synthesize(ns, sample_rate, engine, audio_length(ns, sample_rate))
  peak = float(np.max(np.abs(out))) if len(out) else 0.0
  if peak > 0:
    out *= np.float32(_PEAK / peak)
  return out


def write_wav(ns, path: str | Path, sample_rate: int = 22050) -> None:
  """Writes `preview_audio(ns, sample_rate)` as a 16-bit PCM mono WAV file."""
  audio = preview_audio(ns, sample_rate)
  pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype('<i2')
  with wave.open(str(path), 'wb') as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(sample_rate)
    f.writeframes(pcm.tobytes())
