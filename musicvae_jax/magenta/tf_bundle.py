"""Read (and write) TensorFlow checkpoints without TensorFlow.

A TensorFlow (v1 `tf.train.Saver` / v2 object) checkpoint is a *tensor bundle*:

* `PREFIX.index` is a LevelDB-style sorted string table (SSTable). Its keys
  are variable names; the value under the empty key is a serialized
  `BundleHeaderProto` and every other value a serialized `BundleEntryProto`
  (dtype, shape, shard, offset, size and masked CRC32C of the tensor bytes).
* `PREFIX.data-SSSSS-of-NNNNN` shards hold the raw tensor bytes (little
  endian unless the header says otherwise) at the recorded offsets.

This module parses both by hand (a few dozen lines of varint and block
decoding), verifies every checksum, and returns numpy arrays:

    >>> weights = read_checkpoint('cat-mel_2bar_big.tar', skip_optimizer=True)
    >>> list_variables('model.ckpt-300')['decoder/output_projection/kernel']
    ((64, 90), dtype('float32'))

A checkpoint may be named by its prefix, by its `.index` file, by a directory
holding a `checkpoint` text file or a single `*.index`, or by a `.tar` archive
as Magenta distributes them (members are read from the archive, never
extracted to disk).

`write_checkpoint` writes a single-shard bundle the way TensorFlow's
`BundleWriter` does (byte for byte, for the dtypes supported here), e.g. to
export weights back to a Magenta-readable checkpoint.

Formats: tensorflow/core/protobuf/tensor_bundle.proto,
tensorflow/core/util/tensor_bundle/tensor_bundle.cc,
tensorflow/core/lib/io/{format,block,table_builder}.cc (LevelDB table format).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import struct
import sys
import tarfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping

import numpy as np

try:  # Optional fast CRC32C implementations; a numpy fallback is below.
  import google_crc32c as _google_crc32c  # type: ignore
except ImportError:  # pragma: no cover - depends on the environment
  _google_crc32c = None
try:
  import crc32c as _crc32c_pkg  # type: ignore
except ImportError:  # pragma: no cover - depends on the environment
  _crc32c_pkg = None

__all__ = [
    'BundleReader',
    'CheckpointError',
    'ChecksumError',
    'crc32c',
    'is_optimizer_variable',
    'iter_table',
    'list_variables',
    'mask_crc',
    'read_checkpoint',
    'resolve_checkpoint',
    'unmask_crc',
    'write_checkpoint',
]


class CheckpointError(ValueError):
  """A TensorFlow checkpoint is missing, malformed or unsupported."""


class ChecksumError(CheckpointError):
  """A tensor's (or an index block's) bytes do not match their CRC32C."""


# ---------------------------------------------------------------------------
# CRC32C (Castagnoli), as TensorFlow and LevelDB use it.
# ---------------------------------------------------------------------------

_CRC32C_POLY = 0x82F63B78  # reflected 0x1EDC6F41
_MASK_DELTA = 0xA282EAD8


def _make_crc_table() -> np.ndarray:
  table = np.zeros(256, dtype=np.uint32)
  for i in range(256):
    crc = i
    for _ in range(8):
      crc = (crc >> 1) ^ (_CRC32C_POLY if crc & 1 else 0)
    table[i] = crc
  return table


_CRC_TABLE = _make_crc_table()
_CRC_TABLE_LIST = [int(v) for v in _CRC_TABLE]


def _crc_update_bytes(crc: int, data) -> int:
  """Unconditioned CRC32C register update, one byte at a time (pure Python)."""
  table = _CRC_TABLE_LIST
  for b in data:
    crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
  return crc


@functools.lru_cache(maxsize=None)
def _zeros_operator_tables(length: int) -> np.ndarray:
  """Tables [4, 256] applying "feed `length` zero bytes" to a CRC register.

  The unconditioned update is linear over GF(2), so its action on a register
  is the XOR of its action on each byte of the register.
  """
  basis = np.left_shift(np.uint32(1), np.arange(32, dtype=np.uint32))
  for _ in range(length):
    basis = _CRC_TABLE[basis & 0xFF] ^ (basis >> 8)
  tables = np.zeros((4, 256), dtype=np.uint32)
  values = np.arange(256)
  for byte in range(4):
    for bit in range(8):
      hit = (values >> bit) & 1 == 1
      tables[byte, hit] ^= basis[8 * byte + bit]
  return tables


def _crc32c_numpy(data) -> int:
  """CRC32C of `data` with numpy: many lanes in parallel, then combined."""
  buf = np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)
  n = buf.size
  if n < 4096:
    return _crc_update_bytes(0xFFFFFFFF, buf.tobytes()) ^ 0xFFFFFFFF
  lane = 1 << min(16, max(8, (int(np.sqrt(n)) - 1).bit_length()))
  lanes = n // lane
  block = buf[:lanes * lane].reshape(lanes, lane).T.copy()  # [lane, lanes]
  # Initial register 0xFFFFFFFF == XOR 0xFF into the first 4 message bytes.
  block[:4, 0] ^= 0xFF
  regs = np.zeros(lanes, dtype=np.uint32)
  for row in block:
    regs = _CRC_TABLE[(regs ^ row) & 0xFF] ^ (regs >> 8)
  shift = _zeros_operator_tables(lane)
  t0, t1, t2, t3 = (list(map(int, t)) for t in shift)
  crc = 0
  for reg in regs.tolist():
    crc = (t0[crc & 0xFF] ^ t1[(crc >> 8) & 0xFF] ^ t2[(crc >> 16) & 0xFF]
           ^ t3[crc >> 24] ^ reg)
  crc = _crc_update_bytes(crc, buf[lanes * lane:].tobytes())
  return crc ^ 0xFFFFFFFF


def crc32c(data) -> int:
  """CRC32C of a bytes-like object (uses google-crc32c/crc32c if installed)."""
  if _google_crc32c is not None:
    return int(_google_crc32c.value(bytes(data)))
  if _crc32c_pkg is not None:
    return int(_crc32c_pkg.crc32c(data))
  return _crc32c_numpy(data)


def mask_crc(crc: int) -> int:
  """TensorFlow/LevelDB checksum masking (crc32c::Mask)."""
  return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
  """Inverse of `mask_crc` (crc32c::Unmask)."""
  rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
  return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ---------------------------------------------------------------------------
# Varints and a minimal protobuf wire-format decoder.
# ---------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
  """Decodes a base-128 varint at `pos`; returns (value, next position)."""
  result = shift = 0
  while True:
    if pos >= len(buf):
      raise CheckpointError(f'{where}: truncated varint')
    b = buf[pos]
    pos += 1
    result |= (b & 0x7F) << shift
    if not b & 0x80:
      return result, pos
    shift += 7
    if shift >= 70:
      raise CheckpointError(f'{where}: varint too long')


def _encode_varint(value: int) -> bytes:
  if value < 0:
    value += 1 << 64
  out = bytearray()
  while True:
    b = value & 0x7F
    value >>= 7
    if value:
      out.append(b | 0x80)
    else:
      out.append(b)
      return bytes(out)


def _to_int64(value: int) -> int:
  return value - (1 << 64) if value >= 1 << 63 else value


def _parse_proto(buf: bytes, where: str) -> Iterator[tuple[int, int, object]]:
  """Yields (field number, wire type, value) of a serialized message."""
  pos = 0
  while pos < len(buf):
    key, pos = _read_varint(buf, pos, where)
    field, wire = key >> 3, key & 7
    if wire == 0:
      value, pos = _read_varint(buf, pos, where)
    elif wire == 1:
      if pos + 8 > len(buf):
        raise CheckpointError(f'{where}: truncated fixed64 field {field}')
      value, pos = struct.unpack_from('<Q', buf, pos)[0], pos + 8
    elif wire == 2:
      length, pos = _read_varint(buf, pos, where)
      if pos + length > len(buf):
        raise CheckpointError(f'{where}: truncated field {field}')
      value, pos = buf[pos:pos + length], pos + length
    elif wire == 5:
      if pos + 4 > len(buf):
        raise CheckpointError(f'{where}: truncated fixed32 field {field}')
      value, pos = struct.unpack_from('<I', buf, pos)[0], pos + 4
    else:
      raise CheckpointError(f'{where}: unsupported protobuf wire type {wire}')
    yield field, wire, value


# ---------------------------------------------------------------------------
# Bundle protos: BundleHeaderProto, BundleEntryProto, TensorShapeProto.
# ---------------------------------------------------------------------------

# tensorflow/core/framework/types.proto DataType -> numpy dtype.
_DTYPES: dict[int, str] = {
    1: 'float32', 2: 'float64', 3: 'int32', 4: 'uint8', 5: 'int16',
    6: 'int8', 8: 'complex64', 9: 'int64', 10: 'bool', 14: 'bfloat16',
    17: 'uint16', 18: 'complex128', 19: 'float16', 22: 'uint32', 23: 'uint64',
}
_DTYPE_NAMES = {7: 'string', 20: 'resource', 21: 'variant'}


def _numpy_dtype(code: int) -> np.dtype | None:
  """numpy dtype of a TF DataType code (reference types map to their base)."""
  code = code - 100 if code > 100 else code
  name = _DTYPES.get(code)
  if name is None:
    return None
  if name == 'bfloat16':
    try:
      import ml_dtypes  # pylint: disable=import-outside-toplevel
    except ImportError:
      return None
    return np.dtype(ml_dtypes.bfloat16)
  return np.dtype(name)


def _dtype_code(dtype: np.dtype) -> int:
  for code, name in _DTYPES.items():
    if name == dtype.name:
      return code
  raise CheckpointError(f'dtype {dtype} cannot be written to a TF checkpoint')


@dataclasses.dataclass(frozen=True)
class BundleEntry:
  """One variable's record in the index (a parsed BundleEntryProto)."""
  name: str
  dtype_code: int
  shape: tuple[int, ...]
  shard_id: int
  offset: int
  size: int
  masked_crc32c: int
  sliced: bool

  @property
  def dtype(self) -> np.dtype | None:
    """numpy dtype, or None when the TF dtype is not supported here."""
    return _numpy_dtype(self.dtype_code)

  @property
  def dtype_name(self) -> str:
    dtype = self.dtype
    if dtype is not None:
      return dtype.name
    code = self.dtype_code % 100
    return _DTYPE_NAMES.get(code, f'DataType({self.dtype_code})')


