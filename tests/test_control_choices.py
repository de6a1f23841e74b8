"""A multicontrol model's controls chosen one by one (data/control_choices.py,
control_sources.py): values worked by hand, and a chosen contour that
equals what the converter computes from a real melody."""

import numpy as np
import pytest

from conftest import write_midi
from musicvae_jax import control_sources
from musicvae_jax.data import chords, control_choices as cc, melody_controls, multicontrol


def test_rhythm_presets_and_patterns():
  tresillo = cc.rhythm_column('tresillo', 32)
  np.testing.assert_array_equal(cc.onsets(tresillo), [0, 3, 6, 8, 11, 14, 16, 19, 22, 24, 27, 30])
  assert set(tresillo.tolist()) == {cc.ONSET, cc.NO_ONSET}
  np.testing.assert_array_equal(cc.onsets(cc.rhythm_column('Quarters', 32)), np.arange(0, 32, 4))
  # a written 2-bar pattern with bar lines and spaces
  bars = 'x... x.x. x... x...|x.x. x.x. xxxx x...'
  np.testing.assert_array_equal(cc.onsets(cc.rhythm_column(bars, 32)),
                                [0, 4, 6, 8, 12, 16, 18, 20, 22, 24, 25, 26, 27, 28])


@pytest.mark.parametrize('choice, message', [
    ('swing', "rhythm 'swing': name one of sixteenths, eighths"),
    ('x..o', "rhythm 'x..o': name one of"),
    ('x....', "rhythm 'x....': 5 steps do not fill the window of 32 steps evenly"),
])
def test_a_bad_rhythm_is_one_line(choice, message):
  with pytest.raises(cc.ControlChoiceError) as error:
    cc.rhythm_column(choice, 32)
  assert str(error.value).startswith(message) and '\n' not in str(error.value)


def test_shape_of_a_parsons_code_worked_by_hand():
  """Quarter-note onsets 0, 4, 8, 12 moving up, down, repeat: steps 0-4 carry
  the first move (it reaches back to step 0), 5-8 the second, 9-12 the third,
  and the steps after the last onset repeat its row."""
  shape = cc.shape_column(cc.rhythm_column('quarters', 16), cc.parsons_moves('udr'))
  expected = [cc.UP] * 5 + [cc.DOWN] * 4 + [cc.SAME] * 4 + [cc.SAME] * 3
  assert shape.tolist() == expected


def test_a_contour_is_stretched_over_the_rhythms_moves():
  assert cc.stretch(cc.parsons_moves('arch'), 3) == [cc.UP, cc.UP, cc.DOWN]
  assert cc.stretch(cc.parsons_moves('u d'), 4) == [cc.UP, cc.UP, cc.DOWN, cc.DOWN]
  assert cc.stretch([], 2) == [cc.SAME, cc.SAME]
  # one onset: no move, every step "same", as the data has it
  assert set(cc.shape_column(cc.rhythm_column('x' + '.' * 31, 32), [cc.UP]).tolist()) == {cc.SAME}
  with pytest.raises(cc.ControlChoiceError, match="contour 'upward'"):
    cc.parsons_moves('upward')


def _melody_window(tmp_path):
  """A real melody's multicontrol window: notes of varied lengths and moves."""
  from musicvae_jax.data import midi_io
  pitches = [60, 62, 62, 65, 64, 60, 67, 67, 71, 69, 65, 64]
  lengths = [2, 2, 4, 2, 2, 4, 3, 1, 4, 2, 2, 4]   # 16ths, 32 in all
  notes, step = [], 0
  for pitch, length in zip(pitches, lengths):
    notes.append((pitch, step * 0.125, (step + length) * 0.125 - 0.01))
    step += length
  path = write_midi(tmp_path / 'm.mid', notes)
  converter = multicontrol.MultiControlMelodyConverter()
  return converter.all_windows(midi_io.load_note_sequence(path))[0], pitches


def test_a_chosen_contour_equals_the_converters_shape_of_that_melody(tmp_path):
  window, pitches = _melody_window(tmp_path)
  code = ''.join('u' if b > a else 'd' if b < a else 'r' for a, b in zip(pitches, pitches[1:]))
  rhythm = ''.join('x' if r == 0 else '.' for r in window[:, 2])
  columns, _ = cc.build(32, rhythm=rhythm, contour=code, chords='N.C.', register='middle')
  np.testing.assert_array_equal(columns[:, cc.RHYTHM], window[:, 2])
  np.testing.assert_array_equal(columns[:, cc.SHAPE], window[:, 3])
  # and the moves read back from the window are the code's
  assert cc.moves_of(window[:, 1:]) == cc.parsons_moves(code)


@pytest.mark.parametrize('choice, expected', [
    ('low', 0), ('middle', 1), ('high', 2), ('top', 3),
    (49, 0), ('50', 1), ('C4', 1), ('Eb4', 2), ('D#4', 2), ('A#4', 3), ('C5', 3), ('C2', 0)])
def test_register_bins_at_magentajs_boundaries(choice, expected):
  assert cc.register_bin(choice) == expected      # bins < 50 <= . < 63 <= . < 70 <= .


