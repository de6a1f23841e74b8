"""Tests for musicvae_jax.render: MIDI, piano-roll PNG, WAV and index.html."""

import time
import wave

import numpy as np
import pretty_midi
import pytest
from note_seq.protobuf import music_pb2
from PIL import Image

from musicvae_jax import render

QPM = 120.0
STEP = 60.0 / QPM / 4          # one sixteenth note, seconds


def _sequence(bars=2, melody=True, bass=True, drums=True, seed=0):
  """A generated trio (melody program 0, bass program 33, drums), 16ths."""
  rng = np.random.default_rng(seed)
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=QPM)
  ns.time_signatures.add(numerator=4, denominator=4)
  for i in range(bars * 16):
    if melody and i % 2 == 0:
      ns.notes.add(pitch=int(rng.integers(60, 80)), start_time=i * STEP,
                   end_time=(i + 2) * STEP, velocity=int(rng.integers(40, 128)),
                   instrument=0, program=0)
    if bass and i % 8 == 0:
      ns.notes.add(pitch=int(rng.integers(33, 45)), start_time=i * STEP,
                   end_time=(i + 8) * STEP, velocity=90, instrument=1, program=33)
    if drums:
      for pitch, hit in ((36, i % 8 == 0), (38, i % 8 == 4), (42, i % 2 == 0),
                         (49, i == 0), (45, i % 16 == 13)):
        if hit:
          ns.notes.add(pitch=pitch, start_time=i * STEP, end_time=(i + 1) * STEP,
                       velocity=100, instrument=9, is_drum=True)
  ns.total_time = bars * 16 * STEP
  return ns


# -- MIDI ---------------------------------------------------------------------

def test_midi_round_trip_keeps_notes(tmp_path):
  ns = _sequence()
  # An off-grid note: times must still survive within 1 ms.
  ns.notes.add(pitch=71, start_time=0.1234, end_time=0.5678, velocity=80,
               instrument=0, program=0)
  path = tmp_path / 'x.mid'
  render.write_midi(ns, path)
  pm = pretty_midi.PrettyMIDI(str(path))
  got = sorted((n.pitch, n.start, n.end, inst.program, inst.is_drum)
               for inst in pm.instruments for n in inst.notes)
  want = sorted((n.pitch, n.start_time, n.end_time, n.program, n.is_drum)
                for n in ns.notes)
  assert len(got) == len(want)
  for g, w in zip(got, want):
    assert g[0] == w[0] and g[4] == w[4]
    assert abs(g[1] - w[1]) < 1e-3 and abs(g[2] - w[2]) < 1e-3
    if not w[4]:
      assert g[3] == w[3]
  drum_instruments = [i for i in pm.instruments if i.is_drum]
  assert len(drum_instruments) == 1 and drum_instruments[0].notes
  assert {i.program for i in pm.instruments if not i.is_drum and i.notes} == {0, 33}


def test_write_midi_does_not_modify_input(tmp_path):
  ns = _sequence(drums=False)
  before = ns.SerializeToString()
  render.write_midi(ns, tmp_path / 'x.mid')
  assert ns.SerializeToString() == before


# -- piano roll ---------------------------------------------------------------

def _is_background(pixel):
  return pixel in {render.BACKGROUND, render.BLACK_KEY_ROW, render.DRUM_BAND,
                   render.GRID_BAR, render.GRID_BEAT, render.GRID_C}


