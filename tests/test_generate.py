"""TrainedModel and the generate command on a tiny model trained in the test."""

import subprocess
import sys
import wave
from pathlib import Path

import note_seq
import numpy as np
import pretty_midi
import pytest
from PIL import Image

from musicvae_jax import config_base, render, trainer
from musicvae_jax.trained_model import ExtractionError, TrainedModel

REPO = Path(__file__).resolve().parents[1]
MOTIFS = [[60, 62, 64, 65], [72, 71, 69, 67], [60, 64, 67, 72], [67, 67, 62, 62]]


def write_motif(path: Path, motif, bars: int = 2) -> None:
  """A 4/4 piano line repeating `motif` in quarter notes at 120 qpm."""
  pm = pretty_midi.PrettyMIDI(initial_tempo=120)
  piano = pretty_midi.Instrument(program=0)
  for beat in range(4 * bars):
    t = beat * 0.5
    piano.notes.append(pretty_midi.Note(90, motif[beat % 4], t, t + 0.45))
  pm.instruments.append(piano)
  pm.write(str(path))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp('gen')
  data = root / 'midi'
  data.mkdir()
  for i, motif in enumerate(MOTIFS):
    for shift in (0, 2, 5):
      write_motif(data / f'm{i}_{shift}.mid', [p + shift for p in motif])
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  config.train_dir = str(data)
  config.cache_dir = str(root / 'cache')
  config.eval_fraction = 0.2
  config.num_workers = 1
  config.max_transpose = 0
  config.z_size, config.enc_rnn_sizes, config.dec_rnn_sizes = 16, (64,), (64,)
  config.batch_size, config.num_steps = 12, 300
  config.learning_rate, config.decay_rate = 5e-3, 0.9999
  config.sampling_schedule, config.max_beta, config.beta_rate = 'none', 0.01, 0.99
  config.eval_every_steps = config.checkpoint_every_steps = 300
  config.log_every_steps = 100
  trainer.train_and_evaluate(config, root / 'run')
  return root, data, TrainedModel.from_workdir(root / 'run')


def test_encode_decode_shapes_and_errors(trained):
  _, data, model = trained
  ns = note_seq.midi_file_to_note_sequence(str(data / 'm0_0.mid'))
  z, mu, sigma = model.encode([ns])
  assert z.shape == mu.shape == sigma.shape == (1, 16)
  tokens = model.decode_to_tensors(mu, temperature=1e-5)
  assert tokens.shape == (1, 32, 1)
  empty = note_seq.NoteSequence()
  with pytest.raises(ExtractionError, match='sequence 0 .* no 2-bar melody window'):
    model.encode([empty])
  long = note_seq.NoteSequence()
  long.tempos.add(qpm=120)
  for bar, motif in enumerate(MOTIFS):  # 4 different bars -> 3 windows
    for beat, pitch in enumerate(motif):
      t = bar * 2.0 + beat * 0.5
      long.notes.add(pitch=pitch, velocity=90, start_time=t, end_time=t + 0.45)
  long.total_time = 8.0
  with pytest.raises(ExtractionError, match='gave 3 windows'):
    model.encode([long])
  assert model.encode([long], on_multiple='all')[1].shape == (3, 16)
  assert model.encode([long], on_multiple='first')[1].shape == (1, 16)


def _accuracy(model, tokens, z):
  decoded = model.decode_to_tensors(z, temperature=1e-5)
  return (decoded == tokens).mean()


