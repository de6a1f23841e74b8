"""The studio on a multicontrol model: every decode of new music reads the
chords, rhythm, contour and register chosen on the page (written out, or
taken from an upload's window), exactly as control_choices builds them; the
recipes record the choices and replay (reproduce, /api/restore) to the same
notes; the page's Controls panel, in a real Chromium.

One tiny multicontrol model trained a few steps (test_multicontrol's
`trained` fixture) serves every test here.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from test_multicontrol import trained  # noqa: F401  (a fixture, used by name)
from test_studio import _launch, _notes, _post, _request, _serve, browser_path  # noqa: F401
from test_studio_music import _artefacts, play_first_sample

CHOSEN = {'rhythm': 'x..x..x.', 'contour': 'valley', 'register': 'high'}


@pytest.fixture(scope='module')
def mc(trained):  # noqa: F811
  """(Studio, TrainedModel, MIDI folder) of the tiny multicontrol model; the
  map may read the MIDI folder."""
  from musicvae_jax.studio.engine import Studio
  model, data = trained
  return Studio(model, 'runs/mc', map_roots=[data]), model, data


@pytest.fixture
def seen(mc, monkeypatch):
  """The `controls` of every decode_to_tensors call, as the model got them."""
  _, model, _ = mc
  calls = []
  decode = type(model).decode_to_tensors
  monkeypatch.setattr(type(model), 'decode_to_tensors',
                      lambda self, z, **kw: calls.append(np.asarray(kw.get('controls')))
                      or decode(self, z, **kw))
  return calls


def _built(**choices):
  from musicvae_jax.data import control_choices
  return control_choices.build(32, **choices)[0]


def _recipe(studio, item):
  return json.loads(studio.media(item.id, 'json')[0])


def test_info_names_the_controls_and_their_presets(mc):
  from musicvae_jax.data import control_choices
  studio, _, _ = mc
  info = studio.info()
  assert info['controls'] == 'multicontrol' and info['chords'] is False   # the panel has its own
  choices = info['control_choices']
  assert choices['rhythms'] == control_choices.RHYTHMS
  assert choices['contours'] == control_choices.CONTOURS
  assert choices['registers'] == list(control_choices.REGISTERS)
  assert choices['defaults'] == control_choices.DEFAULTS
  assert (choices['steps'], choices['steps_per_bar']) == (32, 16)


def test_every_decode_reads_the_chosen_controls(mc, seen):
  """Samples, mixes, walks, map decodes and attribute decodes: the decoder
  reads exactly control_choices.build's columns of the choices; unchosen
  ones are the defaults; the recipe records each choice as written."""
  from musicvae_jax.data import control_choices
  studio, _, data = mc
  want = _built(chords='C G Am F', **CHOSEN)
  samples = studio.sample(2, 0.5, 3, chords='C G Am F', controls=CHOSEN)
  np.testing.assert_array_equal(seen[-1], want)
  assert samples[0].recipe['controls'] == {'chords': 'C G Am F', **CHOSEN}
  assert 'rhythm x..x..x.' in samples[0].title and 'register high' in samples[0].title
  (plain,) = studio.sample(1, 0.5, 0)
  np.testing.assert_array_equal(seen[-1], _built())
  assert plain.recipe['controls'] == control_choices.DEFAULTS
  assert plain.title == 'Sample 1 (seed 0, T=0.5)'
  mix = studio.mix([samples[0].id, samples[1].id], 0.3, 0, 0.5, 1, controls={'rhythm': 'quarters'})
  np.testing.assert_array_equal(seen[-1], _built(rhythm='quarters'))
  assert mix.title.endswith('over rhythm quarters')
  walk = studio.walk([], 1, 0.5, 2, random_anchors=2, chords='F C', controls={'contour': 'udr'})
  np.testing.assert_array_equal(seen[-1], _built(chords='F C', contour='udr'))
  assert walk.recipe['controls']['contour'] == 'udr'
  studio.build_map(str(data), timeout=120)
  point = studio.map_decode(0.1, -0.1, 0.5, 0, controls={'register': 'C3'})
  np.testing.assert_array_equal(seen[-1], _built(register='C3'))
  attribute = studio.attribute(samples[0].id, {'note_density': 1.0}, 0.5, 0,
                               controls={'rhythm': 'x.......'})
  np.testing.assert_array_equal(seen[-1], _built(rhythm='x.......'))
  for item in (point, attribute):
    assert item.recipe['method'] == 'decode' and item.recipe['controls']


def test_controls_taken_from_an_upload_and_reconstructions(mc, seen):
  """'upload:ID@BAR' takes a control of the upload's window at that bar; a
  reconstruction decodes under its window's own controls; the recipe keeps
  the file, the bar and the window's columns."""
  import note_seq
  from musicvae_jax.data import control_choices
  studio, model, data = mc
  info = studio.upload('p2.mid', (data / 'p2.mid').read_bytes())
  window = model.converter.all_windows(note_seq.midi_file_to_note_sequence(
      str(data / 'p2.mid')))[1]          # bars 2-3
  taken = control_choices.Taken(window[:, 1:], 'p2.mid bars 2-3')
  (item,) = studio.sample(1, 0.5, 0, controls={'rhythm': f'upload:{info["upload"]}@2',
                                               'contour': 'arch'})
  np.testing.assert_array_equal(seen[-1], _built(rhythm=taken, contour='arch'))
  record = item.recipe['controls']['rhythm']
  assert record['file'] == 'p2.mid' and record['start_bar'] == 2
  np.testing.assert_array_equal(record['columns'], window[:, 1:])
  assert 'rhythm from p2.mid bars 2-3' in item.title
  cli = _recipe(studio, item)['cli']          # no file for generate: the recipe itself
  assert 'musicvae_jax.studio.reproduce' in cli
  source, recon = studio.use_window(info['upload'], 2, 0.5, 0)
  np.testing.assert_array_equal(seen[-1], window[:, 1:])
  assert set(recon.recipe['controls']) == {'base'}
  assert recon.title.endswith('over its own controls')


