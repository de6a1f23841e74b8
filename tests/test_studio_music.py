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
import time
import urllib.request
from pathlib import Path

import note_seq
import numpy as np
import pytest

# The fixtures (a freshly initialised tiny mel_2bar, its server, Chromium) and helpers.
from test_studio import (  # noqa: F401  (fixtures are used by name)
    _launch, _notes, _post, _request, _serve, _token, _untrained,
    browser_path, groove, served, studio, tiny)


def play_first_sample(page) -> str:
  """Clicks play on the first sample card and waits until the page has
  decoded its audio; returns the card's item id."""
  card = page.locator('#sample-results .card').first
  item_id = card.get_attribute('data-id')
  card.locator('.play').click()
  page.wait_for_function('(id) => { const a = window.studioState.lastAudio;'
                         '  return a && a.id === id && a.samples > 0; }', arg=item_id,
                         timeout=30_000)
  return item_id


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


def test_reproduce_plays_a_recipe_at_its_saved_tempo_and_pitch(tiny, studio, tmp_path):
  """`studio.reproduce` writes a recipe saved at 60 BPM, 3 semitones up, as it was heard."""
  import subprocess
  import sys
  from musicvae_jax.studio import arrange
  workdir, _, _ = tiny
  (item,) = studio.sample(1, 0.8, 9)
  recipe = tmp_path / 'slow.json'
  recipe.write_bytes(studio.media(item.id, 'json', arrange.Arrangement(60.0, 3))[0])
  out = tmp_path / 'again'
  repo = Path(__file__).resolve().parents[1]
  result = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.studio.reproduce', f'--workdir={workdir}',
       f'--recipe={recipe}', f'--output_dir={out}'], cwd=repo, capture_output=True,
      text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(repo)))
  assert result.returncode == 0, result.stderr[-2000:]
  data = (out / 'result.mid').read_bytes()
  assert _tempos(_midi(data)) == [60.0] and _midi(data).length == pytest.approx(8.0)
  again = note_seq.midi_to_note_sequence(data)
  assert [n.pitch for n in again.notes] == [n.pitch + 3 for n in item.ns.notes]


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
  huge = dict(json.loads(studio.media(samples[0].id, 'json')[0]), n=100_000)
  with pytest.raises(StudioError, match=r'cannot be restored on this model \(sample 0 of 100000\)'):
    session.restore(studio, {'recipe': huge, 'title': 'S', 'kind': 'sample'})
  loud = {'recipe': recipe, 'title': 'W', 'notes': [[300, 0, 1, 100, False, 0]], 'duration': 4}
  with pytest.raises(StudioError, match='out of range'):
    session.restore(studio, loud)
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


# -- the page in a real browser ------------------------------------------------------------------

FAKE_MIDI = '''
window.__midi = {sent: [], asked: 0};
(() => {
  const port = {id: 'fake-1', name: 'Fake synth', type: 'output', state: 'connected',
                send(data, at) { window.__midi.sent.push([Array.from(data), at === undefined ? null : at]); }};
  Object.defineProperty(navigator, 'requestMIDIAccess', {configurable: true, value: () => {
    window.__midi.asked += 1;
    return Promise.resolve({outputs: new Map([['fake-1', port]]), inputs: new Map(),
                            sysexEnabled: false, onstatechange: null});
  }});
})();
'''
NO_MIDI = 'delete Navigator.prototype.requestMIDIAccess; delete navigator.requestMIDIAccess;'


def _message(page, text, timeout=30_000):
  page.wait_for_function('(t) => document.getElementById("message-text").textContent.includes(t)',
                         arg=text, timeout=timeout)


def _download(page, selector, folder: Path, name: str) -> bytes:
  with page.expect_download() as download:
    page.click(selector)
  path = folder / name
  download.value.save_as(path)
  return path.read_bytes()


def _open(context, base):
  page = context.new_page()
  page.goto(base + '/')
  page.wait_for_selector('body[data-ready="1"][data-session="restored"]', timeout=60_000)
  return page


