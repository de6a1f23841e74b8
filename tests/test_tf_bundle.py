"""Tests for musicvae_jax.magenta.tf_bundle (TF checkpoints without TF).

Synthetic bundles (written by `write_checkpoint`) test the reader everywhere;
the Magenta golden checkpoints in ../shared/fixtures/magenta test it against
files TensorFlow wrote, and are skipped when that folder is absent.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from musicvae_jax.magenta import tf_bundle as tb

FIXTURES = ('cat-mel_2bar_small', 'hierdec-mel_16bar')


# ---------------------------------------------------------------------------
# Fixtures.
# ---------------------------------------------------------------------------


@pytest.fixture(scope='module')
def magenta_fixtures() -> Path:
  """../shared/fixtures/magenta next to the repository, or skip."""
  root = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures' / 'magenta'
  if not root.is_dir():
    pytest.skip(f'golden Magenta checkpoints not found at {root}')
  return root


@pytest.fixture(params=FIXTURES)
def golden(request, magenta_fixtures) -> tuple[Path, dict[str, list[int]]]:
  """(checkpoint prefix, variables.json) of one golden checkpoint."""
  folder = magenta_fixtures / request.param
  if not folder.is_dir():
    pytest.skip(f'{folder} not found')
  prefix = folder / (folder / 'checkpoint_name.txt').read_text().strip()
  return prefix, json.loads((folder / 'variables.json').read_text())


def _tensors() -> dict[str, np.ndarray]:
  import ml_dtypes  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(0)
  return {
      'encoder/mu/kernel': rng.normal(size=(7, 3)).astype(np.float32),
      'encoder/mu/kernel/Adam': rng.normal(size=(7, 3)).astype(np.float32),
      'encoder/mu/kernel/Adam_1': rng.normal(size=(7, 3)).astype(np.float32),
      'beta1_power': np.array(0.9, np.float32),
      'global_step': np.array(12345, np.int64),
      'f64': rng.normal(size=(2, 2, 2)),
      'f16': rng.normal(size=(5,)).astype(np.float16),
      'bf16': rng.normal(size=(4, 2)).astype(ml_dtypes.bfloat16),
      'i32': np.arange(-5, 5, dtype=np.int32),
      'flags': np.array([True, False, True]),
      'empty': np.zeros((0, 4), np.float32),
  }


@pytest.fixture
def bundle(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
  """A synthetic checkpoint in tmp_path/ckpt/model.ckpt-7 and its tensors."""
  tensors = _tensors()
  (tmp_path / 'ckpt').mkdir()
  prefix = tmp_path / 'ckpt' / 'model.ckpt-7'
  tb.write_checkpoint(prefix, tensors)
  return prefix, tensors


def _assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]):
  assert sorted(got) == sorted(want)
  for name, value in want.items():
    assert got[name].dtype == value.dtype, name
    assert got[name].shape == value.shape, name
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def _copy_bundle(prefix: Path, dest: Path) -> Path:
  """Copies a bundle's files into `dest` (writable) and returns the new prefix."""
  dest.mkdir(exist_ok=True)
  for f in prefix.parent.glob(prefix.name + '.*'):
    shutil.copyfile(f, dest / f.name)
  return dest / prefix.name


def _flip_byte(path: Path, offset: int) -> None:
  data = bytearray(path.read_bytes())
  data[offset] ^= 0x5A
  path.write_bytes(bytes(data))


def _make_tar(prefix: Path, archive: Path, mode: str = 'w') -> Path:
  with tarfile.open(archive, mode) as tar:
    for f in sorted(prefix.parent.glob(prefix.name + '.*')):
      tar.add(f, arcname=f'some_model/{f.name}')
  return archive


# ---------------------------------------------------------------------------
# CRC32C.
# ---------------------------------------------------------------------------


def test_crc32c_known_values():
  assert tb.crc32c(b'123456789') == 0xE3069283
  assert tb.crc32c(b'') == 0
  assert tb.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4


@pytest.mark.parametrize('n', [0, 3, 4, 4095, 4096, 4097, 70001, 300003])
def test_crc32c_numpy_matches_bytewise(n):
  data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
  want = tb._crc_update_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF
  assert tb._crc32c_numpy(data) == want
  assert tb.crc32c(data) == want


def test_mask_roundtrip():
  for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
    assert tb.unmask_crc(tb.mask_crc(crc)) == crc
  assert tb.mask_crc(0) == 0xA282EAD8


# ---------------------------------------------------------------------------
# Synthetic bundles.
# ---------------------------------------------------------------------------


def test_roundtrip_all_dtypes(bundle):
  prefix, tensors = bundle
  _assert_same(tb.read_checkpoint(prefix), tensors)


def test_list_variables(bundle):
  prefix, tensors = bundle
  listing = tb.list_variables(prefix)
  assert list(listing) == sorted(tensors)
  for name, value in tensors.items():
    assert listing[name] == (value.shape, value.dtype)