@pytest.mark.parametrize('chords, choices, message', [
    ('', {'rhythm': 'swing'}, "rhythm 'swing': name one of"),
    ('', {'register': 'H9'}, "register 'H9'"),
    ('', {'contour': 'upward'}, "contour 'upward': name one of"),
    ('C Xm', {}, "unknown chord symbol 'Xm'"),
    ('', {'rhythm': 'x..'}, 'do not fill the window of 32 steps'),
    ('', {'rhythm': 'upload:u999@1'}, "no upload 'u999'"),
    ('', {'contour': 'u' * 401}, 'contour: 401 characters; at most 400'),
    ('', {'tempo': 'fast'}, "unknown control 'tempo'"),
])
def test_a_bad_choice_is_one_line(mc, chords, choices, message):
  from musicvae_jax.studio.engine import StudioError
  studio, _, _ = mc
  with pytest.raises(StudioError) as error:
    studio.sample(1, 0.5, 0, chords=chords, controls=choices)
  assert message in str(error.value) and '\n' not in str(error.value)


def test_other_models_refuse_a_rhythm():
  """A chord model (no rhythm, contour, register) says so in one line."""
  from musicvae_jax.studio.engine import Studio, StudioError
  from test_studio import _untrained
  chords = Studio(_untrained('configs/mel_2bar_chords.py:tiny'), 'runs/chords')
  assert chords.info()['chords'] is True and chords.info()['control_choices'] is None
  with pytest.raises(StudioError, match=r"^rhythm: only a multicontrol model takes a rhythm"):
    chords.sample(1, 0.5, 0, controls={'rhythm': 'eighths'})