def test_piano_roll_png_size_and_notes(tmp_path):
  ns = _sequence(bass=False, drums=False)
  ns.notes.add(pitch=82, start_time=1.0, end_time=2.0, velocity=127,
               instrument=0, program=0)
  pps = 100.0
  path = tmp_path / 'roll.png'
  render.write_piano_roll_png(ns, path, pixels_per_second=pps, pitch_range=(55, 84),
                              title='roll')
  image = Image.open(path).convert('RGB')
  # 4 s at 100 px/s plus the label gutter and margin; 30 rows of 8 px + header.
  assert 400 < image.width < 400 + 150
  assert 30 * 8 < image.height < 30 * 8 + 120
  # The long loud A#5 at 1.0 s..2.0 s (above the random notes) is drawn in
  # the full melody colour.
  layout = render._make_layout([ns], pps, (55, 84), 8)
  top = render._header_height('roll', True)
  y = top + (84 - 82) * 8 + 3
  pixels = [image.getpixel((layout.x(t), y)) for t in np.linspace(1.1, 1.9, 9)]
  assert all(p == render.MELODY_COLOUR for p in pixels)
  # ... and where no note sounds (pitch 56), only background and grid.
  y_empty = top + (84 - 56) * 8 + 3
  assert all(_is_background(image.getpixel((x, y_empty)))
             for x in range(layout.left + 2, layout.left + layout.plot_width - 2))


def test_piano_roll_parts_have_distinct_colours():
  image = render.piano_roll_image(_sequence(), title='trio')
  colours = set(image.getdata())
  for colour in (render.MELODY_COLOUR, render.BASS_COLOUR, render.DRUM_COLOUR):
    assert colour in colours     # at least the legend swatch and loud notes
  shades = {render._shade(render.MELODY_COLOUR, v) for v in (40, 80, 127)}
  assert len(shades) == 3        # velocity changes brightness


def test_drums_only_and_empty_rolls_render():
  drums = render.piano_roll_image(_sequence(melody=False, bass=False))
  assert any(p[:3] == render._darken(render.DRUM_COLOUR) for p in drums.getdata())
  empty = render.piano_roll_image(music_pb2.NoteSequence(), title='empty')
  assert empty.width > 50 and empty.height > 50
  colours = set(empty.getdata())
  assert not colours & {render.MELODY_COLOUR, render.DRUM_COLOUR, render.BASS_COLOUR}


def test_interpolation_strip_shares_scale_and_labels(tmp_path):
  sequences = [_sequence(seed=s) for s in range(5)]
  sequences[-1].notes.add(pitch=95, start_time=0, end_time=0.5, velocity=100)
  path = tmp_path / 'strip.png'
  image = render.interpolation_strip(sequences, path)
  assert Image.open(path).size == image.size
  assert render._default_labels(5) == ['A', '1', '2', '3', 'B']
  single = render.piano_roll_image(sequences[0], row_height=5, legend=False)
  # Pitch range widened for every row by the high note of the last step.
  assert image.height > single.height
  one_column = render.interpolation_strip(sequences, path, columns=1)
  assert one_column.height > 5 * single.height
  with pytest.raises(ValueError):
    render.interpolation_strip(sequences, path, labels=['A', 'B'])


# -- audio ---------------------------------------------------------------------

@pytest.mark.parametrize('sample_rate', [22050, 16000])
def test_wav_length_rate_and_level(tmp_path, sample_rate):
  ns = _sequence()
  path = tmp_path / 'x.wav'
  render.write_wav(ns, path, sample_rate=sample_rate)
  expected = (round(ns.total_time * sample_rate)
              + round(render.RELEASE_SECONDS * sample_rate))
  with wave.open(str(path)) as f:
    assert f.getframerate() == sample_rate
    assert f.getnchannels() == 1 and f.getsampwidth() == 2
    assert f.getnframes() == expected
    pcm = np.frombuffer(f.readframes(f.getnframes()), '<i2')
  assert np.abs(pcm).max() > 10000                       # not silent
  audio = render.synthesize(ns, sample_rate)
  assert audio.dtype == np.float32 and audio.shape == (expected,)
  assert np.abs(audio).max() <= 1.0
  assert np.isfinite(audio).all()
  assert abs(audio[-1]) < 1e-3                           # faded out, no click


def test_synthesize_is_fast_and_deterministic():
  ns = _sequence(bars=16, bass=False, drums=False)
  start = time.perf_counter()
  audio = render.synthesize(ns)
  assert time.perf_counter() - start < 1.0
  np.testing.assert_array_equal(audio, render.synthesize(ns))


