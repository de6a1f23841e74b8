"""The categorical objective's summarise_eval turns summed eval counts into averages worked out by hand."""

import numpy as np
import pytest

from musicvae_jax.families.categorical.objective import summarise_eval


def _sums():
  sums = {'examples': 2.0, 'loss': 10.0, 'r_loss': 8.0, 'r_loss_teacher_forced': 8.0,
          'r_loss_sampled': 9.0, 'kl_loss': 2.0, 'kl_bits': 6.0,
          'bar_correct': np.array([3.0, 1.0]), 'bar_count': np.array([4.0, 4.0])}
  for mode in ('teacher_forced', 'sampled'):
    sums[f'{mode}_correct'] = np.array([6.0, 2.0])
    sums[f'{mode}_count'] = np.array([8.0, 8.0])
    sums[f'{mode}_event_correct'] = np.array([1.0, 1.0])
    sums[f'{mode}_event_count'] = np.array([2.0, 4.0])
  # part 0: class 0 2/2, class 1 1/4, class 2 unseen; part 1: class 0 0/1, class 1 1/1
  sums['class_correct/0'], sums['class_count/0'] = np.array([2., 1., 0.]), np.array([2., 4., 0.])
  sums['class_correct/1'], sums['class_count/1'] = np.array([0., 1.]), np.array([1., 1.])
  return sums


def test_summarise_eval_by_hand():
  out = summarise_eval(_sums(), ('melody', 'bass'))
  assert out['loss'] == 5.0 and out['kl_bits'] == 3.0 and out['r_loss_sampled'] == 4.5
  assert out['accuracy_teacher_forced'] == pytest.approx(8 / 16)
  assert out['accuracy_teacher_forced/melody'] == pytest.approx(6 / 8)
  assert out['accuracy_sampled/bass'] == pytest.approx(2 / 8)
  assert out['event_accuracy_teacher_forced'] == pytest.approx(2 / 6)
  assert out['mean_per_class_accuracy/melody'] == pytest.approx((1.0 + 0.25) / 2)
  assert out['mean_per_class_accuracy/bass'] == pytest.approx(0.5)
  assert out['mean_per_class_accuracy'] == pytest.approx((0.625 + 0.5) / 2)
  assert out['bar_accuracy/00'] == 0.75 and out['bar_accuracy/01'] == 0.25


def test_single_part_has_no_per_part_keys():
  sums = _sums()
  for mode in ('teacher_forced', 'sampled'):
    for key in ('correct', 'count', 'event_correct', 'event_count'):
      sums[f'{mode}_{key}'] = sums[f'{mode}_{key}'][:1]
  del sums['class_correct/1'], sums['class_count/1']
  out = summarise_eval(sums, ('melody',))
  assert out['mean_per_class_accuracy'] == pytest.approx(0.625)
  assert not any('/' in k and not k.startswith('bar_') for k in out)
