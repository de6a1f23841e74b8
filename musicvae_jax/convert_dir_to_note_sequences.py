"""Music files -> a TFRecord of NoteSequences, as Magenta's script of this name.

  python -m musicvae_jax.convert_dir_to_note_sequences \
      --input_dir=~/midi --output_file=/tmp/notesequences.tfrecord [--recursive]

Reads .mid/.midi with note_seq's reader (what Magenta's script does), and
.abc, .xml, .musicxml, .mxl through music21; each NoteSequence gets Magenta's
`collection_name` (the folder's name), `filename` (relative to it) and `id`.
Files that cannot be read are skipped and counted. The output trains with
`python -m musicvae_jax.train --examples_path=FILE` and Magenta's
`music_vae_train` alike. Written without TensorFlow (`data/tfrecord.py`).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Iterator

from absl import flags

from musicvae_jax.data import midi_io, tfrecord

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Magenta's flags of this script (defined when it runs, so that importing
  the module as a library defines none)."""
  flags.DEFINE_string('input_dir', None, 'Folder of music files to convert.')
  flags.DEFINE_string('output_file', None, 'TFRecord file to write '
                      '(overwritten if it exists).')
  flags.DEFINE_bool('recursive', False, 'Also convert the files of subfolders.')
  flags.DEFINE_enum('log', None, ['DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL'],
                    "Magenta's log threshold: sets absl's --verbosity.",
                    case_sensitive=False)
  flags.mark_flags_as_required(['input_dir', 'output_file'])


def sequence_id(filename: str, collection_name: str, source_type: str) -> str:
  """Magenta's `/id/<type>/<collection>/<sha1 of the file name>`."""
  digest = hashlib.sha1(filename.encode('utf-8')).hexdigest()
  return f'/id/{source_type.lower()}/{collection_name}/{digest}'


def music_files(root: Path, recursive: bool) -> list[Path]:
  """The music files of `root` (of its subfolders too when `recursive`)."""
  if recursive:
    return midi_io.find_files(root)
  return sorted(p for p in root.iterdir()
                if p.is_file() and p.name.lower().endswith(midi_io.SUFFIXES))


def note_sequences(root: Path, recursive: bool = False,
                   skipped: dict[str, str] | None = None) -> Iterator:
  """NoteSequences of the files under `root`, named as Magenta names them;
  unreadable files go to `skipped` (relative path -> reason)."""
  collection = root.name
  for path in music_files(root, recursive):
    rel = str(path.relative_to(root))
    try:
      sequences = midi_io.load_note_sequences(path, fast=False)
    except midi_io.BadInputError as error:
      if skipped is not None:
        skipped[rel] = str(error)
      continue
    kind = 'midi' if path.suffix.lower() in midi_io.MIDI_SUFFIXES else (
        'abc' if path.suffix.lower() == '.abc' else 'musicxml')
    for index, ns in enumerate(sequences):
      ns.collection_name = collection
      ns.filename = rel
      ns.id = sequence_id(f'{rel}_{index}' if kind == 'abc' else rel, collection, kind)
      yield ns


def convert(input_dir: str | Path, output_file: str | Path,
            recursive: bool = False) -> tuple[int, dict[str, str]]:
  """Writes the TFRecord; returns (sequences written, skipped files)."""
  root = Path(input_dir).expanduser()
  if not root.is_dir():
    raise FileNotFoundError(f'--input_dir={input_dir}: no such folder')
  skipped: dict[str, str] = {}
  output = Path(output_file).expanduser()
  output.parent.mkdir(parents=True, exist_ok=True)
  count = tfrecord.write_records(
      output, (ns.SerializeToString() for ns in note_sequences(root, recursive, skipped)))
  return count, skipped


def main(argv) -> None:
  from absl import app, logging
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if FLAGS.log:
    logging.set_verbosity(FLAGS.log.lower())
  count, skipped = convert(FLAGS.input_dir, FLAGS.output_file, FLAGS.recursive)
  print(f'wrote {count} NoteSequences to {FLAGS.output_file}'
        + (f'; skipped {len(skipped)} files' if skipped else ''))
  for rel, reason in sorted(skipped.items()):
    print(f'  skipped {rel}: {reason}', file=sys.stderr)
  if not count:
    sys.exit(f'error: --input_dir={FLAGS.input_dir} holds no readable music file'
             + ('' if FLAGS.recursive else ' (subfolders need --recursive)'))


def run() -> None:
  """Console script `musicvae-convert-dir-to-note-sequences`."""
  from musicvae_jax import cli_errors
  define_flags()
  cli_errors.run(main)


if __name__ == '__main__':
  run()