def _parse_shape(buf: bytes, where: str) -> tuple[int, ...]:
  dims = []
  for field, _, value in _parse_proto(buf, where):
    if field == 2:  # repeated Dim dim = 2
      size = 0
      for dfield, _, dvalue in _parse_proto(value, where):
        if dfield == 1:  # int64 size = 1
          size = _to_int64(dvalue)
      dims.append(size)
    elif field == 3 and value:  # bool unknown_rank = 3
      raise CheckpointError(f'{where}: tensor of unknown rank')
  return tuple(dims)


def _parse_entry(name: str, buf: bytes, where: str) -> BundleEntry:
  """Parses a BundleEntryProto."""
  fields = dict(dtype_code=0, shape=(), shard_id=0, offset=0, size=0,
                masked_crc32c=0, sliced=False)
  for field, _, value in _parse_proto(buf, where):
    if field == 1:
      fields['dtype_code'] = value
    elif field == 2:
      fields['shape'] = _parse_shape(value, where)
    elif field == 3:
      fields['shard_id'] = _to_int64(value)
    elif field == 4:
      fields['offset'] = _to_int64(value)
    elif field == 5:
      fields['size'] = _to_int64(value)
    elif field == 6:
      fields['masked_crc32c'] = value
    elif field == 7:
      fields['sliced'] = True
  return BundleEntry(name=name, **fields)