def test_musician_controls_in_a_real_browser(browser_path, served, tmp_path):
  """Sample and hear it (audio decoded); tempo and transpose change what plays
  and the MIDI download; notes and clock go to a (fake) Web MIDI port; undo,
  favourites, the keyboard map; the session survives a reload and a file
  round trip; bad input gives one-line messages."""
  from playwright import sync_api as playwright
  base, studio = served
  shots = _artefacts(tmp_path)
  errors = []
  with playwright.sync_playwright() as p:
    browser = _launch(p, browser_path)
    try:
      context = browser.new_context(viewport={'width': 1280, 'height': 900}, accept_downloads=True)
      context.add_init_script(FAKE_MIDI)
      context.on('weberror', lambda e: errors.append(str(e.error)))
      page = _open(context, base)
      assert page.locator('#history-list li.empty').count() == 1   # a fresh browser: nothing kept

      # Sample two; play the first: its WAV is fetched and decoded by WebAudio.
      page.fill('#sample-n', '2')
      page.click('#sample-go')
      page.wait_for_function('document.querySelectorAll("#sample-results .card").length === 2',
                             timeout=60_000)
      first_id = play_first_sample(page)
      first = page.locator('#sample-results .card').first
      audio = page.evaluate('window.studioState.lastAudio')
      assert audio['duration'] == pytest.approx(4.25, abs=0.01) and audio['samples'] > 22050
      page.screenshot(path=str(shots / 'sample.png'))

      # Tempo 60 and transpose +2: what plays is re-rendered, the MIDI download follows.
      page.fill('#tempo', '60')
      page.fill('#transpose', '2')
      page.locator('#transpose').dispatch_event('change')
      page.wait_for_function('(id) => { const a = window.studioState.lastAudio;'
                             '  return a && a.id === id && a.query === "&bpm=60&transpose=2"; }',
                             arg=first_id, timeout=30_000)
      assert page.evaluate('window.studioState.lastAudio.duration') == pytest.approx(8.25, abs=0.02)
      data = _download(page, '#sample-results .card >> nth=0 >> .dl-mid', tmp_path, 'slow.mid')
      midi = _midi(data)
      assert _tempos(midi) == [60.0] and midi.length == pytest.approx(8.0)
      played = note_seq.midi_to_note_sequence(data)
      original = studio.item(first_id).ns
      assert [n.pitch for n in played.notes] == [n.pitch + 2 for n in original.notes]

      # Web MIDI out to the fake port: the notes (transposed), start, clock, stop.
      page.click('#midi-enable')
      page.wait_for_selector('#midi-port option[value=fake-1]', state='attached')
      page.select_option('#midi-port', 'fake-1')
      assert 'Fake synth' in page.text_content('#midi-status')
      page.evaluate('player.stop(); window.__midi.sent = []')
      page.check('#player-loop')          # looping: still playing when stopped below
      first.locator('.play').click()
      page.wait_for_function('window.__midi.sent.filter((m) => (m[0][0] & 0xf0) === 0x90).length >= 1',
                             timeout=30_000)
      page.wait_for_timeout(300)
      page.click('#player-toggle')    # stop
      page.uncheck('#player-loop')
      sent = [m for m, _ in page.evaluate('window.__midi.sent')]
      assert sent[0] == [0xFA] and [0xF8] in sent and sent[-1] == [0xFC]
      ons = [m[1] for m in sent if m[0] & 0xF0 == 0x90]
      first_pitches = [n.pitch + 2 for n in sorted(original.notes, key=lambda n: n.start_time)]
      assert ons and ons == first_pitches[:len(ons)], (ons, first_pitches)
      assert [0xB0, 123, 0] in sent                     # all notes off when stopped
      clock = [at for m, at in page.evaluate('window.__midi.sent') if m == [0xF8]]
      assert len(clock) >= 5 and np.diff(clock) == pytest.approx(1000 / 24, abs=0.01)  # 24 per beat at 60 BPM
      page.screenshot(path=str(shots / 'player_midi.png'))

      # Undo: a second batch, then z brings the first back.
      page.fill('#sample-seed', '1')
      page.click('#sample-go')
      page.wait_for_function('(id) => !document.querySelector(`#sample-results .card[data-id="${id}"]`)',
                             arg=first_id, timeout=60_000)
      page.locator('body').press('z')
      page.wait_for_selector(f'#sample-results .card[data-id="{first_id}"]')
      assert page.locator('#sample-results .card').count() == 2
      _message(page, 'Undone: Sample 1 (seed 1')

      # Star the first sample (its card, then f on what plays); the favourites list shows it.
      page.locator(f'#sample-results .card[data-id="{first_id}"] .fav').click()
      assert page.locator(f'#sample-results .card[data-id="{first_id}"] .fav.on').count() == 1
      page.locator('body').press('f')     # f: what played last (the same sample) unstarred
      assert page.locator(f'#sample-results .card[data-id="{first_id}"] .fav.on').count() == 0
      page.locator('body').press('f')
      assert page.locator(f'#sample-results .card[data-id="{first_id}"] .fav.on').count() == 1
      page.click('.tab[data-tab=history]')
      assert page.locator('#favourite-list li').count() == 1
      assert page.text_content('#history-count') == '1'
      page.screenshot(path=str(shots / 'history.png'))

      # The keyboard map on "?", closed with Escape.
      page.locator('body').press('?')
      assert page.locator('#keymap').is_visible()
      keys = page.text_content('#keymap-table')
      for text in ('play / stop', 'undo', 'star', 'temperature', 'tempo', 'transpose'):
        assert text in keys
      page.screenshot(path=str(shots / 'keymap.png'))
      page.keyboard.press('Escape')
      assert page.locator('#keymap').is_hidden()
      for tab in ('sample', 'inputs', 'mix', 'walk', 'map', 'attributes', 'history'):
        page.click(f'.tab[data-tab={tab}]')
        page.screenshot(path=str(shots / f'panel_{tab}.png'))
      page.click('.tab[data-tab=sample]')
      page.locator('body').press('ArrowRight')       # temperature up on the Sample panel
      assert page.input_value('#sample-temperature') == '0.55'

      # Bad input: one-line messages.
      page.fill('#tempo', '1000')
      page.locator('#tempo').dispatch_event('change')
      _message(page, 'Tempo: choose 20 to 300 beats per minute')
      page.fill('#tempo', '60')
      page.locator('#tempo').dispatch_event('change')
      bad = tmp_path / 'bad.json'
      bad.write_text('{"nope": 1}')
      page.set_input_files('#session-import', str(bad))
      _message(page, 'bad.json: not a studio session file')

      # Reload: the history, the favourite and the settings come back.
      page.wait_for_timeout(400)       # the session is saved 0.2 s after a change
      page.reload()
      page.wait_for_selector('body[data-ready="1"][data-session="restored"]', timeout=60_000)
      page.wait_for_selector(f'#sample-results .card[data-id="{first_id}"]')
      assert page.input_value('#tempo') == '60' and page.input_value('#transpose') == '2'
      assert page.input_value('#sample-temperature') == '0.55'
      assert page.locator('#favourite-list li').count() == 1
      assert page.evaluate('window.studioHistory.entries.length') == 1   # the undone batch is gone

      # Saved as a file, loaded in a fresh browser profile: the same results.
      page.click('.tab[data-tab=history]')
      saved = json.loads(_download(page, '#session-export', tmp_path, 'session.json'))
      assert saved['format'] == 'musicvae-studio-session' and saved['favourites'][0]['recipe']
      favourites = json.loads(_download(page, '#favourites-export', tmp_path, 'fav.json'))
      assert favourites['history'] == [] and len(favourites['favourites']) == 1
      page.close()
      fresh = browser.new_context(viewport={'width': 1280, 'height': 900})
      other = _open(fresh, base)
      other.set_input_files('#session-import', str(tmp_path / 'session.json'))
      other.wait_for_selector(f'#sample-results .card[data-id="{first_id}"]', timeout=60_000)
      saved['token'] = 'another launch'      # as after a restart: rebuilt from the recipes
      (tmp_path / 'old.json').write_text(json.dumps(saved))
      other.set_input_files('#session-import', str(tmp_path / 'old.json'))
      _message(other, 'old.json: 2 results restored')
      rebuilt = other.evaluate('window.studioHistory.entries[window.studioHistory.entries.length - 1]'
                               '.items.map((i) => [i.id, i.notes])')
      assert rebuilt[0][0] != first_id and rebuilt[0][1] == studio.item_json(
          studio.item(first_id))['notes']
      fresh.close()
    finally:
      browser.close()
  assert not errors, errors