def test_recipes_replay_and_restore_under_their_controls(mc, seen):
  """Each item's recipe rebuilds it note for note (reproduce.replay and
  /api/restore's session.restore), an upload's control included; a sample of
  written choices names the `generate` command, whose decode reads the same
  columns."""
  from musicvae_jax import generate
  from musicvae_jax.studio import reproduce, session
  from musicvae_jax.studio.errors import StudioError
  studio, model, data = mc
  info = studio.upload('p1.mid', (data / 'p1.mid').read_bytes())
  samples = studio.sample(3, 0.8, 5, chords='Am F', controls=CHOSEN)
  taken = studio.sample(1, 0.8, 6, controls={'contour': f'upload:{info["upload"]}@1'})
  mix = studio.mix([samples[0].id, samples[1].id], 0.5, 0, 0.7, 2, controls={'rhythm': 'gallop'})
  walk = studio.walk([samples[0].id, samples[2].id], 1, 0.6, 3, controls={'register': 'low'})
  _, recon = studio.use_window(info['upload'], 1, 0.5, 0)
  for item in [samples[1], taken[0], mix, walk, recon]:
    recipe = _recipe(studio, item)
    assert recipe['controls'], item.title
    assert _notes(reproduce.replay(model, recipe)) == _notes(item.ns), item.title
    back = session.restore(studio, {'recipe': recipe, 'title': item.title, 'kind': item.kind})
    assert _notes(back.ns) == _notes(item.ns) and back.recipe['controls'] == recipe['controls']
  cli = _recipe(studio, samples[1])['cli']
  words = shlex.split(cli.split('#')[0])
  assert {"--chords=Am F", '--rhythm=x..x..x.', '--contour=valley', '--register=high'} <= set(words)
  flags = {w.split('=')[0][2:]: w.split('=', 1)[1] for w in words if w.startswith('--')}
  generate.generate(model, 'sample', data.parent / 'gen', num_outputs=3, temperature=0.8,
                    seed=5, chords=flags['chords'], rhythm=flags['rhythm'],
                    contour=flags['contour'], register=flags['register'], log=lambda _: None)
  np.testing.assert_array_equal(seen[-1], _built(chords='Am F', **CHOSEN))
  broken = dict(_recipe(studio, samples[1]))
  broken['controls'] = dict(broken['controls'], rhythm='swing')
  with pytest.raises(StudioError, match=r"cannot be restored on this model \(rhythm 'swing'"):
    session.restore(studio, {'recipe': broken, 'title': 'S', 'kind': 'sample'})
  odd = dict(_recipe(studio, taken[0]))
  odd['controls'] = dict(odd['controls'], contour=dict(odd['controls']['contour'],
                                                       columns=[[99, 0, 0, 0]] * 32))
  with pytest.raises(StudioError, match='a column value outside'):
    session.restore(studio, {'recipe': odd, 'title': 'S', 'kind': 'sample'})


def test_server_passes_the_controls_and_their_errors(mc, seen):
  studio, _, _ = mc
  with _serve(studio) as base:
    status, info = _request(f'{base}/api/info')
    assert status == 200 and info['control_choices']['defaults']['rhythm'] == 'eighths'
    status, body = _post(f'{base}/api/sample', json.dumps(
        {'n': 1, 'seed': 2, 'chords': 'G', **CHOSEN}).encode())
    assert status == 200, body
    np.testing.assert_array_equal(seen[-1], _built(chords='G', **CHOSEN))
    item = body['items'][0]
    status, recipe = _request(f'{base}/api/item/{item["id"]}/json')
    status, back = _post(f'{base}/api/restore', json.dumps(
        {'recipe': recipe, 'title': item['title'], 'kind': 'sample'}).encode())
    assert status == 200 and back['items'][0]['notes'] == item['notes']
    for fields, message in (({'rhythm': 'swing'}, "rhythm 'swing': name one of"),
                            ({'register': 7}, 'register: 7 is not text'),
                            ({'chords': 'C ' * 300}, 'chords: 600 characters; at most 400')):
      status, body = _post(f'{base}/api/sample', json.dumps({'n': 1, **fields}).encode())
      assert status == 400 and message in body['error'], body


# -- the page -----------------------------------------------------------------------------------