@dataclasses.dataclass(frozen=True)
class BundleHeader:
  """Parsed BundleHeaderProto."""
  num_shards: int = 1
  big_endian: bool = False
  version: int = 0


def _parse_header(buf: bytes, where: str) -> BundleHeader:
  num_shards, big_endian, version = 1, False, 0
  for field, _, value in _parse_proto(buf, where):
    if field == 1:
      num_shards = value
    elif field == 2:
      big_endian = value == 1
    elif field == 3:
      for vfield, _, vvalue in _parse_proto(value, where):
        if vfield == 1:
          version = vvalue
  return BundleHeader(num_shards, big_endian, version)


# ---------------------------------------------------------------------------
# SSTable (LevelDB table format) reading.
# ---------------------------------------------------------------------------

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # 1 byte compression type + 4 bytes masked crc32c
_NO_COMPRESSION, _SNAPPY_COMPRESSION = 0, 1


def _snappy_decompress(data: bytes, where: str) -> bytes:
  """Decompresses a raw snappy block (literals and back-references)."""
  length, pos = _read_varint(data, 0, where)
  out = bytearray()
  while pos < len(data):
    tag = data[pos]
    pos += 1
    kind = tag & 3
    if kind == 0:  # literal
      size = tag >> 2
      if size >= 60:
        extra = size - 59
        size = int.from_bytes(data[pos:pos + extra], 'little')
        pos += extra
      size += 1
      out += data[pos:pos + size]
      pos += size
      continue
    if kind == 1:
      size, offset = 4 + ((tag >> 2) & 7), ((tag >> 5) << 8) | data[pos]
      pos += 1
    elif kind == 2:
      size, offset = (tag >> 2) + 1, int.from_bytes(data[pos:pos + 2], 'little')
      pos += 2
    else:
      size, offset = (tag >> 2) + 1, int.from_bytes(data[pos:pos + 4], 'little')
      pos += 4
    if offset == 0 or offset > len(out):
      raise CheckpointError(f'{where}: corrupt snappy block')
    for _ in range(size):  # back-references may overlap their output
      out.append(out[-offset])
  if len(out) != length:
    raise CheckpointError(f'{where}: corrupt snappy block')
  return bytes(out)


