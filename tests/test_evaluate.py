"""The evaluate command on a tiny run trained in the test, and its errors."""

import json

import numpy as np
import pretty_midi
import pytest

from musicvae_jax import config_base, evaluate, trainer


def _write_song(path, base):
  pm = pretty_midi.PrettyMIDI(initial_tempo=120)
  piano = pretty_midi.Instrument(program=0)
  for beat in range(8):
    t = beat * 0.5
    piano.notes.append(pretty_midi.Note(90, base + (beat % 4) * 2, t, t + 0.45))
  pm.instruments.append(piano)
  pm.write(str(path))


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  root = tmp_path_factory.mktemp('evaluate')
  data = root / 'midi'
  data.mkdir()
  for i in range(6):
    _write_song(data / f's{i}.mid', 60 + i)
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  config.train_dir = str(data)
  config.cache_dir = str(root / 'cache')
  config.eval_fraction = 0.34
  config.num_workers = 1
  config.max_transpose = 0
  config.eval_greedy_windows = 4
  metrics = trainer.train_and_evaluate(config, root / 'run')
  return root, metrics


def test_evaluate_command_writes_json_and_table(run, capsys):
  run, _ = run
  out = run / 'eval.json'
  assert evaluate.main([f'--workdir={run / "run"}', f'--output={out}',
                        '--num_samples_k=3', '--seeds=2']) == 0
  report = json.loads(out.read_text())
  printed = capsys.readouterr().out
  assert 'greedy' in printed and 'active units' in printed
  assert report['step'] == 4 and report['windows'] > 0
  assert 'held-out' in report['eval_set']
  for mode in ('teacher_forced', 'greedy', 'temperature_1'):
    figures = report[mode]
    assert 0.0 <= figures['accuracy'] <= 1.0
    assert set(figures['onset']) == {'precision', 'recall', 'f1'}
    assert 0.0 <= figures['silent_share'] <= 1.0
    assert len(figures['per_bar_accuracy']) == 2
  assert report['nll_per_sequence'] > 0 and report['kl_per_sequence'] >= 0
  # The importance-sampled bound is at least the ELBO's estimate (on average).
  assert np.isfinite(report['log_likelihood_is'])
  assert 0 <= report['active_units'] <= report['model']['z_size']
  assert 'accuracy_teacher_forced' in report['family_metrics']
  assert report['not_defined'] == {}
  assert 0.0 <= report['no_event_baseline_accuracy'] <= 1.0
  # Same seed, same numbers (a second call compiles again: tiny model).
  again = evaluate.evaluate(str(run / 'run'), num_samples_k=3, seeds=2,
                            progress=False)
  assert json.loads(json.dumps(again)) == report | {'workdir': str(run / 'run')}


def test_training_reports_greedy_decodes(run, capsys):
  # The tiny run's last evaluation printed its greedy line (and TensorBoard
  # got 'eval_greedy/*'); the returned metrics are the regular eval's.
  root, metrics = run
  assert metrics['step'] == 4
  events = list((root / 'run' / 'tensorboard').glob('events*'))
  assert events and any(b'eval_greedy/silent_share' in e.read_bytes()
                        for e in events)


def test_workdir_without_checkpoints_is_one_line(tmp_path, capsys):
  assert evaluate.main([f'--workdir={tmp_path}']) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('error: ') and 'holds no checkpoint' in err
  assert '\n' not in err


def test_eval_folder_without_windows_is_one_line(run, tmp_path, capsys):
  run, _ = run
  empty = tmp_path / 'empty'
  empty.mkdir()
  assert evaluate.main([f'--workdir={run / "run"}', f'--eval_dir={empty}']) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('error: ') and 'gave no' in err and 'windows' in err
  assert '\n' not in err


def test_model_data_mismatch_is_named():
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  from musicvae_jax.models import TokenSpec
  spec = TokenSpec((90,))
  evaluate.check_windows(np.zeros((2, 32, 1), np.int16), config, spec)
  with pytest.raises(evaluate.EvaluationError, match='windows of 16 steps'):
    evaluate.check_windows(np.zeros((2, 16, 1), np.int16), config, spec)
  with pytest.raises(evaluate.EvaluationError, match='3 parts'):
    evaluate.check_windows(np.zeros((2, 32, 3), np.int16), config, spec)
  with pytest.raises(evaluate.EvaluationError, match='token 200'):
    evaluate.check_windows(np.full((2, 32, 1), 200, np.int16), config, spec)
