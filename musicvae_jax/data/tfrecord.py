"""TFRecord files without TensorFlow: read (CRC-checked) and write records.

A TFRecord file is a run of records, each

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

little endian, with `masked(c) = ((c >> 15 | c << 17) + 0xa282ead8) mod 2**32`
(TensorFlow's `tensorflow/core/lib/hash/crc32c.h`). Magenta's
`convert_dir_to_note_sequences` writes one serialized `NoteSequence` per
record, uncompressed.

Hand-written rather than the `tfrecord` PyPI package because that reader
skips both checksums (a flipped bit becomes a wrong NoteSequence or a protobuf
error far from its cause) and reports a short file as a bare RuntimeError
naming neither the file nor the record; the format is four fields. The CRC is
`google_crc32c` (Google's C implementation, no TensorFlow).

Every failure is a `TFRecordError` whose one-line message names the file and
the record index (0-based).
"""

from __future__ import annotations

import glob
import struct
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, NamedTuple

import google_crc32c

from musicvae_jax.errors import UserError

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct('<QI')     # length, masked crc of the length
_FOOTER = struct.Struct('<I')      # masked crc of the data


class TFRecordError(UserError, ValueError):
  """A TFRecord file that is truncated, corrupted or not a TFRecord file."""


class RecordSpan(NamedTuple):
  """Where record `index` of a file lies: its data at `offset`, `length` bytes."""

  index: int
  offset: int
  length: int


def masked_crc(data: bytes) -> int:
  """TFRecord's masked CRC32C of `data`."""
  crc = google_crc32c.value(bytes(data))
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _fail(path, index: int, what: str) -> TFRecordError:
  return TFRecordError(f'{path}: record {index}: {what}')


def _read_header(f: BinaryIO, path, index: int) -> int | None:
  """The length of the next record, None at a clean end of file."""
  head = f.read(_HEADER.size)
  if not head:
    return None
  if len(head) < _HEADER.size:
    raise _fail(path, index, f'truncated header ({len(head)} of '
                f'{_HEADER.size} bytes); the file was cut short')
  length, crc = _HEADER.unpack(head)
  if masked_crc(head[:8]) != crc:
    raise _fail(path, index, 'length CRC mismatch (corrupted, or not a '
                'TFRecord file)')
  return length


def _check_data(data: bytes, footer: bytes, path, index: int,
                length: int) -> bytes:
  if len(data) < length or len(footer) < _FOOTER.size:
    raise _fail(path, index, f'truncated data (expected {length} bytes and '
                'a CRC); the file was cut short')
  if masked_crc(data) != _FOOTER.unpack(footer)[0]:
    raise _fail(path, index, 'data CRC mismatch (corrupted file)')
  return data


def read_records(path: str | Path, *,
                 stop_at_truncated_end: bool = False) -> Iterator[bytes]:
  """Every record's data, in order, each checksum checked.

  `stop_at_truncated_end`: a record cut short by the end of the file ends the
  iteration instead of raising, as TensorBoard reads the event file of a
  writer that was killed mid-record. A corrupted record still raises.
  """
  path = Path(path)
  with open(path, 'rb') as f:
    index = 0
    while True:
      if stop_at_truncated_end:
        start = f.tell()
        if len(f.read(_HEADER.size)) < _HEADER.size:
          return
        f.seek(start)
      length = _read_header(f, path, index)
      if length is None:
        return
      data, footer = f.read(length), f.read(_FOOTER.size)
      if stop_at_truncated_end and (len(data) < length or len(footer) < _FOOTER.size):
        return
      yield _check_data(data, footer, path, index, length)
      index += 1


def index_records(path: str | Path) -> list[RecordSpan]:
  """Where each record lies, reading only the headers (length CRCs checked,
  truncation found); the data CRCs are checked by `read_span`."""
  path = Path(path)
  size = path.stat().st_size
  spans = []
  with open(path, 'rb') as f:
    while (length := _read_header(f, path, len(spans))) is not None:
      offset = f.tell()
      if offset + length + _FOOTER.size > size:
        raise _fail(path, len(spans), f'truncated data (expected {length} '
                    f'bytes and a CRC, {size - offset} left); the file was cut short')
      spans.append(RecordSpan(len(spans), offset, length))
      f.seek(length + _FOOTER.size, 1)
  return spans


def read_span(f: BinaryIO, path: str | Path, span: RecordSpan) -> bytes:
  """The data of one record of the open file `f` (its CRC checked)."""
  f.seek(span.offset)
  data = f.read(span.length)
  return _check_data(data, f.read(_FOOTER.size), path, span.index, span.length)


def write_records(path: str | Path, records: Iterable[bytes]) -> int:
  """Writes `records` as a TFRecord file (overwriting it); returns the count."""
  count = 0
  with open(path, 'wb') as f:
    for data in records:
      data = bytes(data)
      length = struct.pack('<Q', len(data))
      f.write(length + struct.pack('<I', masked_crc(length)))
      f.write(data + struct.pack('<I', masked_crc(data)))
      count += 1
  return count


def expand_paths(spec: str) -> list[Path]:
  """The files of a Magenta `examples_path`: one path, a glob, or a comma
  separated list of either (`~` expanded). Sorted within each glob; raises
  FileNotFoundError naming the part that matched nothing."""
  found: list[Path] = []
  for part in (p.strip() for p in spec.split(',')):
    if not part:
      continue
    pattern = str(Path(part).expanduser())
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else (
        [pattern] if Path(pattern).exists() else [])
    if not matches:
      raise FileNotFoundError(f'{part}: no such file')
    for match in matches:
      if Path(match).is_dir():
        raise TFRecordError(f'{match}: is a folder, expected a TFRecord file '
                            '(for a folder of MIDI use --config.train_dir)')
      found.append(Path(match))
  if not found:
    raise FileNotFoundError(f'{spec!r} names no file')
  return found
