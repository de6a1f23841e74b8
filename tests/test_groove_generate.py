"""GrooVAE generation from the converted Magenta fixture: humanize, drumify,
sample, interpolate write expressive drum MIDI; bad input names the file."""

from pathlib import Path

import note_seq
import numpy as np
import pytest

from musicvae_jax import generate
from musicvae_jax.magenta import convert

FIXTURE = (Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta'
           / 'groovae_2bar_humanize')
KICK, SNARE, CHH = 36, 38, 42


@pytest.fixture(scope='module')
def groove_model(tmp_path_factory):
  if not FIXTURE.is_dir():
    pytest.skip(f'{FIXTURE} not present')
  from musicvae_jax.trained_model import TrainedModel
  prefix = FIXTURE / (FIXTURE / 'checkpoint_name.txt').read_text().strip()
  workdir = tmp_path_factory.mktemp('groove') / 'run'
  convert.convert_checkpoint('groovae_2bar_humanize', str(prefix), str(workdir),
                             hparams='z_size=16')
  return TrainedModel.from_workdir(workdir)


def _beat(tmp_path, write_midi, bars=4):
  """A quantized rock beat at 100 qpm, every hit at velocity 100."""
  step = 60 / 100 / 4
  notes = []
  for s in range(16 * bars):
    notes.append((CHH, s * step, s * step + step / 2) if s % 2 == 0 else None)
    if s % 8 == 0:
      notes.append((KICK, s * step, s * step + step / 2))
    if s % 8 == 4:
      notes.append((SNARE, s * step, s * step + step / 2))
  notes = [n for n in notes if n]
  return write_midi(tmp_path / 'beat.mid', notes, is_drum=True, qpm=100.0)


def _read(path):
  return note_seq.midi_file_to_note_sequence(str(path))


