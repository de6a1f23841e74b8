"""ABC / MusicXML -> NoteSequence through music21, on hand-written inputs."""

import warnings

import pytest

from musicvae_jax.data import music21_io
from musicvae_jax.data.music21_io import BadInputError

warnings.filterwarnings('ignore', module='music21')


def _write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text)
  return path


def _notes(ns):
  return [(n.pitch, round(n.start_time, 6), round(n.end_time, 6), n.velocity,
           n.instrument, n.program, n.is_drum) for n in ns.notes]


def test_simple_tune_timing_tempo_and_meter(tmp_path):
  path = _write(tmp_path, 'simple.abc',
                'X:1\nT:Scale\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nC D E F|G4|]\n')
  ns = music21_io.load_music21_file(path)
  assert _notes(ns) == [
      (60, 0.0, 0.5, 80, 0, 0, False),
      (62, 0.5, 1.0, 80, 0, 0, False),
      (64, 1.0, 1.5, 80, 0, 0, False),
      (65, 1.5, 2.0, 80, 0, 0, False),
      (67, 2.0, 4.0, 80, 0, 0, False),
  ]
  assert [(t.time, t.qpm) for t in ns.tempos] == [(0.0, 120.0)]
  assert [(t.time, t.numerator, t.denominator)
          for t in ns.time_signatures] == [(0.0, 4, 4)]
  assert ns.total_time == pytest.approx(4.0)
  assert ns.sequence_metadata.title == 'Scale'
  assert ns.source_info.encoding_type == ns.source_info.ABC


def test_ties_chords_grace_notes_and_pickup(tmp_path):
  # Pickup of one quarter, a tie across the bar line, a C major chord and a
  # grace note before the F#. Q:1/4=100 -> 0.6 s per quarter.
  path = _write(tmp_path, 'tune.abc',
                'X:1\nT:t\nM:4/4\nL:1/8\nQ:1/4=100\nK:G\n'
                'D2|G2 A2 B2 c2-|c2 [CEG]2 {g}f4|]\n')
  ns = music21_io.load_music21_file(path)
  q = 0.6
  got = [(p, s, e) for p, s, e, *_ in _notes(ns)]
  # The pickup starts at quarter 3, so the first full bar starts at 4.
  expected = [(62, 3 * q, 4 * q), (67, 4 * q, 5 * q), (69, 5 * q, 6 * q),
              (71, 6 * q, 7 * q), (72, 7 * q, 9 * q),
              (60, 9 * q, 10 * q), (64, 9 * q, 10 * q), (67, 9 * q, 10 * q),
              (78, 10 * q, 12 * q)]
  assert got == [(p, pytest.approx(s), pytest.approx(e))
                 for p, s, e in expected]
  assert ns.tempos[0].qpm == pytest.approx(100.0)
  assert ns.key_signatures[0].key == ns.key_signatures[0].G


def test_pickup_alignment_can_be_disabled(tmp_path):
  score = music21_io.parse_abc_tune(
      'X:1\nM:4/4\nL:1/4\nK:C\nC|D E F G|A4|]\n')
  aligned = music21_io.score_to_note_sequence(score)
  raw = music21_io.score_to_note_sequence(score, align_pickup=False)
  assert aligned.notes[0].start_time == pytest.approx(1.5)
  assert raw.notes[0].start_time == pytest.approx(0.0)


def test_default_tempo_and_dotted_tempo_unit(tmp_path):
  no_tempo = music21_io.score_to_note_sequence(
      music21_io.parse_abc_tune('X:1\nM:4/4\nL:1/4\nK:C\nC D E F|]\n'))
  assert [(t.time, t.qpm) for t in no_tempo.tempos] == [(0.0, 120.0)]
  assert no_tempo.notes[-1].end_time == pytest.approx(2.0)
  dotted = music21_io.score_to_note_sequence(
      music21_io.parse_abc_tune('X:1\nM:6/8\nL:1/8\nQ:3/8=100\nK:C\nCDE FGA|]\n'))
  assert dotted.tempos[0].qpm == pytest.approx(150.0)
  assert dotted.notes[1].start_time == pytest.approx(0.5 * 60 / 150)
  assert (dotted.time_signatures[0].numerator,
          dotted.time_signatures[0].denominator) == (6, 8)