@pytest.mark.parametrize('form', ['prefix', 'index', 'dir', 'str'])
def test_path_forms(bundle, form):
  prefix, tensors = bundle
  path = {'prefix': prefix, 'index': Path(str(prefix) + '.index'),
          'dir': prefix.parent, 'str': str(prefix)}[form]
  _assert_same(tb.read_checkpoint(path), tensors)


def test_checkpoint_state_file_with_stale_absolute_path(bundle, tmp_path):
  prefix, tensors = bundle
  tb.write_checkpoint(prefix.parent / 'model.ckpt-3', {'x': np.ones(2)})
  (prefix.parent / 'checkpoint').write_text(
      'model_checkpoint_path: "/gone/elsewhere/model.ckpt-7"\n'
      'all_model_checkpoint_paths: "/gone/elsewhere/model.ckpt-3"\n')
  _assert_same(tb.read_checkpoint(prefix.parent), tensors)


def test_ambiguous_directory_and_missing_path(bundle, tmp_path):
  prefix, _ = bundle
  tb.write_checkpoint(prefix.parent / 'model.ckpt-3', {'x': np.ones(2)})
  with pytest.raises(tb.CheckpointError, match='several checkpoints'):
    tb.read_checkpoint(prefix.parent)
  with pytest.raises(tb.CheckpointError, match='no TensorFlow checkpoint'):
    tb.read_checkpoint(tmp_path / 'nothing_here')


def test_skip_optimizer_and_include(bundle):
  prefix, tensors = bundle
  kept = tb.read_checkpoint(prefix, skip_optimizer=True)
  assert sorted(kept) == sorted(
      n for n in tensors
      if n not in ('encoder/mu/kernel/Adam', 'encoder/mu/kernel/Adam_1',
                   'beta1_power', 'global_step'))
  only = tb.read_checkpoint(prefix, include=lambda n: n.startswith('encoder/'),
                            skip_optimizer=True)
  assert list(only) == ['encoder/mu/kernel']
  assert list(tb.list_variables(prefix, include=lambda n: n == 'i32')) == ['i32']


@pytest.mark.parametrize('mode,suffix', [('w', '.tar'), ('w:gz', '.tar.gz')])
def test_tar_archive(bundle, tmp_path, mode, suffix):
  prefix, tensors = bundle
  archive = _make_tar(prefix, tmp_path / f'model{suffix}', mode)
  _assert_same(tb.read_checkpoint(archive), tensors)
  assert tb.list_variables(archive) == tb.list_variables(prefix)


def test_tar_without_single_index(bundle, tmp_path):
  prefix, _ = bundle
  archive = tmp_path / 'empty.tar'
  with tarfile.open(archive, 'w') as tar:
    tar.add(Path(str(prefix) + '.data-00000-of-00001'), arcname='x.data')
  with pytest.raises(tb.CheckpointError, match='exactly one'):
    tb.read_checkpoint(archive)


def test_corrupt_data_names_variable(bundle, tmp_path):
  prefix, _ = bundle
  with tb.BundleReader(prefix) as reader:
    entry = reader.entries['i32']
  _flip_byte(Path(str(prefix) + '.data-00000-of-00001'), entry.offset + 2)
  with pytest.raises(tb.ChecksumError, match="'i32'"):
    tb.read_checkpoint(prefix)
  # Other variables stay readable.
  assert 'f64' in tb.read_checkpoint(prefix, include=lambda n: n != 'i32')


def test_truncated_data_file(bundle):
  prefix, _ = bundle
  data = Path(str(prefix) + '.data-00000-of-00001')
  data.write_bytes(data.read_bytes()[:-3])
  with pytest.raises(tb.CheckpointError, match='ends early'):
    tb.read_checkpoint(prefix)


@pytest.mark.parametrize('keep', [0, 10, 47, -1, -48])
def test_truncated_index(bundle, keep):
  prefix, _ = bundle
  index = Path(str(prefix) + '.index')
  index.write_bytes(index.read_bytes()[:keep])
  with pytest.raises(tb.CheckpointError, match='index|truncated'):
    tb.read_checkpoint(prefix)


def test_corrupt_index_block(bundle):
  prefix, _ = bundle
  _flip_byte(Path(str(prefix) + '.index'), 20)
  with pytest.raises(tb.ChecksumError, match='index file is corrupt'):
    tb.list_variables(prefix)


def test_many_blocks_and_restarts(tmp_path, monkeypatch):
  monkeypatch.setattr(tb, '_BLOCK_SIZE', 300)
  tensors = {f'layer_{i:03d}/sub/{"k" * (i % 7)}': np.full((i % 3 + 1,), i, np.int32)
             for i in range(200)}
  tb.write_checkpoint(tmp_path / 'm', tensors)
  index = (tmp_path / 'm.index').read_bytes()
  data_blocks = len(list(tb._iter_block(
      tb._read_block(index, *_index_handle(index), 'x'), 'x')))
  assert data_blocks > 10
  _assert_same(tb.read_checkpoint(tmp_path / 'm'), tensors)


