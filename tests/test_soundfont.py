"""WAV previews: FluidSynth + a GM SoundFont when present, else the built-in
synthesiser. A stand-in `fluidsynth` program checks the plumbing; the real one
is used when the system has it."""

import os
import stat
import sys
import wave

import note_seq
import numpy as np
import pytest

from musicvae_jax import render
from musicvae_jax.render import soundfont

FAKE = '''#!{python}
# Stand-in for `fluidsynth -ni ... -r RATE -F OUT ... SF2 MIDI`: a 440 Hz stereo tone, 1 s;
# fails on a MIDI file with a note never switched off.
import sys, wave, numpy as np
args = sys.argv[1:]
rate, out = int(args[args.index('-r') + 1]), args[args.index('-F') + 1]
assert args[-2].endswith('.sf2') and args[-1].endswith('.mid'), args
import mido
for track in mido.MidiFile(args[-1]).tracks:  # a note left on would ring to the end
  on = set()
  for msg in track:
    if msg.type == 'note_on' and msg.velocity:
      on.add((msg.channel, msg.note))
    elif msg.type in ('note_on', 'note_off'):
      on.discard((msg.channel, msg.note))
  assert not on, f'notes never switched off: {{sorted(on)}}'
t = np.arange(rate) / rate
pcm = (0.25 * np.sin(2 * np.pi * 440 * t) * 32767).astype('<i2')
with wave.open(out, 'wb') as w:
  w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate)
  w.writeframes(np.repeat(pcm, 2).tobytes())
'''


def _melody():
  ns = note_seq.NoteSequence()
  ns.tempos.add(qpm=120)
  for i, pitch in enumerate((60, 64, 67, 72)):
    ns.notes.add(pitch=pitch, velocity=90, start_time=0.5 * i, end_time=0.5 * i + 0.4)
  ns.total_time = 2.0
  return ns


@pytest.fixture
def fake_fluidsynth(tmp_path, monkeypatch):
  program = tmp_path / 'bin' / 'fluidsynth'
  program.parent.mkdir()
  program.write_text(FAKE.format(python=sys.executable))
  program.chmod(program.stat().st_mode | stat.S_IEXEC)
  sf2 = tmp_path / 'gm.sf2'
  sf2.write_bytes(b'RIFF')
  monkeypatch.setenv('PATH', f'{program.parent}{os.pathsep}{os.environ["PATH"]}')
  monkeypatch.setenv('MUSICVAE_SOUNDFONT', str(sf2))
  monkeypatch.delenv('MUSICVAE_SYNTH', raising=False)
  return program, sf2


def test_fluidsynth_is_used_when_present(fake_fluidsynth, tmp_path):
  program, sf2 = fake_fluidsynth
  engine = soundfont.find()
  assert engine.program == str(program) and engine.soundfont == sf2
  ns = _melody()
  audio = render.preview_audio(ns, 16000)
  assert audio.shape == (render.audio_length(ns, 16000),)  # same contract as synthesize
  assert np.max(np.abs(audio)) == pytest.approx(0.89, abs=1e-3)
  assert np.all(audio[16000:] == 0)  # the stand-in's one second, padded
  spectrum = np.abs(np.fft.rfft(audio[:16000]))
  assert np.argmax(spectrum) == 440  # 1 Hz bins: the stand-in's tone, not ours
  render.write_wav(ns, tmp_path / 'a.wav')
  with wave.open(str(tmp_path / 'a.wav')) as w:
    assert w.getnframes() == render.audio_length(ns, 22050)


def test_fluidsynth_gets_times_clipped(fake_fluidsynth):
  """GrooVAE's early first hit (start_time < 0) and a zero-length note reach
  FluidSynth as well-formed MIDI (every note switched off), same length."""
  ns = _melody()
  ns.notes.add(pitch=36, velocity=100, start_time=-0.004, end_time=0.12,
               is_drum=True, instrument=9)
  ns.notes.add(pitch=62, velocity=80, start_time=1.0, end_time=1.0)
  ns.notes.add(pitch=65, velocity=80, start_time=-0.3, end_time=-0.1)
  audio = render.preview_audio(ns, 16000)
  assert audio.shape == (render.audio_length(ns, 16000),)
  assert np.max(np.abs(audio)) == pytest.approx(0.89, abs=1e-3)


def test_builtin_synthesiser_without_soundfont_or_when_asked(fake_fluidsynth, monkeypatch, tmp_path):
  ns = _melody()
  monkeypatch.setenv('MUSICVAE_SYNTH', 'builtin')
  assert soundfont.find() is None
  np.testing.assert_array_equal(render.preview_audio(ns, 16000), render.synthesize(ns, 16000))
  monkeypatch.delenv('MUSICVAE_SYNTH')
  monkeypatch.setenv('MUSICVAE_SOUNDFONT', str(tmp_path / 'missing.sf2'))
  assert soundfont.find() is None


def test_real_fluidsynth_when_installed(monkeypatch):
  monkeypatch.delenv('MUSICVAE_SYNTH', raising=False)
  engine = soundfont.find()
  if engine is None:
    pytest.skip('no FluidSynth with a GM SoundFont (apt-get install fluidsynth fluid-soundfont-gm)')
  ns = _melody()
  audio = render.preview_audio(ns, 22050)
  assert audio.shape == (render.audio_length(ns, 22050),) and np.abs(audio).max() > 0.5