def test_page_without_web_midi_says_so(browser_path, served, tmp_path):
  from playwright import sync_api as playwright
  base, _ = served
  with playwright.sync_playwright() as p:
    browser = _launch(p, browser_path)
    try:
      context = browser.new_context(viewport={'width': 1280, 'height': 900})
      context.add_init_script(NO_MIDI)

      def late(route):      # a feature script arriving after /api/info: the page still starts it
        time.sleep(1.5)
        route.continue_()
      context.route('**/static/session.js', late)
      page = _open(context, base)
      assert page.evaluate('typeof navigator.requestMIDIAccess') == 'undefined'
      page.click('#midi-enable')
      page.wait_for_function('document.getElementById("midi-status").textContent.includes("no Web MIDI")')
      assert 'playback here is not affected' in page.text_content('#midi-status')
      page.screenshot(path=str(_artefacts(tmp_path) / 'no_midi.png'))
    finally:
      browser.close()


def test_other_sites_cannot_use_the_studio(browser_path, served):
  """From a page of another site, a form-like POST and a CORS fetch reach
  nothing (whether the server or the browser stops them first, nothing is
  sampled); another Origin is refused, and so is another Host (DNS rebinding)."""
  from playwright import sync_api as playwright
  base, studio = served
  port = base.rsplit(':', 1)[1]
  before = len(studio.items)
  with playwright.sync_playwright() as p:
    browser = _launch(p, browser_path)
    try:
      page = browser.new_page()
      page.route('http://evil.example/**', lambda route: route.fulfill(
          status=200, content_type='text/html', body='<html><body>evil</body></html>'))
      page.goto('http://evil.example/')
      outcome = page.evaluate('''async (base) => {
        const body = JSON.stringify({n: 1, seed: 0});
        let simple, cors;
        try { simple = (await fetch(base + '/api/sample', {method: 'POST', mode: 'no-cors',
                headers: {'Content-Type': 'text/plain'}, body})).type; }
        catch (error) { simple = 'blocked'; }   // the browser's own local-network guard
        try { await fetch(base + '/api/sample', {method: 'POST', body,
                headers: {'Content-Type': 'application/json', 'X-Studio-Token': 'guess'}});
              cors = 'answered'; } catch (error) { cors = 'refused'; }
        return [simple, cors]; }''', base)
      assert outcome[0] in ('opaque', 'blocked') and outcome[1] == 'refused', outcome
    finally:
      browser.close()
  assert len(studio.items) == before            # nothing was sampled
  status, body = _post(f'{base}/api/sample', b'{}', headers={'Origin': 'http://evil.example'})
  assert status == 403 and body['error'].startswith('requests from other web sites')
  status, body = _post(f'{base}/api/sample', b'{}', headers={'Host': f'evil.example:{port}'})
  assert status == 421 and 'answers only at its own address' in body['error']


