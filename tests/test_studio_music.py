"""The studio for a musician: tempo and transpose (rendered by the server),
sessions restored from recipes, and the page in a real headless Chromium:
audio decoded, Web MIDI out (a fake port), history / undo / favourites, the
session after a reload, the keyboard map, cross-origin requests refused, and
memory over many walks.

Screenshots of each panel go to $STUDIO_ARTEFACTS (else the test's tmp_path).
"""

from __future__ import annotations

import io
import json
import os
import urllib.request
from pathlib import Path

import note_seq
import numpy as np
import pytest

# The fixtures (a freshly initialised tiny mel_2bar, its server, Chromium) and helpers.
from test_studio import (  # noqa: F401  (fixtures are used by name)
    _launch, _notes, _post, _request, _serve, _token, browser_path, served, studio, tiny)


def _artefacts(tmp_path) -> Path:
  folder = Path(os.environ.get('STUDIO_ARTEFACTS') or tmp_path / 'artefacts')
  folder.mkdir(parents=True, exist_ok=True)
  return folder


def _midi(data: bytes):
  import mido
  return mido.MidiFile(file=io.BytesIO(data))


def _tempos(midi) -> list[float]:
  return [round(60e6 / m.tempo, 3) for track in midi.tracks for m in track if m.type == 'set_tempo']


# -- tempo and transpose, worked by hand -----------------------------------------------------

def _sequence():
  ns = note_seq.NoteSequence(ticks_per_quarter=220, total_time=4.0)
  ns.tempos.add(qpm=120.0)
  ns.time_signatures.add(numerator=4, denominator=4)
  ns.notes.add(pitch=60, start_time=0.0, end_time=0.5, velocity=90)
  ns.notes.add(pitch=120, start_time=1.0, end_time=2.0, velocity=90)
  ns.notes.add(pitch=36, start_time=0.5, end_time=0.6, velocity=100, is_drum=True)
  return ns


def test_arrangement_moves_tempo_and_pitch_by_hand():
  from musicvae_jax.studio import arrange
  from musicvae_jax.studio.errors import StudioError
  ns = _sequence()
  assert arrange.apply(ns, arrange.PLAIN) is ns
  slow = arrange.apply(ns, arrange.parse({'bpm': '60', 'transpose': '12'}))
  assert [(n.pitch, n.start_time, n.end_time) for n in slow.notes] == [
      (72, 0.0, 1.0), (120, 2.0, 4.0), (36, 1.0, 1.2)]   # 132 folds back to 120; drums stay
  assert slow.tempos[0].qpm == 60.0 and slow.total_time == 8.0
  assert ns.notes[0].pitch == 60 and ns.total_time == 4.0            # the original is untouched
  down = arrange.apply(ns, arrange.Arrangement(transpose=-3))
  assert [n.pitch for n in down.notes] == [57, 117, 36]
  assert arrange.parse({}).plain and arrange.parse({'bpm': '', 'transpose': ''}).plain
  for fields, message in (({'bpm': 'fast'}, "tempo 'fast': choose 20 to 300"),
                          ({'bpm': '1000'}, 'beats per minute'),
                          ({'transpose': '1.5'}, "transpose '1.5': choose a whole number"),
                          ({'transpose': '30'}, 'from -24 to 24')):
    with pytest.raises(StudioError, match=message):
      arrange.parse(fields)


def test_downloads_at_a_tempo_and_transpose(tiny, studio):
  """MIDI and WAV at 60 BPM last twice as long and name the tempo; transpose
  moves every note; the recipe says how it was played and `reproduce` writes
  the same notes; plain downloads are unchanged (the loop keeps its 2 bars)."""
  from musicvae_jax.studio import arrange, reproduce
  _, _, model = tiny
  (item,) = studio.sample(1, 0.9, 7)
  plain = _midi(studio.media(item.id, 'mid')[0])
  assert plain.length == pytest.approx(4.0) and _tempos(plain) == [120.0]
  played = arrange.Arrangement(bpm=60.0, transpose=5)
  data, _, name = studio.media(item.id, 'mid', played)
  assert name == f'sample_{item.id}_60bpm_+5.mid'
  slow = _midi(data)
  assert slow.length == pytest.approx(8.0) and _tempos(slow) == [60.0]
  back = note_seq.midi_to_note_sequence(data)
  assert [n.pitch for n in back.notes] == [n.pitch + 5 for n in item.ns.notes]
  assert [round(n.start_time, 4) for n in back.notes] == [
      round(2 * n.start_time, 4) for n in item.ns.notes]
  wav_plain, wav_slow = studio.media(item.id, 'wav')[0], studio.media(item.id, 'wav', played)[0]
  assert len(wav_slow) > 1.8 * len(wav_plain)
  recipe = json.loads(studio.media(item.id, 'json', played)[0])
  assert recipe['playback'] == {'bpm': 60.0, 'transpose': 5}
  again = arrange.apply(reproduce.replay(model, recipe), arrange.parse(recipe['playback']))
  assert [n.pitch for n in again.notes] == [n.pitch for n in back.notes]
  np.testing.assert_allclose([n.start_time for n in again.notes],
                             [n.start_time for n in back.notes], atol=0.01)
  assert 'playback' not in json.loads(studio.media(item.id, 'json')[0])