def _read_block_handle(buf: bytes, pos: int, where: str) -> tuple[int, int, int]:
  offset, pos = _read_varint(buf, pos, where)
  size, pos = _read_varint(buf, pos, where)
  return offset, size, pos


def _read_block(table: bytes, offset: int, size: int, where: str) -> bytes:
  """Returns a block's contents after checking its trailer and decompressing."""
  end = offset + size + _BLOCK_TRAILER_SIZE
  if end > len(table) - _FOOTER_SIZE:
    raise CheckpointError(f'{where}: block at offset {offset} (size {size}) '
                          f'runs past the end of the table; truncated file?')
  contents = table[offset:offset + size]
  kind = table[offset + size]
  (stored,) = struct.unpack_from('<I', table, offset + size + 1)
  if unmask_crc(stored) != crc32c(table[offset:offset + size + 1]):
    raise ChecksumError(f'{where}: checksum mismatch in table block at '
                        f'offset {offset}; the index file is corrupt')
  if kind == _NO_COMPRESSION:
    return contents
  if kind == _SNAPPY_COMPRESSION:
    return _snappy_decompress(contents, where)
  raise CheckpointError(f'{where}: unknown block compression type {kind}')


def _iter_block(block: bytes, where: str) -> Iterator[tuple[bytes, bytes]]:
  """Yields (key, value) of a block, undoing the keys' prefix compression."""
  if len(block) < 4:
    raise CheckpointError(f'{where}: table block too short')
  (num_restarts,) = struct.unpack_from('<I', block, len(block) - 4)
  limit = len(block) - 4 - 4 * num_restarts
  if limit < 0:
    raise CheckpointError(f'{where}: bad restart count in table block')
  pos, key = 0, b''
  while pos < limit:
    shared, pos = _read_varint(block, pos, where)
    unshared, pos = _read_varint(block, pos, where)
    value_size, pos = _read_varint(block, pos, where)
    if shared > len(key) or pos + unshared + value_size > limit:
      raise CheckpointError(f'{where}: corrupt table block entry')
    key = key[:shared] + block[pos:pos + unshared]
    pos += unshared
    yield key, block[pos:pos + value_size]
    pos += value_size


def iter_table(table: bytes, where: str = '<table>') -> Iterator[tuple[bytes, bytes]]:
  """Yields every (key, value) of a LevelDB-format table held in memory."""
  if len(table) < _FOOTER_SIZE:
    raise CheckpointError(f'{where}: {len(table)} bytes is too short for a '
                          'TensorFlow checkpoint index (truncated file?)')
  footer = table[-_FOOTER_SIZE:]
  (magic,) = struct.unpack_from('<Q', footer, 40)
  if magic != _TABLE_MAGIC:
    raise CheckpointError(f'{where}: bad table magic number {magic:#x}; '
                          'not a TensorFlow checkpoint index, or truncated')
  _, _, pos = _read_block_handle(footer, 0, where)  # metaindex: unused
  index_offset, index_size, _ = _read_block_handle(footer, pos, where)
  index = _read_block(table, index_offset, index_size, where)
  for _, handle in _iter_block(index, where):
    offset, size, _ = _read_block_handle(handle, 0, where)
    yield from _iter_block(_read_block(table, offset, size, where), where)