def _index_handle(table: bytes) -> tuple[int, int]:
  footer = table[-48:]
  _, _, pos = tb._read_block_handle(footer, 0, 'x')
  offset, size, _ = tb._read_block_handle(footer, pos, 'x')
  return offset, size


def test_unsupported_dtype_is_listed_but_not_read(tmp_path):
  entry = tb._field(1, 0, b'\x07') + tb._field(2, 2, b'\x00')  # DT_STRING scalar
  header = tb._field(1, 0, b'\x01')
  (tmp_path / 's.index').write_bytes(
      tb._write_table([(b'', header), (b'vocab', entry)]))
  (tmp_path / 's.data-00000-of-00001').write_bytes(b'')
  assert tb.list_variables(tmp_path / 's') == {'vocab': ((), 'string')}
  with pytest.raises(tb.CheckpointError, match="'vocab'.*string"):
    tb.read_checkpoint(tmp_path / 's')
  assert tb.read_checkpoint(tmp_path / 's', include=lambda n: False) == {}


def test_snappy_decompress():
  # "abcabcabcabcX": literal "abc", copy (offset 3, length 9), literal "X".
  stream = bytes([13, 2 << 2, *b'abc', (8 << 2) | 2, 3, 0, 0, *b'X'])
  assert tb._snappy_decompress(stream, 'x') == b'abcabcabcabcX'
  with pytest.raises(tb.CheckpointError, match='snappy'):
    tb._snappy_decompress(bytes([5, 0, *b'a']), 'x')


def test_is_optimizer_variable():
  assert tb.is_optimizer_variable('a/kernel/Adam')
  assert tb.is_optimizer_variable('a/kernel/Adam_1')
  assert tb.is_optimizer_variable('beta2_power')
  assert tb.is_optimizer_variable('global_step')
  assert not tb.is_optimizer_variable('a/kernel')
  assert not tb.is_optimizer_variable('Adamant/kernel')


# ---------------------------------------------------------------------------
# Golden Magenta checkpoints written by TensorFlow.
# ---------------------------------------------------------------------------


def test_golden_every_variable(golden):
  prefix, variables = golden
  weights = tb.read_checkpoint(prefix)
  assert sorted(weights) == sorted(variables)
  for name, shape in variables.items():
    assert weights[name].shape == tuple(shape), name
    assert np.all(np.isfinite(weights[name])), name
  assert weights['global_step'].dtype == np.int64
  assert all(v.dtype == np.float32 for n, v in weights.items()
             if n != 'global_step')


def test_golden_skip_optimizer(golden):
  prefix, variables = golden
  want = sorted(n for n in variables if not n.endswith(('/Adam', '/Adam_1'))
                and n not in ('beta1_power', 'beta2_power', 'global_step'))
  assert sorted(tb.read_checkpoint(prefix, skip_optimizer=True)) == want
  listing = tb.list_variables(prefix, skip_optimizer=True)
  assert list(listing) == want
  assert all(shape == tuple(variables[n]) for n, (shape, _) in listing.items())


def test_golden_rewrite_is_byte_identical(golden, tmp_path):
  """write_checkpoint reproduces TensorFlow's own files byte for byte."""
  prefix, _ = golden
  tb.write_checkpoint(tmp_path / prefix.name, tb.read_checkpoint(prefix))
  for suffix in ('.index', '.data-00000-of-00001'):
    assert ((tmp_path / (prefix.name + suffix)).read_bytes()
            == Path(str(prefix) + suffix).read_bytes()), suffix


def test_golden_corrupt_copy_names_variable(golden, tmp_path):
  prefix, _ = golden
  copy = _copy_bundle(prefix, tmp_path / 'copy')
  with tb.BundleReader(copy) as reader:
    entries = reader.entries
  name = max(entries, key=lambda n: entries[n].size)
  _flip_byte(Path(str(copy) + '.data-00000-of-00001'),
             entries[name].offset + entries[name].size // 2)
  with pytest.raises(tb.ChecksumError, match=f"variable '{name}'"):
    tb.read_checkpoint(copy)


def test_golden_truncated_index(golden, tmp_path):
  prefix, _ = golden
  copy = _copy_bundle(prefix, tmp_path / 'copy')
  index = Path(str(copy) + '.index')
  index.write_bytes(index.read_bytes()[:-100])
  with pytest.raises(tb.CheckpointError, match='model.ckpt-.*index'):
    tb.list_variables(copy)


def test_golden_tar_reads_the_same(golden, tmp_path):
  prefix, _ = golden
  archive = _make_tar(prefix, tmp_path / 'model.tar')
  _assert_same(tb.read_checkpoint(archive), tb.read_checkpoint(prefix))