def test_sessions_restore_from_recipes(tiny, studio):
  """Samples, mixes and walks come back from their recipes note for note;
  an input window from the notes the session kept; a recipe of another
  model is one line."""
  from musicvae_jax.studio import session
  from musicvae_jax.studio.errors import StudioError
  _, data, _ = tiny
  samples = studio.sample(3, 0.7, seed=11)
  mix = studio.mix([samples[0].id, samples[1].id], 0.3, 0, 0.5, 2)
  walk = studio.walk([], 1, 0.5, 3, random_anchors=2)
  info = studio.upload('m2_0.mid', (data / 'm2_0.mid').read_bytes())
  source, _ = studio.use_window(info['upload'], 1, 0.5, 0)
  for item in (samples[2], mix, walk):
    recipe = json.loads(studio.media(item.id, 'json')[0])
    back = session.restore(studio, {'recipe': recipe, 'title': item.title, 'kind': item.kind})
    assert back.id != item.id and back.kind == item.kind and back.title == item.title
    assert _notes(back.ns) == _notes(item.ns), item.title
    assert back.ns.total_time == pytest.approx(item.ns.total_time)
    np.testing.assert_allclose(back.z, item.z, rtol=1e-6)
    assert 'cli' not in back.recipe and studio.recipe(back)['cli']
  page_item = studio.item_json(source)
  recipe = json.loads(studio.media(source.id, 'json')[0])
  back = session.restore(studio, {'recipe': recipe, 'title': source.title, 'kind': 'input',
                                  'notes': page_item['notes'], 'duration': page_item['duration']})
  assert _notes(back.ns) == _notes(source.ns)
  np.testing.assert_allclose(back.z, source.z, rtol=1e-6)
  wrong = dict(json.loads(studio.media(mix.id, 'json')[0]), z=[[0.0] * 7])
  with pytest.raises(StudioError, match=r'^Mix .*cannot be restored on this model \('):
    session.restore(studio, {'recipe': wrong, 'title': mix.title, 'kind': 'mix'})
  with pytest.raises(StudioError, match='has no recipe'):
    session.restore(studio, {'title': 'x'})


def test_server_tempo_transpose_and_restore(served):
  base, studio = served
  status, body = _post(f'{base}/api/sample', json.dumps({'n': 1, 'seed': 4}).encode())
  item = body['items'][0]
  assert status == 200 and item['qpm'] == 120.0
  status, got = _request(f'{base}/api/item/{item["id"]}')
  assert status == 200 and got['notes'] == item['notes']
  token = _token(base)
  with urllib.request.urlopen(f'{base}/api/item/{item["id"]}/mid?token={token}&bpm=90&download=1',
                              timeout=30) as response:
    assert 'filename="sample_' in response.headers['Content-Disposition']
    assert _tempos(_midi(response.read())) == [90.0]
  status, body = _request(f'{base}/api/item/{item["id"]}/wav?bpm=9000')
  assert status == 400 and body['error'] == "tempo '9000': choose 20 to 300 beats per minute"
  status, body = _request(f'{base}/api/item/{item["id"]}/mid?transpose=up')
  assert status == 400 and body['error'].startswith("transpose 'up': choose a whole number")
  status, recipe = _request(f'{base}/api/item/{item["id"]}/json')
  status, body = _post(f'{base}/api/restore', json.dumps(
      {'recipe': recipe, 'title': item['title'], 'kind': 'sample'}).encode())
  assert status == 200 and body['items'][0]['notes'] == item['notes']
  status, body = _post(f'{base}/api/restore', json.dumps({'recipe': 'x', 'title': 'T'}).encode())
  assert status == 400 and body['error'] == 'T: the session has no recipe for it'
  status, body = _request(f'{base}/api/item/nope')
  assert status == 400 and "no result 'nope'" in body['error']