# ---------------------------------------------------------------------------
# Locating a checkpoint: prefix, .index, directory or .tar.
# ---------------------------------------------------------------------------

_INDEX_SUFFIX = '.index'
_TAR_SUFFIXES = ('.tar', '.tar.gz', '.tgz', '.tar.bz2', '.tar.xz')


def _shard_name(prefix: str, shard_id: int, num_shards: int) -> str:
  return f'{prefix}.data-{shard_id:05d}-of-{num_shards:05d}'


def _prefix_from_checkpoint_file(directory: Path) -> Path | None:
  """The prefix named by a directory's `checkpoint` text file, if any."""
  state = directory / 'checkpoint'
  if not state.is_file():
    return None
  match = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$',
                    state.read_text(), re.MULTILINE)
  if not match:
    raise CheckpointError(f'{state}: no model_checkpoint_path line')
  prefix = Path(match.group(1))
  if not prefix.is_absolute():
    prefix = directory / prefix
  if not Path(str(prefix) + _INDEX_SUFFIX).is_file():
    # Checkpoints moved after saving keep stale absolute paths.
    prefix = directory / prefix.name
  return prefix


def resolve_checkpoint(path: str | os.PathLike) -> tuple[str, Path]:
  """Finds the checkpoint that `path` names.

  Returns ('prefix', PREFIX) for an on-disk bundle or ('tar', ARCHIVE).
  Raises CheckpointError naming `path` when nothing is found.
  """
  p = Path(path)
  name = p.name
  if name.endswith(_INDEX_SUFFIX) and p.is_file():
    return 'prefix', p.with_name(name[:-len(_INDEX_SUFFIX)])
  if p.is_file() and (name.endswith(_TAR_SUFFIXES) or tarfile.is_tarfile(p)):
    return 'tar', p
  if p.is_dir():
    prefix = _prefix_from_checkpoint_file(p)
    if prefix is not None:
      return 'prefix', prefix
    indexes = sorted(p.glob('*' + _INDEX_SUFFIX))
    if len(indexes) == 1:
      return 'prefix', indexes[0].with_name(indexes[0].name[:-6])
    if indexes:
      raise CheckpointError(
          f'{p}: several checkpoints ({", ".join(i.name for i in indexes)}) '
          'and no `checkpoint` file; pass a prefix')
    raise CheckpointError(f'{p}: no `checkpoint` file and no *.index file')
  if Path(str(p) + _INDEX_SUFFIX).is_file():
    return 'prefix', p
  raise CheckpointError(
      f'no TensorFlow checkpoint at {p}: expected a prefix with a '
      f'{_INDEX_SUFFIX} file, an .index file, a directory or a .tar archive')


class _DiskFiles:
  """Bundle files next to each other on disk."""

  def __init__(self, prefix: Path):
    self.prefix = str(prefix)
    self.index_name = self.prefix + _INDEX_SUFFIX

  def read(self, name: str) -> bytes:
    try:
      return Path(name).read_bytes()
    except OSError as e:
      raise CheckpointError(f'cannot read {name}: {e}') from e

  def open(self, name: str) -> BinaryIO:
    try:
      return open(name, 'rb')
    except OSError as e:
      raise CheckpointError(f'cannot open checkpoint shard {name}: {e}') from e

  def close(self) -> None:
    pass


