"""Where a command's trained model comes from: the flags generate, studio and
evaluate share, the folder they resolve to and the model loaded from it.

    --workdir=DIR                 a run of ours (or one convert_magenta wrote)
    --run_dir=DIR                 Magenta's flag: a Magenta training run (its
                                  latest checkpoint in DIR/train is converted,
                                  as --checkpoint_file=DIR/train), or a run of
                                  ours (as --workdir)
    --checkpoint_file=PATH --config=NAME [--hparams=...]
                                  a Magenta checkpoint (.tar, prefix such as
                                  x.ckpt or model.ckpt-300, .index file, folder,
                                  or magenta.js folder), converted once into
                                  the cache (magenta/converted.py)
    --model=NAME                  a pretrained model shipped with the package
                                  (musicvae_jax.list_pretrained(); the registry
                                  of musicvae_jax/pretrained, searched after
                                  $MUSICVAE_PRETRAINED_DIR)
    --best                        the best checkpoint by eval loss, not the
                                  latest (runs only)

Exactly one of --workdir, --run_dir, --checkpoint_file, --model. Each command
calls `define_flags()` from its `run()` (so importing a command as a library
never defines flags that clash with another command's), then `workdir()` in
main, and `load()` / `load_config()` on the folder it returns: a run's
workdir, or a pretrained model's folder (config.json, params.msgpack,
card.json), which has no checkpoints and no training data
(`is_pretrained`; the commands say what such a model cannot do without a
folder of MIDI files).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from absl import flags

from musicvae_jax import errors, pretrained

FLAGS = flags.FLAGS
# The flags that name the model; exactly one of them is given.
SOURCE_FLAGS = ('workdir', 'run_dir', 'checkpoint_file', 'model')
_ONE_OF = 'give exactly one of --workdir, --run_dir, --checkpoint_file or --model'


class ModelSourceError(errors.UserError, ValueError):
  """The model-source flags do not name one loadable model (one line)."""


def define_flags() -> None:
  """Defines --workdir, --run_dir, --checkpoint_file, --model, --config,
  --hparams and --best (once per process; commands call it from `run()`)."""
  if 'checkpoint_file' in FLAGS:
    return
  flags.DEFINE_string('workdir', None, 'A trained run of ours (or a converted '
                      'Magenta checkpoint). Exactly one of --workdir, --run_dir, '
                      '--checkpoint_file, --model.')
  flags.DEFINE_string('run_dir', None, "Magenta's flag: a Magenta training run "
                      "(the latest checkpoint in RUN_DIR/train is converted, as "
                      "--checkpoint_file=RUN_DIR/train; needs --config), or a "
                      'run of ours (same as --workdir).')
  flags.DEFINE_string('checkpoint_file', None, "A Magenta checkpoint: the .tar "
                      "Magenta publishes, a prefix (x.ckpt, model.ckpt-300), its "
                      '.index file, a folder holding one, or a magenta.js folder. '
                      'Converted once into the cache (MUSICVAE_CACHE_DIR), then reused.')
  flags.DEFINE_string('model', None, 'A pretrained model that ships with the '
                      'package, by name (python -c "import musicvae_jax; '
                      'print(musicvae_jax.list_pretrained())"); '
                      f'${pretrained.ENV_VAR} adds folders to search. Offline.')
  flags.DEFINE_string('config', None, 'With --checkpoint_file / --run_dir: the '
                      'Magenta config name (e.g. cat-mel_2bar_big), or one of ours '
                      'as FILE.py:VARIANT. Not needed for a magenta.js folder.')
  flags.DEFINE_string('hparams', '', "With --checkpoint_file: Magenta's hparams "
                      "overrides, e.g. 'z_size=512,enc_rnn_size=[2048]'. Layer "
                      'sizes are read off the checkpoint; a size given here must agree.')
  flags.DEFINE_bool('best', False, 'Use the best checkpoint by eval loss, not '
                    'the latest (a run; a pretrained model has one set of parameters).')


@dataclasses.dataclass(frozen=True)
class Source:
  """What the model-source flags say (empty strings where not given)."""

  workdir: str = ''
  run_dir: str = ''
  checkpoint_file: str = ''
  model: str = ''
  config: str = ''
  hparams: str = ''

  @classmethod
  def from_flags(cls) -> 'Source':
    return cls(**{f.name: FLAGS[f.name].value or '' for f in dataclasses.fields(cls)})

  def given(self) -> list[str]:
    """The source flags given, as `--name=value`."""
    return [f'--{name}={getattr(self, name)}' for name in SOURCE_FLAGS
            if getattr(self, name)]


def _is_our_workdir(path: Path) -> bool:
  return (path / 'checkpoints').is_dir() or (path / 'config.json').is_file()


def resolve(source: Source, log: Callable[[str], None] = print) -> Path:
  """The workdir `source` names, converting a Magenta checkpoint into the
  cache when needed (`log` gets the converted / reused line, and a note for
  flags that are not used). Raises ModelSourceError with one line."""
  given = source.given()
  if len(given) != 1:
    what = 'none' if not given else ' and '.join(given)
    raise ModelSourceError(f'{_ONE_OF} (got {what})')
  if source.model:
    if source.config or source.hparams:
      flag = '--config' if source.config else '--hparams'
      raise ModelSourceError(f'{flag} goes with --checkpoint_file (a Magenta '
                             f'checkpoint); --model={source.model} holds its own config')
    try:
      return pretrained.locate(source.model)
    except pretrained.PretrainedError as error:
      raise ModelSourceError(f'--model={source.model}: {error}') from None
  if source.workdir:
    if source.config or source.hparams:
      flag = '--config' if source.config else '--hparams'
      raise ModelSourceError(f'{flag} goes with --checkpoint_file (a Magenta '
                             f'checkpoint); --workdir={source.workdir} holds its own config')
    return _existing(source.workdir, 'workdir')
  if source.run_dir:
    run_dir = _existing(source.run_dir, 'run_dir')
    if _is_our_workdir(run_dir):
      if source.config or source.hparams:
        log(f'note: --run_dir={source.run_dir} is a run of ours; its own config '
            'is used (--config / --hparams are only read for Magenta checkpoints)')
      return run_dir
    train = run_dir / 'train'
    if not train.is_dir():
      raise ModelSourceError(
          f'--run_dir={source.run_dir}: neither a run of ours (checkpoints/, '
          'config.json) nor a Magenta training run (train/ with its checkpoints)')
    return _convert(str(train), source, flag=f'--run_dir={source.run_dir}', log=log)
  return _convert(source.checkpoint_file, source,
                  flag=f'--checkpoint_file={source.checkpoint_file}', log=log)


def workdir(log: Callable[[str], None] = print) -> Path:
  """`resolve` of the parsed flags."""
  return resolve(Source.from_flags(), log)


def is_pretrained(path: str | Path) -> bool:
  """True when `resolve` gave a pretrained model's folder (not a run)."""
  return pretrained.is_model_folder(path)