def test_every_program_family_and_drum_sounds():
  ns = music_pb2.NoteSequence()
  for i, program in enumerate(range(0, 128, 8)):
    ns.notes.add(pitch=60, start_time=i * 0.3, end_time=i * 0.3 + 0.25,
                 velocity=100, program=program)
  for i, pitch in enumerate(range(27, 82)):
    ns.notes.add(pitch=pitch, start_time=i * 0.1, end_time=i * 0.1 + 0.1,
                 velocity=100, is_drum=True)
  ns.total_time = max(n.end_time for n in ns.notes)
  audio = render.synthesize(ns)
  assert np.isfinite(audio).all() and 0.5 < np.abs(audio).max() <= 1.0
  # Every note start is audible.
  for note in ns.notes:
    start = int(note.start_time * 22050)
    assert np.abs(audio[start:start + 1000]).max() > 1e-3


def test_drums_only_and_empty_audio(tmp_path):
  drums = render.synthesize(_sequence(melody=False, bass=False))
  assert np.abs(drums).max() > 0.5
  empty = music_pb2.NoteSequence()
  audio = render.synthesize(empty)
  assert audio.shape == (round(render.RELEASE_SECONDS * 22050),)
  assert not audio.any()
  render.write_wav(empty, tmp_path / 'empty.wav')
  with wave.open(str(tmp_path / 'empty.wav')) as f:
    assert f.getnframes() == len(audio)
  render.write_midi(empty, tmp_path / 'empty.mid')
  render.write_piano_roll_png(empty, tmp_path / 'empty.png')
  Image.open(tmp_path / 'empty.png').verify()


# -- times outside the sequence --------------------------------------------------

def _out_of_range():
  """GrooVAE-style timing: a kick and a note 4 ms before 0 (an early first
  step), a note ending past total_time, a zero-length note and a note wholly
  before 0."""
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=QPM)
  ns.notes.add(pitch=36, start_time=-0.004, end_time=-0.004 + STEP, velocity=100,
               instrument=9, is_drum=True)
  ns.notes.add(pitch=60, start_time=-0.004, end_time=0.5, velocity=90)
  ns.notes.add(pitch=64, start_time=1.5, end_time=2.5, velocity=90)
  ns.notes.add(pitch=67, start_time=1.0, end_time=1.0, velocity=90)
  ns.notes.add(pitch=72, start_time=-0.3, end_time=-0.1, velocity=90)
  ns.total_time = 2.0
  return ns


def _clipped_to_zero(ns):
  """`ns` with every time below 0 raised to 0."""
  out = music_pb2.NoteSequence()
  out.CopyFrom(ns)
  for note in out.notes:
    note.start_time, note.end_time = max(note.start_time, 0.0), max(note.end_time, 0.0)
  return out


def test_synthesize_clips_times_outside_the_sequence():
  ns = _out_of_range()
  audio = render.synthesize(ns, 16000)
  assert audio.shape == (render.audio_length(ns, 16000),)
  assert audio.shape == (round(2.5 * 16000) + round(render.RELEASE_SECONDS * 16000),)
  assert np.isfinite(audio).all() and 0.5 < np.abs(audio).max() <= 1.0
  assert np.abs(audio[:160]).max() > 1e-2          # the early kick sounds at 0
  np.testing.assert_array_equal(audio, render.synthesize(_clipped_to_zero(ns), 16000))


def test_preview_audio_and_wav_clip_times_outside_the_sequence(tmp_path, monkeypatch):
  monkeypatch.setenv('MUSICVAE_SYNTH', 'builtin')
  ns = _out_of_range()
  audio = render.preview_audio(ns, 16000)
  assert audio.shape == (render.audio_length(ns, 16000),) and np.isfinite(audio).all()
  render.write_wav(ns, tmp_path / 'x.wav', sample_rate=16000)
  with wave.open(str(tmp_path / 'x.wav')) as f:
    assert f.getnframes() == len(audio)