class _TarFiles:
  """Bundle files inside a tar archive, read without extracting them."""

  def __init__(self, archive: Path):
    self.archive = archive
    try:
      self._tar = tarfile.open(archive, 'r:*')
    except (OSError, tarfile.TarError) as e:
      raise CheckpointError(f'cannot open tar archive {archive}: {e}') from e
    self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
    indexes = sorted(n for n in self._members if n.endswith(_INDEX_SUFFIX))
    if len(indexes) != 1:
      self._tar.close()
      found = ', '.join(indexes) if indexes else 'none'
      raise CheckpointError(f'{archive}: expected exactly one *.index member, '
                            f'found {found}')
    self.index_name = indexes[0]
    self.prefix = self.index_name[:-len(_INDEX_SUFFIX)]

  def _where(self, name: str) -> str:
    return f'{self.archive}:{name}'

  def open(self, name: str) -> BinaryIO:
    member = self._members.get(name)
    if member is None:
      raise CheckpointError(f'{self._where(name)}: member missing from archive')
    return self._tar.extractfile(member)

  def read(self, name: str) -> bytes:
    with self.open(name) as f:
      return f.read()

  def close(self) -> None:
    self._tar.close()


# ---------------------------------------------------------------------------
# The reader.
# ---------------------------------------------------------------------------

_OPTIMIZER_SUFFIXES = ('/Adam', '/Adam_1')
_OPTIMIZER_NAMES = ('beta1_power', 'beta2_power', 'global_step')


def is_optimizer_variable(name: str) -> bool:
  """True for Adam slots, Adam's beta powers and the global step."""
  return (name.endswith(_OPTIMIZER_SUFFIXES)
          or name.rsplit('/', 1)[-1] in _OPTIMIZER_NAMES)


def _make_filter(include: Callable[[str], bool] | None,
                 skip_optimizer: bool) -> Callable[[str], bool]:
  def keep(name: str) -> bool:
    if skip_optimizer and is_optimizer_variable(name):
      return False
    return include is None or bool(include(name))
  return keep


