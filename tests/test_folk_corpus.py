"""Built-in folk corpus: a few tunes converted into a temporary cache."""

import time

import pretty_midi
import pytest

from musicvae_jax.data import folk_corpus
from musicvae_jax.data import music21_io


@pytest.fixture(scope='module')
def small_corpus(tmp_path_factory):
  cache = tmp_path_factory.mktemp('cache')
  root = folk_corpus.default_corpus_dir(cache, max_tunes=20, num_workers=1,
                                        progress=False)
  return cache, root


def test_builds_midi_files_that_parse(small_corpus):
  cache, root = small_corpus
  assert root == cache / 'folk_corpus_v1_max20'
  info = folk_corpus.corpus_info(root)
  train = sorted((root / 'train').glob('*.mid'))
  evals = sorted((root / 'eval').glob('*.mid'))
  assert info['candidate_tunes'] == 20
  assert len(train) + len(evals) == info['midi_files'] >= 15
  assert len(evals) == info['midi_files'] // folk_corpus.EVAL_EVERY
  assert info['music21_version']
  assert not [p for p in cache.iterdir() if p.name.startswith('.')]
  for path in train + evals:
    assert path.name.startswith('essenFolksong-')
    midi = pretty_midi.PrettyMIDI(str(path))
    assert midi.instruments and midi.instruments[0].notes
    assert all(i.program == 0 and not i.is_drum for i in midi.instruments)
    assert all(ts.numerator == ts.denominator
               for ts in midi.time_signature_changes)


def test_second_call_is_instant_and_same(small_corpus):
  cache, root = small_corpus
  start = time.perf_counter()
  again = folk_corpus.default_corpus_dir(cache, max_tunes=20, progress=False)
  assert time.perf_counter() - start < 0.5
  assert again == root
  train, evals = folk_corpus.default_corpus_dirs(cache, max_tunes=20,
                                                 progress=False)
  assert (train, evals) == (root / 'train', root / 'eval')


def test_candidates_are_four_quarter_and_deterministic():
  first = folk_corpus.candidate_tunes(max_tunes=50)
  assert first == folk_corpus.candidate_tunes(max_tunes=50)
  assert len({name for name, _ in first}) == 50
  for _, tune in first:
    meters = music21_io.abc_header_fields(tune, 'M')
    assert meters and set(meters) <= {'4/4', '2/2', 'C', 'C|'}


def test_parallel_build_gives_identical_files(tmp_path):
  # 60 tunes make three chunks of work, so two spawned workers share them.
  serial = folk_corpus.default_corpus_dir(tmp_path / 'a', max_tunes=60,
                                          num_workers=1, progress=False)
  parallel = folk_corpus.default_corpus_dir(tmp_path / 'b', max_tunes=60,
                                            num_workers=2, progress=False)
  files = sorted(p.relative_to(serial) for p in serial.rglob('*.mid'))
  assert len(files) >= 50
  assert files == sorted(p.relative_to(parallel)
                         for p in parallel.rglob('*.mid'))
  for rel in files:
    assert (serial / rel).read_bytes() == (parallel / rel).read_bytes()


def test_incomplete_folder_is_rebuilt(tmp_path):
  stale = folk_corpus.corpus_root(tmp_path, max_tunes=3)
  (stale / 'train').mkdir(parents=True)
  (stale / 'train' / 'junk.mid').write_bytes(b'not midi')
  root = folk_corpus.default_corpus_dir(tmp_path, max_tunes=3, num_workers=1,
                                        progress=False)
  assert root == stale
  assert not (root / 'train' / 'junk.mid').exists()
  assert folk_corpus.corpus_info(root)['candidate_tunes'] == 3
