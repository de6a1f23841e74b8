"""Converts a folder of music into the window cache that training reads.

  python -m musicvae_jax.preprocess --config=configs/mel_2bar.py \
      --input_dir=DIR --output_dir=OUT [--num_workers=N]

Walks DIR (.mid/.midi in any case, also .abc/.xml/.musicxml/.mxl through
music21), converts every new or changed file in parallel with a progress bar
(a rerun converts only what changed), and writes the cache under
`OUT/windows/...` plus `OUT/summary.json`: files seen, used, skipped with the
reason for each, windows extracted, duplicates removed. Train on it with
`--config.train_dir=DIR --config.cache_dir=OUT`. Bad files are skipped (exit
0); a folder that yields no windows at all is an error (exit 1) naming the
folder and the counts. Caches built with other converter settings are rebuilt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from absl import flags
from ml_collections import config_flags

from musicvae_jax import family as family_lib

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file (converter settings).')
_INPUT = flags.DEFINE_string('input_dir', None, 'Folder of music files (searched recursively).')
# allow_override: generate.py also defines --output_dir; a process that imports
# both modules as libraries (a pytest worker) must not fail on the duplicate.
_OUTPUT = flags.DEFINE_string('output_dir', None,
                              'Cache root: use it as --config.cache_dir when training.',
                              allow_override=True)
_WORKERS = flags.DEFINE_integer('num_workers', 0, 'Worker processes (0: all cores).')
_PROGRESS = flags.DEFINE_bool('progress', True, 'Show a progress bar.')


def preprocess(config, input_dir: str | Path, output_dir: str | Path,
               num_workers: int = 0, progress: bool = True) -> dict:
  """Builds (or updates) the cache; returns the summary dict.

  Raises `cache.NoWindowsError` when the folder gives no windows at all and
  FileNotFoundError when `input_dir` is not a folder.
  """
  from musicvae_jax.data import cache
  input_dir = Path(input_dir).expanduser()
  if not input_dir.is_dir():
    raise FileNotFoundError(f'--input_dir={input_dir} is not a folder')
  output_dir = Path(output_dir).expanduser()
  output_dir.mkdir(parents=True, exist_ok=True)
  try:
    converter = family_lib.get(config).make_converter(config)
    data = cache.load_or_build_windows(input_dir, output_dir / 'windows', converter,
                                       num_workers=num_workers,
                                       fast=bool(config.get('fast_midi', False)),
                                       progress=progress)
    summary = dict(data.summary)
  except cache.NoWindowsError as error:
    summary = {'input_dir': str(input_dir), 'error': str(error)}
    (output_dir / 'summary.json').write_text(json.dumps(summary, indent=1))
    raise
  (output_dir / 'summary.json').write_text(json.dumps(summary, indent=1))
  return summary


def _print_summary(summary: dict, output_dir: str) -> None:
  print(f"{summary['files_seen']} files seen, {summary['files_used']} used, "
        f"{summary['files_skipped']} skipped {summary['skip_reasons']}")
  if summary.get('skipped_meter_files'):
    print('files with music in meters this config does not read (skipped there): '
          + ', '.join(f'{meter} in {n}' for meter, n in summary['skipped_meter_files'].items())
          + ' (per file: summary.json "skipped_meters")')
  print(f"{summary['windows_extracted']} windows extracted, "
        f"{summary['duplicates_removed']} duplicates removed, {summary['windows']} kept")
  print(f'summary: {Path(output_dir) / "summary.json"}; train with '
        f"--config.train_dir={summary['input_dir']} --config.cache_dir={output_dir}")


def main(argv) -> int:
  del argv
  from musicvae_jax.data import cache
  if _CONFIG.value is None or not _INPUT.value or not _OUTPUT.value:
    print('error: preprocess needs --config, --input_dir and --output_dir', file=sys.stderr)
    return 1
  try:
    summary = preprocess(_CONFIG.value, _INPUT.value, _OUTPUT.value, _WORKERS.value,
                         _PROGRESS.value)
  except (cache.NoWindowsError, FileNotFoundError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 1
  _print_summary(summary, _OUTPUT.value)
  return 0


def run() -> None:
  """Console script `musicvae-preprocess`."""
  from musicvae_jax import cli_errors
  cli_errors.run(lambda argv: sys.exit(main(argv)))


if __name__ == '__main__':
  run()