class BundleReader:
  """Reads a tensor bundle's index once and its tensors on demand.

  Use as a context manager (or call `close`) so shard files are closed.
  """

  def __init__(self, path: str | os.PathLike):
    kind, location = resolve_checkpoint(path)
    self._files = _TarFiles(location) if kind == 'tar' else _DiskFiles(location)
    self._open: dict[str, BinaryIO] = {}
    try:
      self._load_index()
    except BaseException:
      self.close()
      raise

  def _where(self, name: str) -> str:
    if isinstance(self._files, _TarFiles):
      return f'{self._files.archive}:{name}'
    return name

  def _load_index(self) -> None:
    index_name = self._files.index_name
    where = self._where(index_name)
    self.header = BundleHeader()
    self.entries: dict[str, BundleEntry] = {}
    for key, value in iter_table(self._files.read(index_name), where):
      if key == b'':
        self.header = _parse_header(value, where)
        continue
      name = key.decode('utf-8', errors='replace')
      self.entries[name] = _parse_entry(name, value, f'{where} ({name})')

  @property
  def prefix(self) -> str:
    return self._files.prefix

  def variables(self) -> dict[str, tuple[tuple[int, ...], np.dtype | str]]:
    """{name: (shape, dtype)}; dtype is a string for unsupported types."""
    return {name: (e.shape, e.dtype if e.dtype is not None else e.dtype_name)
            for name, e in self.entries.items()}

  def _shard(self, entry: BundleEntry) -> tuple[BinaryIO, str]:
    if not 0 <= entry.shard_id < self.header.num_shards:
      raise CheckpointError(f'{self._where(self._files.index_name)}: variable '
                            f'{entry.name!r} names shard {entry.shard_id} of '
                            f'{self.header.num_shards}')
    name = _shard_name(self.prefix, entry.shard_id, self.header.num_shards)
    if name not in self._open:
      self._open[name] = self._files.open(name)
    return self._open[name], self._where(name)

  def read(self, name: str) -> np.ndarray:
    """Reads one variable, verifying its checksum."""
    entry = self.entries.get(name)
    if entry is None:
      raise KeyError(f'variable {name!r} not in checkpoint {self.prefix}')
    dtype = entry.dtype
    if entry.sliced:
      raise CheckpointError(f'variable {name!r} in {self.prefix} is a '
                            'partitioned (sliced) variable: not supported')
    if dtype is None:
      raise CheckpointError(
          f'variable {name!r} in {self.prefix} has dtype {entry.dtype_name}, '
          'which is not supported; filter it out with include=')
    count = int(np.prod(entry.shape, dtype=np.int64))
    if count * dtype.itemsize != entry.size:
      raise CheckpointError(
          f'variable {name!r} in {self.prefix}: {entry.size} bytes recorded '
          f'for shape {entry.shape} of {dtype.name}')
    shard, where = self._shard(entry)
    buf = bytearray(entry.size)
    shard.seek(entry.offset)
    got = shard.readinto(buf) if entry.size else 0
    if got != entry.size:
      raise CheckpointError(
          f'{where}: variable {name!r} needs bytes {entry.offset}..'
          f'{entry.offset + entry.size} but the file ends early (truncated?)')
    actual = crc32c(buf)
    if actual != unmask_crc(entry.masked_crc32c):
      raise ChecksumError(
          f'{where}: checksum mismatch for variable {name!r} ({entry.size} '
          f'bytes at offset {entry.offset}): stored '
          f'{unmask_crc(entry.masked_crc32c):#010x}, computed {actual:#010x}; '
          'the checkpoint is corrupt')
    array = np.frombuffer(buf, dtype=dtype).reshape(entry.shape)
    if self.header.big_endian != (sys.byteorder == 'big') and dtype.itemsize > 1:
      array = array.byteswap()
    return array

  def read_all(self, keep: Callable[[str], bool] = lambda name: True
               ) -> dict[str, np.ndarray]:
    """Reads every kept variable, in file order (cheap for compressed tars)."""
    names = [n for n in self.entries if keep(n)]
    order = sorted(names, key=lambda n: (self.entries[n].shard_id,
                                         self.entries[n].offset))
    arrays = {n: self.read(n) for n in order}
    return {n: arrays[n] for n in sorted(names)}

  def close(self) -> None:
    for f in self._open.values():
      f.close()
    self._open.clear()
    self._files.close()

  def __enter__(self) -> 'BundleReader':
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def read_checkpoint(path: str | os.PathLike, *,
                    include: Callable[[str], bool] | None = None,
                    skip_optimizer: bool = False) -> dict[str, np.ndarray]:
  """Reads a TensorFlow checkpoint into {variable name: numpy array}.

  Args:
    path: a checkpoint prefix (`dir/model.ckpt-300`), its `.index` file, a
      directory with a `checkpoint` file or a single `*.index`, or a `.tar`.
    include: keep only variables for which `include(name)` is true.
    skip_optimizer: drop Adam slots (`.../Adam`, `.../Adam_1`), `beta1_power`,
      `beta2_power` and `global_step`.

  Raises:
    CheckpointError: the checkpoint is missing, malformed or unsupported.
    ChecksumError: a tensor's bytes fail their CRC32C (names the variable).
  """
  with BundleReader(path) as reader:
    return reader.read_all(_make_filter(include, skip_optimizer))


def list_variables(path: str | os.PathLike, *,
                   include: Callable[[str], bool] | None = None,
                   skip_optimizer: bool = False
                   ) -> dict[str, tuple[tuple[int, ...], np.dtype | str]]:
  """{name: (shape, dtype)} of a checkpoint's variables (reads only the index).

  The dtype is a numpy dtype, or a string such as 'string' for dtypes that
  `read_checkpoint` cannot load.
  """
  keep = _make_filter(include, skip_optimizer)
  with BundleReader(path) as reader:
    return {n: v for n, v in sorted(reader.variables().items()) if keep(n)}


# ---------------------------------------------------------------------------
# Writing (single shard, no compression), as TensorFlow's BundleWriter does.
# ---------------------------------------------------------------------------

_BLOCK_SIZE = 262144  # TF table::Options default
_RESTART_INTERVAL = 16


