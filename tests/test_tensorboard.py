"""What a run writes to TensorBoard: scalars, sample audio and piano rolls,
config text, parameter and gradient histograms, hparams with final metrics."""

import struct
from pathlib import Path

import pytest
from tensorboardX.proto import event_pb2


def read_events(folder: Path) -> list:
  """Every Event of the TFRecord event files directly in `folder`."""
  events = []
  for path in sorted(folder.glob('events.out.tfevents.*')):
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
      (length,) = struct.unpack('<Q', data[pos:pos + 8])
      record = data[pos + 12:pos + 12 + length]
      pos += 12 + length + 4
      events.append(event_pb2.Event.FromString(record))
  return events


def _values(events):
  out = {}
  for event in events:
    for value in event.summary.value:
      out.setdefault(value.tag, []).append((event.step, value))
  return out


def test_run_writes_media_text_histograms_and_hparams(tiny_run):
  _, _, workdir = tiny_run
  values = _values(read_events(workdir / 'tensorboard'))
  assert 'train/loss' in values and 'eval/accuracy_teacher_forced' in values
  # Samples at the advanced interval (10 and 20): audio and piano roll each.
  for i in range(4):
    audio = values[f'samples/audio_{i}']
    assert [step for step, _ in audio] == [10, 20]
    assert audio[0][1].audio.sample_rate == 16000
    assert audio[0][1].audio.encoded_audio_string[:4] == b'RIFF'
    image = values[f'samples/piano_roll_{i}'][0][1].image
    assert image.encoded_image_string[:4] == b'\x89PNG' and image.width > 100
  assert (workdir / 'samples' / 'step_0000010' / 'sample_0.mid').exists()
  # Config as text.
  text = values['config/text_summary'][0][1]
  assert b'"batch_size": 8' in text.tensor.string_val[0]
  # Histograms of every parameter and gradient at steps 10 and 20.
  params = [t for t in values if t.startswith('params/')]
  grads = [t for t in values if t.startswith('gradients/')]
  assert 'params/encoder/mu/kernel' in params
  assert sorted(t.split('/', 1)[1] for t in grads) == sorted(t.split('/', 1)[1] for t in params)
  kernel = values['gradients/encoder/mu/kernel']
  assert [s for s, _ in kernel] == [10, 20] and kernel[0][1].histo.num == 32 * 2 * 8
  assert kernel[0][1].histo.max > kernel[0][1].histo.min  # real gradients, not zeros
  # hparams: scalar config fields and the final eval metrics.
  hp = _values(read_events(workdir / 'tensorboard' / 'hparams'))
  assert hp['hparam/loss'][0][1].simple_value > 0
  assert hp['hparam/step'][0][1].simple_value == 20
  plugin = [v for v in hp.values() for _, v in v if v.metadata.plugin_data.plugin_name == 'hparams']
  assert plugin and any(b'learning_rate' in v.metadata.plugin_data.content for v in plugin)


def test_per_bar_accuracy_summary_for_hierarchical_models():
  import numpy as np
  from musicvae_jax.families.categorical.objective import CategoricalObjective
  sums = {k: np.float32(4) for k in ('examples', 'loss', 'r_loss', 'r_loss_teacher_forced',
                                     'r_loss_sampled', 'kl_loss', 'kl_bits')}
  for mode in ('teacher_forced', 'sampled'):
    for key in ('correct', 'count', 'event_correct', 'event_count'):
      sums[f'{mode}_{key}'] = np.array([1.0])
  sums['bar_correct'] = np.array([3.0, 1.0])
  sums['bar_count'] = np.array([4.0, 4.0])
  out = CategoricalObjective((130,)).summarise_eval(sums, ('melody',))
  assert out['bar_accuracy/00'] == pytest.approx(0.75)
  assert out['bar_accuracy/01'] == pytest.approx(0.25)


def test_step_with_gradients_is_the_plain_step_plus_its_gradients():
  """The trainer's step is `train_step` itself with `return_grads`: same
  state and metrics, plus a gradient per parameter (shapes only, no compile:
  `jax.eval_shape`)."""
  import jax
  import numpy as np
  from musicvae_jax import config_base, family, steps
  from musicvae_jax.models import MusicVAE
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  config.batch_size = 2
  parts = family.build(config)
  model, objective = parts.model, parts.objective
  assert isinstance(model, MusicVAE)
  batch = objective.example_batch(config, config.batch_size)
  state = jax.eval_shape(lambda: steps.create_train_state(config, model, objective, batch))
  plain, _, _ = steps.jit_steps(config, model, objective)
  with_grads, _, _ = steps.jit_steps(config, model, objective, with_grads=True)
  one, m1 = jax.eval_shape(plain, state, batch)
  two, m2, grads = jax.eval_shape(with_grads, state, batch)
  assert jax.tree.structure(one) == jax.tree.structure(two)
  assert jax.tree.map(lambda x: x.shape, m1) == jax.tree.map(lambda x: x.shape, m2)
  assert jax.tree.map(lambda x: (x.shape, x.dtype), grads) == jax.tree.map(
      lambda x: (x.shape, x.dtype), state.params)
