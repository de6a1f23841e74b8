"""A 3/4 (and 6/8) model end to end: tiny trainings on hand-made waltzes,
samples and MIDI files in the model's meter (issue 26 point 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from musicvae_jax import config_base, trainer
from musicvae_jax.render.midi import write_midi
from musicvae_jax.trained_model import TrainedModel


def write_tunes(folder: Path, meter=(3, 4), count: int = 6, bars: int = 18,
                seed: int = 0) -> None:
  """`count` files `<num>-<den>_<i>.mid` of `bars` bars."""
  # Piano melodies in `meter` at 120 qpm, a note every 8th or quarter.
  rng = np.random.default_rng(seed)
  folder.mkdir(parents=True, exist_ok=True)
  bar = meter[0] * 4.0 / meter[1] * 0.5          # seconds at 120 qpm
  scale = [60, 62, 64, 65, 67, 69, 71, 72]
  for i in range(count):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*meter, 0.0))
    piano = pretty_midi.Instrument(program=0)
    t = 0.0
    while t < bars * bar - 1e-9:
      length = float(rng.choice([0.25, 0.5]))
      piano.notes.append(pretty_midi.Note(90, int(rng.choice(scale)), t, t + length * 0.9))
      t += length
    pm.instruments.append(piano)
    pm.write(str(folder / f'{meter[0]}-{meter[1]}_{i:02d}.mid'))


@pytest.mark.parametrize('spec,meter', [('mel_2bar:tiny', '3/4'), ('hier:tiny', '3/4'),
                                        ('mel_2bar:tiny', '6/8')])
def test_tiny_training_samples_in_the_models_meter(tmp_path, spec, meter):
  numerator, denominator = map(int, meter.split('/'))
  data = tmp_path / 'midi'
  write_tunes(data, (numerator, denominator))
  write_tunes(data, (4, 4), count=2, seed=1)     # skipped: another meter
  config = config_base.load_config_file(spec)
  config_base.set_meter(config, meter)
  config.train_dir, config.cache_dir = str(data), str(tmp_path / 'cache')
  config.num_workers, config.eval_fraction = 1, 0.25
  trainer.train_and_evaluate(config, tmp_path / 'run')

  model = TrainedModel.from_workdir(tmp_path / 'run')
  bars = config.slice_bars
  assert model.config.meter == meter and model.seq_len == bars * 12
  samples = model.sample(2, temperature=0.5)
  for ns in samples:
    assert [(t.numerator, t.denominator) for t in ns.time_signatures] == [
        (numerator, denominator)]
    assert ns.total_time == pytest.approx(bars * 1.5)   # 12 sixteenths = 1.5 s at 120 qpm
  write_midi(samples[0], tmp_path / 'sample.mid')
  midi = pretty_midi.PrettyMIDI(str(tmp_path / 'sample.mid'))
  assert [(t.numerator, t.denominator) for t in midi.time_signature_changes] == [
      (numerator, denominator)]
  # A tune in the model's meter encodes; its windows are whole bars of it.
  z, _, _ = model.encode([pretty_midi_to_ns(data / f'{numerator}-{denominator}_00.mid')],
                         on_multiple='first')
  assert z.shape == (1, config.z_size)


def pretty_midi_to_ns(path):
  from musicvae_jax.data import midi_io
  return midi_io.load_note_sequence(path)
