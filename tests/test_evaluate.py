"""The evaluate command on a tiny run trained in the test, and its errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from musicvae_jax import config_base, evaluate, trainer

REPO = Path(__file__).resolve().parents[1]


def _command(*args):
  """`python -m musicvae_jax.evaluate ARGS` (absl flags: one process per run)."""
  return subprocess.run([sys.executable, '-m', 'musicvae_jax.evaluate', *map(str, args)],
                        cwd=REPO, capture_output=True, text=True, timeout=300)


def _one_error_line(result) -> str:
  assert result.returncode == 1, result.stderr[-2000:]
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert lines[-1].startswith('error: ') and 'Traceback' not in result.stderr, result.stderr
  return lines[-1]


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


def test_evaluate_command_writes_json_and_table(run):
  run, _ = run
  out = run / 'eval.json'
  result = _command(f'--workdir={run / "run"}', f'--output={out}', '--num_samples_k=3',
                    '--seeds=2')
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.loads(out.read_text())
  printed = result.stdout
  assert printed.strip().splitlines()[-1] == f'wrote {out}'
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


def test_workdir_without_checkpoints_is_one_line(tmp_path):
  line = _one_error_line(_command(f'--workdir={tmp_path}'))
  assert 'holds no checkpoint' in line


def test_eval_folder_without_windows_is_one_line(run, tmp_path):
  run, _ = run
  empty = tmp_path / 'empty'
  empty.mkdir()
  line = _one_error_line(_command(f'--workdir={run / "run"}', f'--eval_dir={empty}'))
  assert 'gave no' in line and 'windows' in line


def test_every_flag_has_help_and_the_model_source_flags_are_listed():
  helptext = _command('--help').stdout
  for flag in ('workdir', 'checkpoint_file', 'config', 'hparams', 'best', 'eval_dir',
               'num_samples_k', 'seeds', 'seed', 'batch_size', 'active_threshold',
               'max_batches', 'output', 'verbose'):
    assert f'--{flag}: ' in helptext or f'--[no]{flag}: ' in helptext, flag


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