def _rss_mb() -> float:
  """This process's resident memory (the server runs in a thread of it)."""
  with open('/proc/self/status') as f:
    for line in f:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 1024
  pytest.skip('no /proc/self/status here')


SOAK_WALKS = 200
SOAK_GROWTH_MB = 50     # allowed growth from walk 40 to walk 200 (media cache: 8 MB; seen: +2 MB)


def test_memory_stays_bounded_over_many_walks(tiny):
  """200 random walks through the server, each played (WAV) and saved (MIDI):
  the process's RSS grows by less than SOAK_GROWTH_MB after the first 40."""
  from musicvae_jax.studio.engine import Studio
  workdir, _, model = tiny
  studio = Studio(model, str(workdir), media_cache_bytes=8_000_000)
  with _serve(studio) as base:
    token = _token(base)
    body = json.dumps({'ids': [], 'anchors': 2, 'steps': 0, 'temperature': 0.5}).encode()
    request = lambda path, data=None: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        base + path, data=data, headers={'X-Studio-Token': token,
                                         'Content-Type': 'application/json'}), timeout=60)
    for i in range(SOAK_WALKS):
      seed = body.replace(b'}', f', "seed": {i}}}'.encode())
      with request('/api/walk', seed) as response:
        (item,) = json.loads(response.read())['items']
      for kind in ('wav', 'mid'):
        with request(f'/api/item/{item["id"]}/{kind}?bpm={90 + i % 40}') as response:
          assert len(response.read()) > 40
      if i == 39:
        settled = _rss_mb()
    grown = _rss_mb() - settled
    print(f"soak: RSS {settled:.0f} MB after 40 walks, +{grown:.1f} MB after {SOAK_WALKS}")
  assert studio.media_cache.bytes <= 8_000_000
  assert grown < SOAK_GROWTH_MB, f'RSS grew {grown:.0f} MB over {SOAK_WALKS - 40} walks'


