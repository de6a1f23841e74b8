"""No user file reaches an unpickler: a pickle planted where music21's parse
cache would look is never loaded when we read MusicXML or ABC."""

import pickle
import warnings
import zlib

import pytest

from musicvae_jax.data import music21_io

warnings.filterwarnings('ignore', module='music21')


class _Payload:
  """Unpickling this creates `marker` (stands in for arbitrary code)."""

  def __init__(self, marker):
    self.marker = str(marker)

  def __reduce__(self):
    return (open, (self.marker, 'w'))


@pytest.fixture
def planted(tmp_path, monkeypatch):
  """A MusicXML file and, in music21's (redirected) scratch folder, a
  malicious pickle named exactly as music21's cache entry for that file."""
  import music21
  from music21 import environment, meter, note, stream
  scratch = tmp_path / 'scratch'
  scratch.mkdir()
  monkeypatch.setattr(environment.Environment, 'getRootTempDir',
                      lambda self: scratch)
  part = stream.Part([meter.TimeSignature('4/4')] +
                     [note.Note(60 + i, quarterLength=1.0) for i in range(4)])
  path = tmp_path / 'tune.musicxml'
  stream.Score([part]).write('musicxml', fp=str(path))
  cache_entry = music21.converter.PickleFilter(path).getPickleFp(scratch, zipType='gz')
  marker = tmp_path / 'payload_ran'
  cache_entry.write_bytes(zlib.compress(pickle.dumps(_Payload(marker))))
  return path, cache_entry, marker, scratch


def test_music21_default_parse_would_run_the_planted_pickle(planted):
  """Control: the planted file is the one music21's cache loads."""
  import music21
  path, _, marker, _ = planted
  with pytest.raises(Exception):  # the payload is no Stream
    music21.converter.parse(str(path), format='musicxml')
  assert marker.exists()


def test_musicxml_and_abc_never_unpickle(planted, monkeypatch, tmp_path):
  path, cache_entry, marker, scratch = planted

  def refuse(*args, **kwargs):
    raise AssertionError('pickle used while reading a user file')

  monkeypatch.setattr(pickle, 'load', refuse)
  monkeypatch.setattr(pickle, 'loads', refuse)
  monkeypatch.setattr(pickle, 'Unpickler', refuse)
  ns = music21_io.load_music21_file(path)
  assert [n.pitch for n in ns.notes] == [60, 61, 62, 63]
  abc = tmp_path / 'tune.abc'
  abc.write_text('X:1\nT:t\nM:4/4\nL:1/4\nK:C\nCDEF|\n')
  assert len(music21_io.load_music21_file(abc).notes) == 4
  assert not marker.exists()
  # Nothing new was written to the shared scratch folder either.
  assert sorted(scratch.iterdir()) == [cache_entry]