def test_converted_golden_encodes(groove_model):
  golden = dict(np.load(FIXTURE / 'golden.npz'))
  assert groove_model.config.output_family == 'groove'
  assert groove_model.config.dropout_keep_prob == 0.3
  _, mu, sigma = groove_model.encode_tensors(golden['encoder_inputs'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, golden['sigma'], atol=1e-4)


def test_humanize_writes_velocities_and_timing(groove_model, tmp_path):
  from conftest import write_midi
  beat = _beat(tmp_path, write_midi)
  out = tmp_path / 'out'
  items = generate.generate(groove_model, 'humanize', out, temperature=0.3,
                            input_midi=str(beat))
  assert [i['title'] for i in items] == ['input', 'humanize']
  for suffix in ('mid', 'png', 'wav'):
    assert (out / f'humanize.{suffix}').stat().st_size > 0
  ns = _read(out / 'humanize.mid')
  assert ns.notes and all(n.is_drum for n in ns.notes)
  assert ns.tempos[0].qpm == pytest.approx(100.0)           # the input's tempo kept
  # The MIDI holds exactly the decoded velocities and onsets (what perform does).
  windows, _ = groove_model.windows([_read(beat)])
  assert len(windows) == 2                                  # 4 bars, 2 windows
  batch = groove_model.batch_for(windows)
  assert not batch['inputs'][..., 9:].any()                 # humanize: hits only in
  _, mu, _ = groove_model.encode_tensors(batch['inputs'])
  decoded = groove_model.decode_to_tensors(mu, temperature=0.3)
  step = 60 / 100 / 4
  pitches = [c[0] for c in groove_model.converter.pitch_classes]
  want = []
  for i, w in enumerate(decoded):
    for t, j in zip(*np.nonzero(w[:, :9] > 0.5)):
      start = (t - np.clip(w[t, 18 + j] / 2, -0.5, 0.5)) * step + i * 32 * step
      want.append((round(max(0.0, start), 2), pitches[j],
                   int(np.clip(np.round(w[t, 9 + j] * 127), 0, 127))))
  got = [(round(n.start_time, 2), n.pitch, n.velocity) for n in ns.notes]
  assert sorted(got) == sorted(want)
  assert {v for _, _, v in got} != {100}                    # velocities came from the model


def test_micro_timing_and_velocities_survive_midi(tmp_path):
  """Decoded windows -> joined performance -> MIDI file -> the same onsets
  (to a MIDI tick) and velocities, at the given tempo."""
  from musicvae_jax import render
  from musicvae_jax.families.groove import data as groove
  from musicvae_jax.families.groove.trained import join_windows
  conv = groove.GrooveConverter(split_bars=1).for_inference()
  w = np.zeros((2, 16, 27), np.float32)
  w[0, 0, [0, 9, 18]] = [1, 0.9, 0.4]        # kick 0.2 step early at t = 0: clamped to 0
  w[0, 4, [1, 10, 19]] = [1, 0.5, -0.6]      # snare 0.3 step late
  w[1, 2, [2, 11, 20]] = [1, 0.25, 0.2]      # hat in the second window, 0.1 early
  qpm = 90.0
  step = 60 / qpm / 4
  seq = join_windows([conv.to_note_sequence(x, qpm=qpm) for x in w], 16 * step, qpm)
  render.write_midi(seq, tmp_path / 'perf.mid')
  back = sorted((n.start_time, n.pitch, n.velocity) for n in _read(tmp_path / 'perf.mid').notes)
  want = [(0.0, KICK, 114), ((4 + 0.3) * step, SNARE, 64), ((16 + 2 - 0.1) * step, CHH, 32)]
  assert [(p, v) for _, p, v in back] == [(p, v) for _, p, v in want]
  np.testing.assert_allclose([t for t, _, _ in back], [t for t, _, _ in want], atol=0.003)


def test_drumify_melodic_input(groove_model, tmp_path, make_midi):
  melody = make_midi('melody.mid')                          # pitched notes only
  out = tmp_path / 'drums'
  generate.generate(groove_model, 'drumify', out, temperature=0.3,
                    input_midi=str(melody))
  ns = _read(out / 'drumify.mid')
  assert ns.notes and all(n.is_drum for n in ns.notes)


def test_sample_and_interpolate(groove_model, tmp_path):
  from conftest import write_midi
  beat = _beat(tmp_path, write_midi, bars=2)
  samples = groove_model.sample(2, temperature=0.5, seed=0)
  assert len(samples) == 2
  again = groove_model.sample(2, temperature=0.5, seed=0)
  assert [n.velocity for n in samples[0].notes] == [n.velocity for n in again[0].notes]
  items = generate.generate(groove_model, 'interpolate', tmp_path / 'interp',
                            num_outputs=3, input_midi_1=str(beat), input_midi_2=str(beat))
  # The two input windows are written beside the three interpolation steps.
  assert [item['title'] for item in items] == [
      'input_a', 'input_b', 'interp_00', 'interp_01', 'interp_02']


def test_bad_input_names_the_file(groove_model, tmp_path, make_midi):
  melody = make_midi('tune.mid')
  with pytest.raises(ValueError, match=r'tune\.mid: no drum notes'):
    generate.generate(groove_model, 'humanize', tmp_path / 'x', input_midi=str(melody))
  with pytest.raises(ValueError, match='needs --input_midi'):
    generate.generate(groove_model, 'humanize', tmp_path / 'x')


def test_piano_roll_marks_timing_offsets():
  from note_seq.protobuf import music_pb2
  from musicvae_jax import render
  ns = music_pb2.NoteSequence()
  ns.tempos.add(qpm=120)
  for start, velocity in ((0.0, 100), (0.25 + 0.04, 60)):   # second hit late
    ns.notes.add(pitch=SNARE, start_time=start, end_time=start + 0.1,
                 velocity=velocity, is_drum=True, instrument=9)
  ns.total_time = 1.0
  pixels = np.asarray(render.piano_roll_image(ns))
  late = np.all(pixels == render.TIMING_LATE, axis=-1)
  assert late.any() and not np.all(pixels == render.TIMING_EARLY, axis=-1).any()