def test_beats_16_bars_and_a_cancelled_map_in_a_browser(browser_path, groove, served, tmp_path,
                                                        monkeypatch):
  """A humanized GrooVAE beat plays at a new tempo (drums are not transposed);
  a 16-bar model's walk (32 bars) plays; the eval-set map, slowed down, is
  cancelled from the page."""
  from playwright import sync_api as playwright
  from musicvae_jax.data import cache
  from musicvae_jax.studio.engine import Studio
  groove, beats = groove
  base, _ = served
  hier = Studio(_untrained('configs/hier.py:tiny'), 'runs/hier')
  shots = _artefacts(tmp_path)
  errors = []
  with _serve(groove) as groove_base, _serve(hier) as hier_base, \
       playwright.sync_playwright() as p:
    browser = _launch(p, browser_path)
    try:
      context = browser.new_context(viewport={'width': 1280, 'height': 900}, accept_downloads=True)
      context.on('weberror', lambda e: errors.append(str(e.error)))
      page = _open(context, groove_base)
      page.click('.tab[data-tab=inputs]')
      page.set_input_files('#file-input', str(beats / 'beat.mid'))
      page.wait_for_selector('.upload .humanize', timeout=60_000)
      page.click('.upload .humanize')
      page.wait_for_selector('#input-results .card[data-kind=humanize]', timeout=60_000)
      card = page.locator('#input-results .card[data-kind=humanize]').first
      beat_id = card.get_attribute('data-id')
      page.fill('#tempo', '80')
      page.fill('#transpose', '5')
      page.locator('#transpose').dispatch_event('change')
      card.locator('.play').click()
      page.wait_for_function('(id) => { const a = window.studioState.lastAudio;'
                             '  return a && a.id === id && a.samples > 0 && a.query.includes("bpm=80"); }',
                             arg=beat_id, timeout=30_000)
      page.wait_for_function('window.studioState.played && window.studioState.played.context === "running"')
      data = _download(page, '#input-results .card[data-kind=humanize] >> nth=0 >> .dl-mid',
                       tmp_path, 'beat.mid')
      assert _tempos(_midi(data)) == [80.0]
      back = note_seq.midi_to_note_sequence(data)
      assert sorted(n.pitch for n in back.notes) == sorted(n.pitch for n in groove.item(beat_id).ns.notes)
      page.screenshot(path=str(shots / 'groove_humanized.png'))
      context.close()

      context = browser.new_context(viewport={'width': 1280, 'height': 900})
      context.on('weberror', lambda e: errors.append(str(e.error)))
      page = _open(context, hier_base)
      page.click('.tab[data-tab=walk]')
      page.check('input[name=walk-mode][value=random]')
      page.fill('#walk-anchors', '2')
      page.fill('#walk-steps', '0')
      page.click('#walk-go')
      page.wait_for_selector('#walk-result .card', timeout=180_000)
      walk_id = page.get_attribute('#walk-result .card', 'data-id')
      page.wait_for_function('(id) => { const a = window.studioState.lastAudio;'
                             '  return a && a.id === id && a.samples > 0; }', arg=walk_id,
                             timeout=120_000)
      assert page.evaluate('window.studioState.lastAudio.duration') == pytest.approx(64.25, abs=0.05)
      assert hier.item(walk_id).ns.total_time == pytest.approx(64.0)     # 2 x 16 bars at 120 qpm
      page.screenshot(path=str(shots / 'hier_walk.png'))
      context.close()

      # The eval-set map, each file slowed down, cancelled from the page.
      convert = cache._convert_one

      def slowly(job):
        time.sleep(0.5)
        return convert(job)
      monkeypatch.setattr(cache, '_convert_one', slowly)
      context = browser.new_context(viewport={'width': 1280, 'height': 900})
      context.on('weberror', lambda e: errors.append(str(e.error)))
      page = _open(context, base)
      page.click('.tab[data-tab=map]')
      page.select_option('#map-source', 'eval')
      page.click('#map-go')
      page.wait_for_function('document.getElementById("map-progress").textContent'
                             '.includes("converting the eval set")', timeout=30_000)
      assert page.locator('#map-go').is_disabled()
      page.screenshot(path=str(shots / 'map_building.png'))
      page.click('#map-cancel')
      _message(page, 'The map was cancelled.')
      assert page.locator('#map-cancel').is_hidden() and page.locator('#map-go').is_enabled()
      assert page.evaluate('window.studioState.map') is None
    finally:
      browser.close()
  assert not errors, errors
