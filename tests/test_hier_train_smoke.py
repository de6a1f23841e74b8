"""hier-mel_16bar trains with the ordinary entry point (no branch in the
training loop) and its workdir encodes through TrainedModel (the decoder is
hierdec-mel_16bar's; tests/test_magenta_golden_hier.py checks its sampling)."""

import note_seq
import numpy as np

from test_train_smoke import run_train, write_melodies


def test_hier_mel_tiny_trains_and_encodes(tmp_path):
  data, workdir, cache = tmp_path / 'midi', tmp_path / 'run', tmp_path / 'cache'
  write_melodies(data, count=4)
  result = run_train(workdir, data, cache, 4, 'configs/hier_mel_16bar.py:tiny')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'step 4 [eval]' in result.stdout

  from musicvae_jax.trained_model import TrainedModel
  model = TrainedModel.from_workdir(workdir)
  assert tuple(model.config.encoder_levels) == (16, 16)
  assert set(model.params['encoder']) == {'level_0', 'level_1', 'mu', 'sigma'}
  ns = note_seq.midi_file_to_note_sequence(str(data / 'tune_00.mid'))
  z, mu, sigma = model.encode([ns], on_multiple='first')
  assert z.shape == mu.shape == sigma.shape == (1, model.config.z_size)
  assert np.isfinite(mu).all() and (sigma > 0).all()