class _BlockBuilder:
  """LevelDB block builder: prefix-compressed keys with restart points."""

  def __init__(self):
    self.buf = bytearray()
    self.restarts = [0]
    self.counter = 0
    self.last_key = b''

  def add(self, key: bytes, value: bytes) -> None:
    shared = 0
    if self.counter < _RESTART_INTERVAL:
      limit = min(len(key), len(self.last_key))
      while shared < limit and key[shared] == self.last_key[shared]:
        shared += 1
    else:
      self.restarts.append(len(self.buf))
      self.counter = 0
    self.buf += (_encode_varint(shared) + _encode_varint(len(key) - shared)
                 + _encode_varint(len(value)) + key[shared:] + value)
    self.last_key = key
    self.counter += 1

  def size_estimate(self) -> int:
    return len(self.buf) + 4 * len(self.restarts) + 4

  def finish(self) -> bytes:
    tail = struct.pack(f'<{len(self.restarts) + 1}I', *self.restarts,
                       len(self.restarts))
    return bytes(self.buf) + tail


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
  """A short key in [start, limit) (LevelDB's BytewiseComparator)."""
  n = min(len(start), len(limit))
  i = 0
  while i < n and start[i] == limit[i]:
    i += 1
  if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
    return start[:i] + bytes([start[i] + 1])
  return start


def _short_successor(key: bytes) -> bytes:
  for i, b in enumerate(key):
    if b != 0xFF:
      return key[:i] + bytes([b + 1])
  return key


def _write_table(items: list[tuple[bytes, bytes]]) -> bytes:
  """Serializes sorted (key, value) pairs as a LevelDB-format table."""
  out = bytearray()

  def write_block(block: bytes) -> bytes:
    handle = _encode_varint(len(out)) + _encode_varint(len(block))
    trailer = bytes([_NO_COMPRESSION])
    out.extend(block + trailer + struct.pack('<I', mask_crc(crc32c(block + trailer))))
    return handle

  index, data = _BlockBuilder(), _BlockBuilder()
  pending, last_key = None, b''
  for key, value in items:
    if pending is not None:
      index.add(_shortest_separator(last_key, key), pending)
      pending = None
    data.add(key, value)
    last_key = key
    if data.size_estimate() >= _BLOCK_SIZE:
      pending, data = write_block(data.finish()), _BlockBuilder()
  if data.counter:
    pending = write_block(data.finish())
  metaindex = write_block(_BlockBuilder().finish())
  if pending is not None:
    index.add(_short_successor(last_key), pending)
  index_handle = write_block(index.finish())
  footer = (metaindex + index_handle).ljust(40, b'\0')
  out.extend(footer + struct.pack('<Q', _TABLE_MAGIC))
  return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
  return _encode_varint(number << 3 | wire) + payload


def _entry_proto(dtype_code: int, shape: tuple[int, ...], offset: int,
                 size: int, crc: int) -> bytes:
  dims = b''.join(
      _field(2, 2, _encode_varint(len(d)) + d)
      for d in (_field(1, 0, _encode_varint(n)) if n else b'' for n in shape))
  msg = _field(1, 0, _encode_varint(dtype_code))
  msg += _field(2, 2, _encode_varint(len(dims)) + dims)
  if offset:
    msg += _field(4, 0, _encode_varint(offset))
  if size:
    msg += _field(5, 0, _encode_varint(size))
  if crc:
    msg += _field(6, 5, struct.pack('<I', crc))
  return msg


def write_checkpoint(prefix: str | os.PathLike,
                     tensors: Mapping[str, np.ndarray]) -> None:
  """Writes `tensors` as a single-shard TensorFlow checkpoint at `prefix`.

  Creates `PREFIX.index` and `PREFIX.data-00000-of-00001`, laid out as
  TensorFlow's BundleWriter lays them out (variables sorted by name, data
  little endian, masked CRC32Cs), so TensorFlow and `read_checkpoint` can
  read them back.
  """
  prefix = str(prefix)
  header = _field(1, 0, _encode_varint(1)) + _field(3, 2, b'\x02' + _field(1, 0, b'\x01'))
  items, offset = [(b'', header)], 0
  with open(_shard_name(prefix, 0, 1), 'wb') as data_file:
    for name in sorted(tensors):
      array = np.asarray(tensors[name], order='C')  # keeps 0-d shapes
      if array.dtype.byteorder == '>':
        array = array.astype(array.dtype.newbyteorder('<'))
      raw = array.tobytes()
      entry = _entry_proto(_dtype_code(array.dtype), array.shape, offset,
                           len(raw), mask_crc(crc32c(raw)))
      items.append((name.encode('utf-8'), entry))
      data_file.write(raw)
      offset += len(raw)
  Path(prefix + _INDEX_SUFFIX).write_bytes(_write_table(items))