def test_controls_panel_in_a_real_browser(browser_path, mc, seen, tmp_path):  # noqa: F811
  """The Controls panel shows for a multicontrol model: draw a rhythm on the
  step toggles (mouse and keyboard), pick a contour and a register, sample:
  the request carries them, the decoder reads exactly their columns, and
  the sample plays. A rhythm from an upload's window; a bad Parsons code is
  a message."""
  from playwright import sync_api as playwright
  studio, _, data = mc
  shots = _artefacts(tmp_path)
  errors, sent = [], []
  with _serve(studio) as base, playwright.sync_playwright() as p:
    browser = _launch(p, browser_path)
    try:
      page = browser.new_page(viewport={'width': 1280, 'height': 900})
      page.on('pageerror', lambda error: errors.append(str(error)))
      page.on('request', lambda r: sent.append(json.loads(r.post_data))
              if r.url.endswith('/api/sample') else None)
      page.goto(base + '/')
      page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
      assert page.locator('#controls-bar').is_visible() and not page.locator('#chords').is_visible()
      assert page.locator('#rhythm-steps button').count() == 32
      assert page.locator('#rhythm-preset').input_value() == 'eighths'
      # A preset fills the toggles; clicking draws; the keyboard toggles too.
      page.select_option('#rhythm-preset', 'quarters')
      assert page.evaluate('rhythmPattern()') == 'x...' * 8
      page.click('#rhythm-steps button >> nth=2')
      page.click('#rhythm-steps button >> nth=4')        # off: it was a quarter's onset
      page.focus('#rhythm-steps button >> nth=6')
      page.keyboard.press('Enter')
      assert page.locator('#rhythm-steps button >> nth=6').get_attribute('aria-pressed') == 'true'
      page.keyboard.press('ArrowRight')
      assert page.evaluate('document.activeElement.dataset.step') == '7'
      assert page.locator('#rhythm-preset').input_value() == ''      # drawn
      drawn = 'x.x...x.' + 'x...' * 6
      assert page.evaluate('rhythmPattern()') == drawn
      page.select_option('#contour-preset', 'zigzag')
      page.select_option('#register', 'top')
      page.fill('#mc-chords', 'Dm G')
      page.screenshot(path=str(shots / 'multicontrol_panel.png'))
      page.locator('#controls-bar').screenshot(path=str(shots / 'multicontrol_panel_only.png'))
      page.fill('#sample-n', '1')
      page.click('#sample-go')
      page.wait_for_selector('#sample-results .card', timeout=60_000)
      assert sent[-1]['rhythm'] == drawn and sent[-1]['contour'] == 'zigzag'
      assert sent[-1]['register'] == 'top' and sent[-1]['chords'] == 'Dm G'
      np.testing.assert_array_equal(
          seen[-1], _built(chords='Dm G', rhythm=drawn, contour='zigzag', register='top'))
      item_id = play_first_sample(page)
      # A Parsons code of its own; a bad one is the server's one-line message.
      page.fill('#contour-code', 'uudx')
      page.click('#sample-go')
      page.wait_for_function('document.getElementById("message-text").textContent'
                             '.includes("contour \'uudx\'")', timeout=30_000)
      page.fill('#contour-code', 'uudr')
      assert page.locator('#contour-preset').input_value() == ''
      # The rhythm of an upload's window.
      page.click('.tab[data-tab=inputs]')
      page.set_input_files('#file-input', str(data / 'p3.mid'))
      page.wait_for_selector('#input-results .card', timeout=60_000)
      assert page.locator('#control-upload option').count() == 1   # chosen on upload
      page.fill('#control-bar', '2')
      page.select_option('#rhythm-preset', 'upload')
      assert page.locator('#rhythm-steps button >> nth=0').is_disabled()
      assert page.text_content('#rhythm-from') == 'the rhythm of p3.mid, bars 2\u20133'

      page.click('.tab[data-tab=sample]')
      page.click('#sample-go')
      page.wait_for_function(f'document.querySelector("#sample-results .card") && '
                             f'document.querySelector("#sample-results .card").dataset.id !== '
                             f'"{item_id}"', timeout=60_000)
      upload_id = page.evaluate('document.getElementById("control-upload").value')
      assert sent[-1]['rhythm'] == f'upload:{upload_id}@2' and sent[-1]['contour'] == 'uudr'
      page.locator('#controls-bar').screenshot(path=str(shots / 'multicontrol_panel_upload.png'))
    finally:
      browser.close()
  assert not errors, errors
