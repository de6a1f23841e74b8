"""Which config changes a resume accepts, the messages, and the history file."""

import errno

import pytest

from musicvae_jax import cli_errors, config_base, config_check


def test_classification_is_one_place_and_disjoint():
  # Fields other families add later may stay unclassified (they refuse).
  assert not config_check.REFUSE & config_check.ALLOW
  assert {'z_size', 'encoding', 'slice_bars'} <= config_check.REFUSE
  assert {'learning_rate', 'batch_size', 'num_steps', 'train_dir'} <= config_check.ALLOW


def test_unknown_fields_refuse():
  assert config_check.classify('z_size') == 'refuse'
  assert config_check.classify('learning_rate') == 'allow'
  assert config_check.classify('some_new_family_field') == 'refuse'


def test_resume_refuses_model_fields_and_lists_the_rest():
  saved = config_base.base_config()
  new = config_base.base_config()
  new.learning_rate, new.batch_size, new.num_steps = 3e-4, 64, saved.num_steps * 2
  assert config_check.check_resume(saved, new, 'runs/x') == {
      'batch_size': (512, 64), 'learning_rate': (1e-3, 3e-4),
      'num_steps': (200_000, 400_000)}
  new.z_size, new.enc_rnn_sizes, new.encoding = 64, (128,), 'drums'
  with pytest.raises(config_check.ConfigMismatchError) as info:
    config_check.check_resume(saved, new, 'runs/x (checkpoint step 4)')
  text = str(info.value)
  assert text.startswith('runs/x (checkpoint step 4) was trained with a different model: ')
  assert "encoding: saved 'melody', new 'drums'" in text
  assert 'enc_rnn_sizes: saved (512,), new (128,)' in text
  assert 'z_size: saved 256, new 64' in text
  assert 'learning_rate' not in text


def test_saved_json_round_trip_is_no_change():
  config = config_base.load_config_file('configs/hier.py:tiny')
  saved = config_base.from_json(config_base.to_json(config))
  assert config_check.diff(saved, config) == {}


def test_unknown_field_refusal_says_it_is_unclassified():
  saved, new = config_base.base_config(), config_base.base_config()
  with new.unlocked():
    new.some_future_field = 'x'
  with pytest.raises(config_check.ConfigMismatchError,
                     match=r"some_future_field: saved None, new 'x' \(some_future_field not "
                           r'classified in config_check.py'):
    config_check.check_resume(saved, new, 'runs/x')


def test_history_appends_one_line_per_start(tmp_path):
  config = config_base.base_config()
  config_check.record(tmp_path, 'start', 0, config=config)
  config_check.record(tmp_path, 'resume', 4, {'learning_rate': (1e-3, 3e-4)})
  history = config_check.read_history(tmp_path)
  assert [h['event'] for h in history] == ['start', 'resume']
  assert history[0]['config']['z_size'] == 256
  assert history[1]['changes'] == {'learning_rate': {'saved': 1e-3, 'new': 3e-4}}


def test_error_lines_for_common_failures():
  full = OSError(errno.ENOSPC, 'No space left on device', '/x/y')
  assert cli_errors.describe(full).startswith('no space left on device writing /x/y')
  wrapped = ValueError('RESOURCE_EXHAUSTED: Error writing local file "/w/checkpoints/6/a": '
                       'No space left on device [os_error_code=\'28\']')
  assert cli_errors.disk_full(wrapped) == '/w/checkpoints/6/a'
  assert cli_errors.disk_full(ValueError('other')) is None
  missing = FileNotFoundError(errno.ENOENT, 'No such file', '/a.mid')
  assert cli_errors.describe(missing) == '/a.mid: no such file or folder'
  assert cli_errors.describe(ValueError('two\nlines')) == 'two; lines'