# TrainedModel's `weights` choices (models/weight_storage.py FORMATS; named
# here so that --help does not import JAX).
WEIGHT_FORMATS = ('float32', 'bfloat16', 'int8')


def define_weights_flag() -> None:
  """Defines --weights (generate and studio: how the model is stored for
  inference; once per process)."""
  if 'weights' in FLAGS:
    return
  flags.DEFINE_enum('weights', 'float32', list(WEIGHT_FORMATS),
                    'How the LSTM kernels are stored for encoding and decoding: '
                    'float32 (as trained), bfloat16 or int8 (per-column scales; '
                    'float32 arithmetic). int8 is about 3x faster for one 16-bar '
                    'melody at a time on a CPU (slower for batches of 5 and more) '
                    'and a close approximation, not identical (docs/usage.md).')


def load(path: str | Path, best: bool = False, **kw):
  """The `TrainedModel` in the folder `resolve` gave (`kw`: its options,
  e.g. `max_batch`): a run's latest checkpoint (its best with `best`) or a
  pretrained model."""
  from musicvae_jax.trained_model import TrainedModel  # JAX: not for --help
  path = Path(path)
  if not is_pretrained(path):
    return TrainedModel.from_workdir(path, best=best, **kw)
  if best:
    raise ModelSourceError(f'--best goes with a training run; pretrained model '
                           f'{path.name} has one set of parameters')
  return TrainedModel.from_pretrained(path.name, registry=path.parent, **kw)


def load_config(path: str | Path):
  """The config of the model in the folder `resolve` gave (nothing loaded
  but the config)."""
  if is_pretrained(path):
    return pretrained.files.read_config(path)
  from musicvae_jax import checkpoints  # orbax: not for --help
  return checkpoints.load_config(checkpoints.resolve_checkpoint(path)[0])


def _existing(value: str, flag: str) -> Path:
  path = Path(value).expanduser()
  if not path.is_dir():
    what = 'not a folder' if path.exists() else 'no such folder'
    raise ModelSourceError(f'--{flag}={value}: {what}')
  return path


def _convert(checkpoint: str, source: Source, flag: str,
             log: Callable[[str], None]) -> Path:
  # Imported here: the magenta modules import the families (and JAX), which
  # --workdir runs of the studio and --help do not need; cli_errors is the
  # command-line layer, which the library modules importing this one
  # (evaluate) do not load.
  from musicvae_jax import cli_errors
  from musicvae_jax.magenta import converted, tf_bundle, tfjs
  path = Path(checkpoint).expanduser()
  if not path.exists() and not Path(f'{path}.index').is_file():
    raise ModelSourceError(f'{flag}: no such file or folder')
  if not source.config and not tfjs.is_tfjs_checkpoint(path):
    raise ModelSourceError(f'{flag} needs --config (the Magenta config name, e.g. '
                           'cat-mel_2bar_big; only a magenta.js folder names its own)')
  try:
    return converted.workdir_for(source.config, checkpoint, source.hparams, log=log)
  except converted.UnknownConfigError as error:
    raise ModelSourceError(f'--config={source.config}: {error}') from error
  except tf_bundle.CheckpointError as error:
    raise ModelSourceError(f'{flag}: {cli_errors.describe(error)}') from error
  except (ValueError, OSError) as error:
    config = f' as --config={source.config}' if source.config else ''
    raise ModelSourceError(f'cannot convert {flag}{config}: '
                           f'{cli_errors.describe(error)}') from error