def test_piano_roll_keeps_early_notes_inside_the_plot(tmp_path):
  ns = _out_of_range()
  pps = 1000.0                                     # 4 ms = 4 px
  image = np.asarray(render.piano_roll_image(ns, pixels_per_second=pps))
  layout = render._make_layout([ns], pps, None, 8)
  gutter = image[:, :layout.left].reshape(-1, 3)
  outlines = [render._darken(c) for c in (render.MELODY_COLOUR, render.DRUM_COLOUR)]
  for colour in outlines + [render.TIMING_EARLY, render.TIMING_LATE]:
    assert not np.all(gutter == colour, axis=-1).any(), colour
  # The early kick is drawn from the start of the plot.
  drums = np.all(image == render._darken(render.DRUM_COLOUR), axis=-1)
  assert drums[:, layout.left + 1].any()
  render.interpolation_strip([ns, ns], tmp_path / 'strip.png', pixels_per_second=pps)


def _hanging_notes(path):
  """(channel, pitch) of notes switched on but never off, per track."""
  import mido
  hanging = []
  for track in mido.MidiFile(str(path)).tracks:
    on = set()
    for msg in track:
      if msg.type == 'note_on' and msg.velocity > 0:
        on.add((msg.channel, msg.note))
      elif msg.type in ('note_on', 'note_off'):
        on.discard((msg.channel, msg.note))
    hanging += sorted(on)
  return hanging


@pytest.mark.parametrize('chords', [False, True])
def test_write_midi_clips_times_outside_the_sequence(tmp_path, chords):
  ns = _out_of_range()
  if chords:                                       # the pretty_midi path
    ns.text_annotations.add(time=-0.004, text='C', annotation_type=(
        music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL))
  before = ns.SerializeToString()
  path = tmp_path / 'x.mid'
  render.write_midi(ns, path)
  assert ns.SerializeToString() == before
  # A zero-length note (or one clipped to zero length) must not become an
  # off-before-on pair: FluidSynth and DAWs would hold it to the end.
  assert _hanging_notes(path) == []
  pm = pretty_midi.PrettyMIDI(str(path))
  got = {n.pitch: (n.start, n.end) for i in pm.instruments for n in i.notes}
  assert sorted(got) == sorted(n.pitch for n in ns.notes)   # none dropped
  assert all(0.0 <= start < end for start, end in got.values())
  assert got[36][0] == 0.0 and abs(got[36][1] - (STEP - 0.004)) < 1e-3
  assert got[60][0] == 0.0 and abs(got[60][1] - 0.5) < 1e-3
  assert abs(got[64][1] - 2.5) < 1e-3             # past total_time: kept
  if chords:
    assert [(t.text, t.time) for t in pm.text_events] == [('C', 0.0)]


# -- page ------------------------------------------------------------------------

def test_index_html_lists_items_and_escapes(tmp_path):
  items = [{'title': f'sample <{i}>', 'midi': f's {i}.mid', 'png': f's{i}.png',
            'wav': f's{i}.wav', 'caption': 'a & b' if i else None}
           for i in range(3)]
  path = render.write_index_html(tmp_path / 'out', items, 'Run <1> & "x"',
                                 top_image='interpolation.png')
  assert path == tmp_path / 'out' / 'index.html'
  text = path.read_text(encoding='utf-8')
  assert '<title>Run &lt;1&gt; &amp; &quot;x&quot;</title>' in text
  assert 'Run <1>' not in text
  for i in range(3):
    assert f'sample &lt;{i}&gt;' in text
    assert f'src="s{i}.png"' in text and f'src="s{i}.wav"' in text
    assert f'href="s%20{i}.mid" download' in text
  assert text.count('<audio controls') == 3
  assert 'a &amp; b' in text and text.count('class="caption"') == 2
  assert 'src="interpolation.png"' in text
  assert '<script' not in text and 'http' not in text