def test_a_bad_register_is_one_line():
  for choice in ('loud', 'H4', '300'):
    with pytest.raises(cc.ControlChoiceError, match=f'register {choice!r}'):
      cc.register_bin(choice)


def test_chords_spread_over_the_window_as_magentajs_does():
  classes = cc.chord_column('C G Am F', 32)
  assert [chords.chord_symbol(c) for c in classes[::8]] == ['C', 'G', 'Am', 'F']
  assert (np.diff(classes[:8]) == 0).all()
  assert [chords.chord_symbol(c) for c in cc.chord_column('C,G', 32)[[0, 15, 16, 31]]] == \
      ['C', 'C', 'G', 'G']
  per_step = ['C'] * 31 + ['G']
  assert chords.chord_symbol(cc.chord_column(per_step, 32)[-1]) == 'G'
  with pytest.raises(cc.ControlChoiceError, match="unknown chord symbol 'Xm'"):
    cc.chord_column('C Xm', 32)


def test_build_defaults_base_and_description(tmp_path):
  columns, said = cc.build(32)
  assert said == {'chords': 'N.C. (default)', 'rhythm': 'eighths (default)',
                  'contour': 'arch (default)', 'register': 'middle (default)'}
  assert (columns[:, cc.CHORD] == chords.NO_CHORD_CLASS).all()
  np.testing.assert_array_equal(cc.onsets(columns[:, cc.RHYTHM]), np.arange(0, 32, 2))
  assert (columns[:, cc.REGISTER] == 1).all()
  # unchosen columns come from a base window; its contour follows a new rhythm
  window, _ = _melody_window(tmp_path)
  base = cc.Taken(window[:, 1:], 'm.mid window 0')
  same, said = cc.build(32, base=base)
  np.testing.assert_array_equal(same, window[:, 1:])
  assert said['rhythm'] == 'from m.mid window 0'
  moved, _ = cc.build(32, base=base, rhythm='quarters', chords='Dm')
  assert (moved[:, cc.CHORD] == chords.chord_class('Dm')).all()
  np.testing.assert_array_equal(moved[:, cc.REGISTER], window[:, 4])
  expected = cc.shape_column(cc.rhythm_column('quarters', 32), cc.moves_of(window[:, 1:]))
  np.testing.assert_array_equal(moved[:, cc.SHAPE], expected)
  with pytest.raises(cc.ControlChoiceError, match='no onset'):
    cc.build(32, rhythm='.')
  assert cc.describe({'chords': 'C', 'rhythm': 'x.'}) == 'chords C, rhythm x.'
  assert cc.describe({'chords': 'from a', 'rhythm': 'from a', 'contour': 'from a'}) == \
      'chords, rhythm and contour from a'


def test_midi_choices_name_a_file_and_a_window():
  assert control_sources.midi_choice('song.mid') == ('song.mid', 0)
  assert control_sources.midi_choice('~/a b/Song.MIDI@12') == ('~/a b/Song.MIDI', 12)
  assert control_sources.midi_choice('tresillo') is None
  assert control_sources.midi_choice('x..x') is None
  read = []

  def read_window(path, index, name):
    read.append((path, index, name))
    return cc.Taken(np.tile(np.array([[5, 0, 1, 2]], np.int16), (32, 1)), path)

  columns, said = control_sources.resolve(32, read_window, rhythm='groove.mid@2',
                                          register='low', chords='')
  assert read == [('groove.mid', 2, 'rhythm')]
  assert (columns[:, cc.RHYTHM] == 0).all() and (columns[:, cc.REGISTER] == 0).all()
  assert said['rhythm'] == 'from groove.mid' and said['chords'] == 'N.C. (default)'
  with pytest.raises(TypeError, match="unknown control 'tempo'"):
    control_sources.resolve(32, read_window, tempo='fast')


def test_boundaries_other_than_magentajs_take_pitches_only():
  assert cc.register_bin(60, boundaries=(55, 65)) == 1
  with pytest.raises(cc.ControlChoiceError, match='no names here'):
    cc.register_bin('low', boundaries=(55, 65))
  assert melody_controls.DEFAULT_REGISTER_BOUNDARIES == (50, 63, 70)


def test_the_controls_doc_lists_every_preset():
  """docs/controls.md's tables name every preset with its pattern, code or
  bin, and the defaults, as control_choices has them (they cannot drift)."""
  import re
  from pathlib import Path
  doc = (Path(__file__).resolve().parents[1] / 'docs' / 'controls.md').read_text()
  rows = {tuple(cell.strip().strip('`') for cell in m.group(1).split('|'))
          for m in re.finditer(r'^\|(.*)\|$', doc, re.M)}
  for name, pattern in cc.RHYTHMS.items():
    assert (name, pattern) in rows, name
  for name, code in cc.CONTOURS.items():
    assert (name, code) in rows, name
  assert {(name, str(b)) for name, b in cc.REGISTERS.items()} <= {row[:2] for row in rows}
  for name, value in cc.DEFAULTS.items():
    assert f'{name} `{value}`' in doc.replace('\n', ' '), name