def test_interpolation_endpoints_reconstruct_and_middle_differs(trained):
  _, data, model = trained
  a = note_seq.midi_file_to_note_sequence(str(data / 'm0_0.mid'))
  b = note_seq.midi_file_to_note_sequence(str(data / 'm1_0.mid'))
  wa, _ = model.windows([a])
  wb, _ = model.windows([b])
  steps = model.interpolate(a, b, num_steps=5, temperature=1e-5)
  assert len(steps) == 5
  tokens = [model.converter.to_windows(s) for s in steps]
  end_a = (model.converter.all_windows(steps[0])[:1] == wa).mean() if len(tokens[0]) else 0
  end_b = (model.converter.all_windows(steps[-1])[:1] == wb).mean() if len(tokens[-1]) else 0
  rng = np.random.default_rng(1)
  random_z = rng.standard_normal((8, 16)).astype(np.float32)
  random_acc = np.mean([_accuracy(model, wa, z[None]) for z in random_z])
  _, mu, _ = model.encode([a])
  assert _accuracy(model, wa, mu) > random_acc
  assert end_a > random_acc and end_b > random_acc
  middle = model.windows([steps[2]])[0] if len(tokens[2]) else np.zeros_like(wa)
  assert not np.array_equal(middle, wa) and not np.array_equal(middle, wb)


def test_sampling_is_deterministic_by_seed(trained):
  _, _, model = trained
  one = model.sample(3, temperature=1.0, seed=7)
  two = model.sample(3, temperature=1.0, seed=7)
  other = model.sample(3, temperature=1.0, seed=8)
  assert [s.SerializeToString() for s in one] == [s.SerializeToString() for s in two]
  assert [s.SerializeToString() for s in one] != [s.SerializeToString() for s in other]


def _run_generate(root, mode, out, *extra):
  cmd = [sys.executable, '-m', 'musicvae_jax.generate', f'--workdir={root / "run"}',
         f'--mode={mode}', f'--output_dir={out}', '--num_outputs=3', '--seed=3', *extra]
  result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def test_generate_command_writes_valid_files(trained, tmp_path):
  root, data, _ = trained
  out = tmp_path / 'samples'
  _run_generate(root, 'sample', out)
  for i in range(3):
    midi = pretty_midi.PrettyMIDI(str(out / f'sample_{i:02d}.mid'))
    assert midi.get_end_time() <= 4.0 + 1e-6  # 2 bars at 120 qpm
    Image.open(out / f'sample_{i:02d}.png').verify()
    with wave.open(str(out / f'sample_{i:02d}.wav')) as w:
      assert w.getframerate() == 22050
      # 2 bars at 120 qpm plus the synthesiser's release tail
      assert w.getnframes() == pytest.approx((4.0 + render.RELEASE_SECONDS) * 22050, abs=2)
  page = (out / 'index.html').read_text()
  assert page.count('<audio') == 3 and 'sample_02.png' in page
  # Same seed, same files.
  again = tmp_path / 'again'
  _run_generate(root, 'sample', again)
  for name in ('sample_00.mid', 'sample_01.wav', 'sample_02.png'):
    assert (out / name).read_bytes() == (again / name).read_bytes()


def test_generate_interpolate_and_reconstruct(trained, tmp_path):
  root, data, _ = trained
  out = tmp_path / 'interp'
  _run_generate(root, 'interpolate', out, f'--input_midi_1={data / "m0_0.mid"}',
                f'--input_midi_2={data / "m1_0.mid"}', '--temperature=0.01')
  assert (out / 'interpolation.png').exists()
  assert len(list(out.glob('interp_*.mid'))) == 3
  recon = tmp_path / 'recon'
  _run_generate(root, 'reconstruct', recon, f'--input_midi_1={data / "m2_0.mid"}')
  assert (recon / 'original_00.mid').exists() and (recon / 'reconstruction_00.mid').exists()
  # The MIDI we write parses back to the notes of the window.
  original = note_seq.midi_file_to_note_sequence(str(recon / 'original_00.mid'))
  assert [n.pitch for n in original.notes][:4] == [p + 0 for p in MOTIFS[2]]


def test_generate_attribute(trained, tmp_path):
  root, data, _ = trained
  out = tmp_path / 'attr'
  _run_generate(root, 'attribute', out, '--attribute=mean_pitch', '--amount=2',
                f'--attribute_dir={data}')
  page = (out / 'index.html').read_text()
  assert 'mean_pitch =' in page
