"""generate: tempo, window choice, input checks before loading, quiet console,
attribute defaults, instrument names; TrainedModel's keyword-only arguments."""

import inspect
import subprocess
import sys
from pathlib import Path

import note_seq
import numpy as np
import pretty_midi
import pytest

from conftest import write_midi
from musicvae_jax import generate, render
from musicvae_jax.trained_model import TrainedModel

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def model(tiny_run):
  return TrainedModel.from_workdir(tiny_run[2])


def _tempo(path) -> float:
  return float(pretty_midi.PrettyMIDI(str(path)).get_tempo_changes()[1][0])


def test_decode_arguments_are_keyword_only_with_magentas_defaults(model):
  z = np.zeros((1, model.config.z_size), np.float32)
  with pytest.raises(TypeError):
    model.decode(z, 32)  # was a silent temperature of 32
  for method in (model.decode, model.decode_to_tensors, model.sample):
    params = inspect.signature(method).parameters
    assert params['temperature'].default == 1.0
    assert params['temperature'].kind is inspect.Parameter.KEYWORD_ONLY
    assert params['length'].kind is inspect.Parameter.KEYWORD_ONLY
  names = list(inspect.signature(model.decode).parameters)
  assert names.index('length') < names.index('temperature')  # Magenta's order
  ns = model.decode(z, length=16, temperature=1e-5, qpm=90)[0]
  assert ns.tempos[0].qpm == 90 and ns.total_time <= 2 * 60 / 90 * 4 + 1e-6


def test_sample_and_interpolate_keep_tempo_and_say_which_window(model, tiny_run, tmp_path):
  _, data, _ = tiny_run
  out = tmp_path / 'sample'
  generate.generate(model, 'sample', out, num_outputs=2, qpm=90.0)
  assert _tempo(out / 'sample_00.mid') == pytest.approx(90.0, rel=1e-4)
  slow = write_midi(tmp_path / 'slow.mid', [(60 + b, b * 0.6, b * 0.6 + 0.5)
                                            for b in range(12)], qpm=100.0)
  lines = []
  out = tmp_path / 'interp'
  items = generate.generate(model, 'interpolate', out, num_outputs=3,
                            input_midi_1=str(slow),
                            input_midi_2=str(data / 'm1_0.mid'), window_2=1,
                            log=lines.append)
  assert _tempo(out / 'interp_01.mid') == pytest.approx(100.0, rel=1e-4)  # input A's tempo
  assert [i['title'] for i in items][:2] == ['input_a', 'input_b']
  assert 'slow.mid: window 0 of 2' in lines[0] and '100 qpm' in lines[0]
  assert 'm1_0.mid: window 1 of 2' in lines[1]
  # The written input B is that file's second window: bars 2-3 (one step up).
  written = note_seq.midi_file_to_note_sequence(str(out / 'input_b.mid'))
  assert written.notes[0].pitch == 72 + 2
  with pytest.raises(ValueError, match=r'--window_2=2: .*m1_0.mid has 2 windows'):
    generate.prepare(model.config, 'interpolate', str(slow),
                     str(data / 'm1_0.mid'), 0, 2)


def test_attribute_defaults_to_the_runs_own_data(model, tmp_path):
  out = tmp_path / 'attr'
  generate.generate(model, 'attribute', out, num_outputs=2,
                    attribute='mean_pitch', amount=1.0)
  from musicvae_jax import input_pipeline
  data = input_pipeline.load(model.config, model.converter)  # the run's windows, from its cache
  count = len(data.train_windows) + len(data.eval_windows)
  page = (out / 'index.html').read_text()
  assert 'mean_pitch =' in page and f'vector from {count} windows' in page


def test_command_checks_inputs_first_and_keeps_the_console_quiet(tiny_run, tmp_path):
  _, data, workdir = tiny_run
  base = [sys.executable, '-m', 'musicvae_jax.generate', f'--workdir={workdir}',
          f'--output_dir={tmp_path / "out"}']
  bad = subprocess.run(base + ['--mode=interpolate', f'--input_midi_1={data / "m0_0.mid"}',
                               f'--input_midi_2={tmp_path / "missing.mid"}'],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
  assert bad.returncode != 0
  assert bad.stderr.strip().splitlines()[-1] == f'error: {tmp_path / "missing.mid"}: no such file'
  assert 'platform' not in bad.stdout  # failed before the model was loaded
  good = subprocess.run(base + ['--mode=sample', '--num_outputs=1'], cwd=REPO,
                        capture_output=True, text=True, timeout=300)
  assert good.returncode == 0, good.stderr[-2000:]
  lines = good.stdout.strip().splitlines()
  assert lines[0].startswith('platform cpu: 1 device') and 'parameters' in lines[0]
  assert lines[-1].startswith('wrote 1 outputs')
  assert 'checkpoint' not in good.stderr  # no orbax logging
  helptext = subprocess.run([sys.executable, '-m', 'musicvae_jax.generate', '--help'],
                            cwd=REPO, capture_output=True, text=True, timeout=120).stdout
  assert '<average_interval|c_diatonic|mean_pitch|note_density|pitch_range|' in helptext
  assert 'rest_fraction|syncopation_16th|syncopation_8th>' in helptext


def test_midi_tracks_are_named_by_role_and_instrument(tmp_path):
  ns = note_seq.NoteSequence()
  ns.tempos.add(qpm=120)
  ns.notes.add(pitch=60, velocity=80, start_time=0, end_time=1, instrument=0, program=0)
  ns.notes.add(pitch=40, velocity=80, start_time=0, end_time=1, instrument=1, program=33)
  ns.notes.add(pitch=36, velocity=80, start_time=0, end_time=1, instrument=9, is_drum=True)
  ns.total_time = 1
  render.write_midi(ns, tmp_path / 'trio.mid')
  names = [i.name for i in pretty_midi.PrettyMIDI(str(tmp_path / 'trio.mid')).instruments]
  assert names == ['melody: Acoustic Grand Piano', 'bass: Electric Bass (finger)', 'drums']
  assert not ns.instrument_infos  # the caller's sequence is untouched