def test_missing_unit_length_defaults_to_eighth(tmp_path):
  ns = music21_io.score_to_note_sequence(
      music21_io.parse_abc_tune('X:1\nK:C\nCDEF|]\n'))
  assert [n.end_time - n.start_time for n in ns.notes] == pytest.approx(
      [0.25] * 4)


def test_multi_tune_file_skips_a_broken_tune(tmp_path):
  path = _write(tmp_path, 'book.abc',
                '% a book\nL:1/4\n\n'
                'X:1\nT:One\nM:4/4\nK:C\nC D E F|]\n\n'
                'X:2\nT:Broken\nL:0/0\nK:C\ncde|]\n\n'
                'X:3\nT:Three\nM:4/4\nK:D\nd4|]\n')
  tunes = music21_io.load_music21_tunes(path)
  assert [t.sequence_metadata.title for t in tunes] == ['One', 'Three']
  assert [t.id for t in tunes] == ['book.abc#0', 'book.abc#2']
  assert [n.pitch for n in tunes[1].notes] == [74]
  assert music21_io.load_music21_file(path).sequence_metadata.title == 'One'


@pytest.mark.parametrize('text', [
    'X:1\nT:bad\nL:0/0\nK:C\ncde|]\n',  # music21 divides by zero
    'X:1\nT:x\nM:4/4\nL:1/4\nK:C\nz4|]\n',  # only a rest
    '',
])
def test_broken_abc_raises_bad_input(tmp_path, text):
  with pytest.raises(BadInputError):
    music21_io.load_music21_file(_write(tmp_path, 'bad.abc', text))


def test_missing_file_and_unknown_suffix(tmp_path):
  with pytest.raises(BadInputError):
    music21_io.load_music21_file(tmp_path / 'absent.abc')
  with pytest.raises(BadInputError):
    music21_io.load_music21_file(tmp_path / 'absent.xml')
  with pytest.raises(BadInputError):
    music21_io.load_music21_file(_write(tmp_path, 'x.txt', 'hello'))


def test_broken_musicxml_raises_bad_input(tmp_path):
  with pytest.raises(BadInputError):
    music21_io.load_music21_file(
        _write(tmp_path, 'bad.musicxml', '<score-partwise><part>'))


@pytest.mark.parametrize('suffix', ['.musicxml', '.mxl'])
def test_musicxml_round_trip(tmp_path, suffix):
  from music21 import chord, meter, note, stream, tempo  # pylint: disable=g-import-not-at-top
  melody = stream.Part()
  melody.partName = 'Flute'
  melody.append(meter.TimeSignature('3/4'))
  melody.append(tempo.MetronomeMark(number=90))
  first = note.Note('E5', quarterLength=2.0)
  first.volume.velocity = 100
  tied_a = note.Note('G5', quarterLength=1.0)
  tied_b = note.Note('G5', quarterLength=1.0)
  from music21 import tie  # pylint: disable=g-import-not-at-top
  tied_a.tie = tie.Tie('start')
  tied_b.tie = tie.Tie('stop')
  melody.append([first, tied_a, tied_b, note.Note('C5', quarterLength=2.0)])
  bass = stream.Part()
  bass.partName = 'Bass'
  bass.append(meter.TimeSignature('3/4'))
  bass.append([chord.Chord(['C3', 'G3'], quarterLength=3.0),
               note.Rest(quarterLength=3.0)])
  score = stream.Score([melody, bass])
  path = tmp_path / f'score{suffix}'
  score.write('mxl' if suffix == '.mxl' else 'musicxml', fp=str(path))

  ns = music21_io.load_music21_file(path)
  q = 60 / 90
  assert ns.tempos[0].qpm == pytest.approx(90.0)
  assert [(t.numerator, t.denominator) for t in ns.time_signatures] == [(3, 4)]
  assert [i.name for i in ns.instrument_infos] == ['Flute', 'Bass']
  got = sorted((n.instrument, n.pitch, round(n.start_time / q, 6),
                round(n.end_time / q, 6)) for n in ns.notes)
  assert got == [(0, 72, 4.0, 6.0), (0, 76, 0.0, 2.0), (0, 79, 2.0, 4.0),
                 (1, 48, 0.0, 3.0), (1, 55, 0.0, 3.0)]
  velocities = {n.pitch: n.velocity for n in ns.notes}
  assert velocities[76] == 100 and velocities[72] == 80
  assert ns.source_info.encoding_type == ns.source_info.MUSIC_XML
  assert len(music21_io.load_music21_tunes(path)) == 1
