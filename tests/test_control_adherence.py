"""control_adherence.py against values worked by hand, and the script on a
tiny multicontrol run."""

import numpy as np
import pytest
from test_multicontrol import trained  # noqa: F401  (a fixture, used by name)

from musicvae_jax import control_adherence
from musicvae_jax.data import chords, melody_controls


def _melody(pitches_at: dict[int, int], steps: int = 16) -> np.ndarray:
  """Tokens `[T]`: a note starting at each step of `pitches_at`, held to the next."""
  tokens = np.zeros(steps, np.int16)
  for step, pitch in pitches_at.items():
    tokens[step] = pitch - 21 + melody_controls.FIRST_PITCH
  return tokens


def _controls(onsets, shape, register_bin, chord):
  steps = len(shape)
  out = np.zeros((steps, 4), np.int16)
  out[:, 0] = chords.chord_class(chord)
  out[:, 1] = -1
  out[list(onsets), 1] = 0
  out[:, 2] = shape
  out[:, 3] = register_bin
  return out


# C E G E on quarter notes: moves up, up, down; mean pitch 63.75 -> bin 2 (63 <= . < 70)
MELODY = _melody({0: 60, 4: 64, 8: 67, 12: 64})
OWN_SHAPE = [2] * 5 + [2] * 4 + [0] * 4 + [0] * 3


def test_a_melody_against_its_own_signals_agrees_exactly():
  found = control_adherence.adherence(MELODY[None], _controls([0, 4, 8, 12], OWN_SHAPE, 2, 'C')[None])
  assert found['rhythm'] == {'precision': 1.0, 'recall': 1.0, 'f1': 1.0}
  assert found['shape_accuracy'] == 1.0 and found['register_accuracy'] == 1.0
  assert found['chord_tone_share'] == 1.0 and found['notes_per_window'] == 4.0


def test_each_figure_worked_by_hand():
  shape = list(OWN_SHAPE)
  shape[0:4] = [1] * 4                    # 4 of 16 steps ask for another class
  requested = _controls([0, 4, 8, 10], shape, 1, 'Am')
  found = control_adherence.adherence(MELODY[None], requested[None])
  assert found['rhythm']['f1'] == pytest.approx(0.75)      # 3 of 4 made, 3 of 4 asked
  assert found['shape_accuracy'] == pytest.approx(12 / 16)
  assert found['register_accuracy'] == 0.0                 # bin 2 made, 1 asked
  assert found['chord_tone_share'] == pytest.approx(3 / 4)  # C, E, E in A C E; G not


def test_steps_without_a_request_are_not_counted():
  requested = _controls([0, 4, 8, 12], [-1] * 16, -1, 'N.C.')
  found = control_adherence.adherence(MELODY[None], requested[None])
  assert found['shape_accuracy'] == 0.0 and found['register_accuracy'] == 0.0
  assert found['chord_tone_share'] == 0.0      # no chord asked anywhere: nothing counted


def test_shapes_must_match():
  with pytest.raises(ValueError, match=r'expected \[n, T\] and \[n, T, 4\]'):
    control_adherence.adherence(MELODY[None], np.zeros((1, 8, 4)))


def test_the_script_scores_a_multicontrol_run(trained, tmp_path):  # noqa: F811
  """Followed, chance and data rows on a tiny run (figures in range; the
  data row agrees exactly by construction)."""
  import json
  import scripts_as_modules
  _, data = trained
  script = scripts_as_modules.load('control_adherence.py')
  script.main([f'--workdir={data.parent / "run"}', f'--output={tmp_path / "a.json"}'])
  report = json.loads((tmp_path / 'a.json').read_text())
  figures = report['figures']
  assert figures['data']['rhythm']['f1'] == 1.0 and figures['data']['shape_accuracy'] == 1.0
  for row in ('followed', 'chance'):
    assert 0.0 <= figures[row]['rhythm']['f1'] <= 1.0
    assert figures[row]['windows'] == report['windows'] == figures['data']['windows'] > 0


def test_the_script_refuses_a_run_without_multicontrol(tiny_run):
  import scripts_as_modules
  _, _, workdir = tiny_run
  with pytest.raises(SystemExit, match="config.controls='': this needs a multicontrol run"):
    scripts_as_modules.load('control_adherence.py').main([f'--workdir={workdir}'])
