"""Melody control encodings (data/melody_controls.py): hand-worked values, and
the same outputs as @magenta/music's own encoders in Node on random melodies
(skipped without Node or an installed @magenta/music)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from musicvae_jax.data import melody_controls as mc

REPO = Path(__file__).resolve().parents[1]
# min_pitch 60 below: token = pitch - 58; C4 = 2, D4 = 4, E4 = 6, G4 = 9
C4, D4, E4, G4 = 2, 4, 6, 9


def test_rhythm_marks_onsets_only():
  events = [0, C4, 0, 1, D4, E4, E4, 1]
  np.testing.assert_array_equal(mc.rhythm(events)[:, 0], [0, 1, 0, 0, 1, 1, 1, 0])
  assert mc.rhythm(events).shape == (8, 1)


def test_shape_hand_worked():
  # onsets: 1 C4, 3 E4 (up), 4 E4 (same), 5 C4 (down), 6 G4 (up); 7 repeats step 6.
  # The first direction (up) also covers the steps before the second onset (0..3).
  events = [0, C4, 0, E4, E4, C4, G4, 1]
  np.testing.assert_array_equal(mc.shape(events).argmax(1), [2, 2, 2, 2, 1, 0, 2, 2])
  assert (mc.shape(events).sum(1) == 1).all()


def test_shape_edge_cases():
  # no notes, or one: all "same"
  np.testing.assert_array_equal(mc.shape([0] * 4).argmax(1), [1] * 4)
  np.testing.assert_array_equal(mc.shape([0, D4, 0, 1]).argmax(1), [1] * 4)
  # one note on the last step: every row stays zero (magenta.js does this)
  assert not mc.shape([0, 0, 0, D4]).any()
  # two notes ending on the last step: down over every step, nothing after
  np.testing.assert_array_equal(mc.shape([0, E4, 0, C4]).argmax(1), [0] * 4)


def test_register_weights_by_sounding_steps():
  # C4 sounds steps 1-2, E4 4-5, G4 6 (off at 7): (60*2 + 64*2 + 67) / 5 = 63.0
  events = [0, C4, 0, 1, E4, 0, G4, 1]
  reg = mc.register(events, boundaries=(60, 63, 72), min_pitch=60)
  assert reg.shape == (8, 4)
  np.testing.assert_array_equal(reg.argmax(1), [2] * 8)      # 63.0 >= 63: bin 2
  assert (reg.sum(1) == 1).all()
  np.testing.assert_array_equal(mc.register(events, (64,), 60).argmax(1), [0] * 8)
  assert not mc.register([0, 1, 0], (60,), 60).any()          # nothing sounds


def test_melody_events_like_fromnotesequence():
  # (pitch, start, end); two notes at step 6: the higher (67) is kept; its off at 7;
  # 65's off at 8 is past the window
  notes = [(60, 1, 3), (62, 4, 5), (64, 5, 6), (65, 6, 8), (67, 6, 7)]
  np.testing.assert_array_equal(mc.melody_events(notes, 8, 60, 72),
                                [0, 2, 0, 1, 4, 6, 9, 1])
  with pytest.raises(mc.ControlError, match='pitch 80 outside 60..72'):
    mc.melody_events([(80, 0, 1)], 4, 60, 72)


def test_chord_encoders_hand_worked():
  triad = mc.encode_chord('F#dim', 'TriadChordEncoder')
  assert triad.shape == (49,) and np.flatnonzero(triad).tolist() == [37 + 6]
  assert np.flatnonzero(mc.encode_chord('Am', 'MajorMinorChordEncoder')).tolist() == [13 + 9]
  assert np.flatnonzero(mc.encode_chord('N.C.', 'PitchChordEncoder')).tolist() == [0]
  # G7: root G (7); pitch classes G B D F (7 11 2 5); bass = root
  pitch = mc.encode_chord('G7', 'PitchChordEncoder')
  assert np.flatnonzero(pitch).tolist() == [1 + 7, 13 + 2, 13 + 5, 13 + 7, 13 + 11, 25 + 7]
  assert mc.chord_quality('G7') == 0 and mc.chord_quality('Bm7b5') == 3
  with pytest.raises(mc.ControlError, match='no class in MajorMinorChordEncoder'):
    mc.encode_chord('Bdim', 'MajorMinorChordEncoder')
  with pytest.raises(mc.ControlError, match='unrecognised chord symbol'):
    mc.encode_chord('Hxyz')
  with pytest.raises(mc.ControlError, match='chord encoder'):
    mc.encode_chord('C', 'OtherEncoder')


def test_progression_steps_and_control_concatenation():
  # 3 chords over 8 steps: floor(t * 3 / 8) = 0 0 0 1 1 1 2 2
  prog = mc.chord_progression(['C', 'F', 'G'], 8, 'TriadChordEncoder')
  np.testing.assert_array_equal(prog.argmax(1), [1, 1, 1, 6, 6, 6, 8, 8])
  events = [0, C4, 0, E4, E4, C4, G4, 1]
  controls = mc.control_tensor(8, chords=['C'], key_index=7,
                               extra=[('rhythm', mc.rhythm(events)),
                                      ('shape', mc.shape(events))])
  assert controls.shape == (8, 49 + 12 + 1 + 3)
  np.testing.assert_array_equal(controls[:, 49:61].argmax(1), [7] * 8)
  np.testing.assert_array_equal(controls[:, 61], mc.rhythm(events)[:, 0])
  with pytest.raises(mc.ControlError, match="control 'shape' of shape"):
    mc.control_tensor(8, extra=[('shape', np.zeros((4, 3)))])
  with pytest.raises(mc.ControlError, match='key 12'):
    mc.key(12, 8)


# -- against @magenta/music in Node --------------------------------------------------
def _node_modules() -> Path:
  folder = Path(os.environ.get('MUSICVAE_NODE_DIR',
                               Path.home() / '.cache' / 'musicvae_jax' / 'node')) / 'node_modules'
  if not shutil.which('node'):
    pytest.skip('Node.js not installed')
  if not (folder / '@magenta' / 'music' / 'node' / 'core.js').exists():
    pytest.skip(f'no @magenta/music under {folder} (scripts/install_magentajs.sh installs it)')
  return folder


def _random_melodies(rng, count, steps):
  out = []
  for _ in range(count):
    kind = rng.random(steps)
    tokens = np.where(kind < 0.35, rng.integers(2, 90, steps),
                      np.where(kind < 0.45, mc.NOTE_OFF, mc.NO_EVENT))
    if rng.random() < 0.2:
      tokens[:] = 0
      tokens[rng.integers(steps)] = rng.integers(2, 90)   # one note (maybe on the last step)
    out.append(tokens.astype(int).tolist())
  return out


def test_same_encodings_as_magentajs(tmp_path):
  modules = _node_modules()
  rng = np.random.default_rng(0)
  melodies = _random_melodies(rng, 60, 32)
  note_lists = []
  for _ in range(20):
    starts = rng.integers(0, 32, 8)
    note_lists.append([[int(rng.integers(21, 109)), int(s), int(s + rng.integers(1, 8))]
                       for s in starts])
  # Symbols on which note-seq's parser and magenta.js' (tonal) agree; see the
  # module docstring for those they read differently.
  symbols = ['C', 'Am', 'F#', 'Bbm', 'Ebaug', 'G#dim', 'G7', 'Cmaj7', 'Dm7', 'Bm7b5',
             'E7', 'C6', 'Cm7', 'Cdim7', 'C9', 'Csus4', 'Csus2', 'Cadd9', 'C+', 'Cm',
             'CM7', 'Caug7', 'Co', 'Db', 'Gb7', 'A#m', 'N.C.']
  chords = [{'encoder': enc, 'progression': [s], 'num_steps': 2}
            for enc in mc.CHORD_ENCODERS for s in symbols]
  chords.append({'encoder': 'TriadChordEncoder', 'progression': ['C', 'F', 'G'], 'num_steps': 32})
  request = {'min_pitch': 21, 'max_pitch': 108, 'num_steps': 32,
             'boundaries': list(mc.DEFAULT_REGISTER_BOUNDARIES), 'melodies': melodies,
             'note_lists': note_lists, 'chords': chords}
  path = tmp_path / 'input.json'
  path.write_text(json.dumps(request))
  done = subprocess.run(['node', str(REPO / 'tests' / 'melody_controls_check.js'),
                         str(modules), str(path)], capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  js = json.loads(done.stdout.strip().splitlines()[-1])
  for i, events in enumerate(melodies):
    np.testing.assert_array_equal(mc.rhythm(events), js['rhythm'][i], err_msg=f'rhythm {i}')
    np.testing.assert_array_equal(mc.shape(events), js['shape'][i], err_msg=f'shape {i}')
    np.testing.assert_array_equal(mc.register(events), js['register'][i], err_msg=f'register {i}')
  for i, notes in enumerate(note_lists):
    np.testing.assert_array_equal(mc.melody_events([tuple(n) for n in notes], 32),
                                  js['events'][i], err_msg=f'events {i}')
  for c, expected in zip(chords, js['chords']):
    label = f"{c['encoder']} {c['progression']}"
    if expected is None:
      with pytest.raises(mc.ControlError):
        mc.chord_progression(c['progression'], c['num_steps'], c['encoder'])
    else:
      np.testing.assert_array_equal(
          mc.chord_progression(c['progression'], c['num_steps'], c['encoder']),
          expected, err_msg=label)
