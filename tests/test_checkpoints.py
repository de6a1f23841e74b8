"""Checkpoint retention, NaN handling and the samples written during training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import checkpoints, config_base, steps, trainer
from test_train_smoke import write_melodies


def test_keeps_latest_and_best_separately(tmp_path):
  config = config_base.base_config()
  ckpt = checkpoints.Checkpointer(tmp_path, keep_latest=2, keep_best=1, async_save=False)
  state = {'x': jnp.zeros(3)}
  # The newest checkpoints have the worst losses: they must survive anyway.
  for step, loss in zip(range(1, 7), [5.0, 1.0, 4.0, 3.0, 6.0, 7.0]):
    ckpt.save(step, state, config, {'batch': step}, loss)
  ckpt.wait()
  assert sorted(ckpt.all_steps()) == [2, 5, 6]
  assert ckpt.best_step() == 2 and ckpt.latest_step() == 6
  restored, data_state = ckpt.restore(state)
  assert data_state == {'batch': 6}
  ckpt.close()
  # After a restart the ranking is still known: a worse checkpoint does not
  # push out the best one.
  again = checkpoints.Checkpointer(tmp_path, keep_latest=2, keep_best=1, async_save=False)
  assert again.best_step() == 2
  again.save(7, state, config, {'batch': 7}, 9.0)
  again.wait()
  assert sorted(again.all_steps()) == [2, 6, 7]
  again.close()


def test_resolve_checkpoint_forms(tmp_path):
  config = config_base.base_config()
  ckpt = checkpoints.Checkpointer(tmp_path / 'run', async_save=False)
  ckpt.save(3, {'x': jnp.ones(2)}, config)
  ckpt.close()
  for path in (tmp_path / 'run', tmp_path / 'run' / 'checkpoints',
               tmp_path / 'run' / 'checkpoints' / '3'):
    assert checkpoints.resolve_checkpoint(path) == ((tmp_path / 'run').absolute(), 3)
  with pytest.raises(FileNotFoundError, match='holds no musicvae_jax checkpoint'):
    checkpoints.resolve_checkpoint(tmp_path)


def _tiny_config(tmp_path):
  write_melodies(tmp_path / 'midi', count=4, bars=6)
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  config.train_dir = str(tmp_path / 'midi')
  config.cache_dir = str(tmp_path / 'cache')
  config.num_workers = 1
  config.eval_fraction = 0.25
  config.num_steps = 6
  config.log_every_steps = 1
  return config


def test_nan_loss_stops_before_saving(tmp_path, monkeypatch):
  config = _tiny_config(tmp_path)
  real = steps.jit_steps  # builds the trainer's train step (with_grads=True)

  def poisoned(*args, **kwargs):
    train, *rest = real(*args, **kwargs)
    assert kwargs.get('with_grads')

    def train_nan_after_step_2(state, batch):
      new, metrics, grads = train(state, batch)
      if int(new.step) > 2:
        metrics = dict(metrics, loss=jnp.asarray(np.nan))
      return new, metrics, grads
    return (train_nan_after_step_2, *rest)

  monkeypatch.setattr(steps, 'jit_steps', poisoned)
  with pytest.raises(trainer.NonFiniteLossError, match='diverged before step 3'):
    trainer.train_and_evaluate(config, tmp_path / 'run')
  kept = checkpoints.Checkpointer(tmp_path / 'run', read_only=True)
  assert kept.latest_step() == 2  # the good checkpoint, never overwritten
  kept.close()


def test_advanced_interval_writes_samples(tmp_path):
  config = _tiny_config(tmp_path)
  config.advanced_every_steps = 3
  trainer.train_and_evaluate(config, tmp_path / 'run')
  written = sorted(p.name for p in (tmp_path / 'run' / 'samples').iterdir())
  assert written == ['step_0000003', 'step_0000006']
  assert len(list((tmp_path / 'run' / 'samples' / 'step_0000006').glob('*.mid'))) == 4
