"""The studio: latent math (hand-worked), the engine on a tiny model, the
server and the page in a real headless Chromium.

The model is a freshly initialised tiny mel_2bar checkpoint written in the
test: what the studio does (shapes, files, messages, recipes) does not depend
on how well the model was trained, and skipping training keeps this fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import note_seq
import numpy as np
import pytest

from conftest import write_midi
from musicvae_jax.studio import latent, projection

REPO = Path(__file__).resolve().parents[1]


# -- latent math, worked by hand ---------------------------------------------------------

def test_mix_weights_by_hand():
  np.testing.assert_allclose(latent.mix_weights(0.25, 0.9, 2), [0.75, 0.25])
  # bilinear: (1-x)(1-y), x(1-y), (1-x)y, xy at x = 0.25, y = 0.5
  np.testing.assert_allclose(latent.mix_weights(0.25, 0.5, 4),
                             [0.375, 0.125, 0.375, 0.125])
  # three: the empty bottom-right corner is the mean of the three
  np.testing.assert_allclose(latent.mix_weights(1, 1, 3), [1 / 3, 1 / 3, 1 / 3])
  np.testing.assert_allclose(latent.mix_weights(0, 0, 3), [1, 0, 0])
  np.testing.assert_allclose(latent.mix_weights(2, -1, 4), [0, 1, 0, 0])  # clipped
  with pytest.raises(ValueError, match='2 to 4'):
    latent.mix_weights(0, 0, 5)
  np.testing.assert_allclose(latent.blend(np.array([[2., 0.], [0., 4.]]), [0.75, 0.25]),
                             [1.5, 1.0])


def test_walk_path_by_hand():
  a, b, c = np.eye(3, dtype=np.float32)
  path = latent.walk_path(np.stack([a, b]), 1)
  # slerp halfway between orthogonal unit vectors: (a + b) / sqrt(2)
  np.testing.assert_allclose(path, [a, (a + b) / np.sqrt(2), b], atol=1e-6)
  assert latent.walk_path(np.stack([a, b, c]), 3).shape == (2 * 4 + 1, 3)
  np.testing.assert_allclose(latent.walk_path(np.stack([a, b, c]), 0), [a, b, c])
  with pytest.raises(ValueError, match='at least 2'):
    latent.walk_path(a[None], 2)


def test_join_sequences_shifts_each_window():
  one = note_seq.NoteSequence()
  one.tempos.add(qpm=120)
  one.notes.add(pitch=60, start_time=0.5, end_time=1.0, velocity=80)
  joined = latent.join_sequences([one, one, one], 4.0)
  assert [n.start_time for n in joined.notes] == [0.5, 4.5, 8.5]
  assert joined.total_time == 12.0 and joined.tempos[0].qpm == 120


def test_pca_by_hand_and_inverse():
  # Points on the line (t, 2t) around (1, 1): the first component is
  # (1, 2) / sqrt(5), the coordinate along it t * sqrt(5); the second is 0.
  t = np.array([-1.0, 0.0, 1.0])
  x = np.stack([1 + t, 1 + 2 * t], 1)
  coords, mean, components = projection.pca(x)
  np.testing.assert_allclose(mean, [1, 1])
  np.testing.assert_allclose(components[0], np.array([1, 2]) / np.sqrt(5))
  np.testing.assert_allclose(coords[:, 0], t * np.sqrt(5), atol=1e-12)
  np.testing.assert_allclose(coords[:, 1], 0, atol=1e-12)
  fitted = projection.fit(x, 'pca')
  np.testing.assert_allclose(fitted.inverse(coords[2]), x[2], atol=1e-6)
  with pytest.raises(ValueError, match='choose one of'):
    projection.fit(x, 'mds')


def test_inverse_distance_mean_by_hand():
  coords = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
  values = np.array([[1.0], [3.0], [100.0]])
  # from (0.5, 0): squared distances 0.25 and 2.25 -> weights 4 and 4/9
  expected = (4 * 1 + 4 / 9 * 3) / (4 + 4 / 9)
  np.testing.assert_allclose(
      projection.inverse_distance_mean([0.5, 0], coords, values, k=2), [expected], rtol=1e-6)
  np.testing.assert_allclose(projection.inverse_distance_mean([2, 0], coords, values), [3])


# -- a tiny model ------------------------------------------------------------------------------

MOTIFS = [[60, 62, 64, 65], [72, 71, 69, 67], [60, 64, 67, 72], [67, 67, 62, 62]]
STEP = 12


def _motif_notes(motif, bars=4):
  return [(motif[beat % 4], beat * 0.5, beat * 0.5 + 0.45) for beat in range(4 * bars)]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
  """(workdir, MIDI folder, TrainedModel) of an initialised tiny mel_2bar.
  Window caches of mapped folders go to a cache root of the test's own."""
  import jax
  from musicvae_jax import checkpoints, config_base, family, paths, steps
  from musicvae_jax.models import MusicVAE
  from musicvae_jax.trained_model import TrainedModel
  root = tmp_path_factory.mktemp('studio')
  patch = pytest.MonkeyPatch()
  patch.setenv(paths.ENV_VAR, str(root / 'cache_root'))
  data = root / 'midi'
  for i, motif in enumerate(MOTIFS):
    for shift in (0, 3):
      write_midi(data / f'm{i}_{shift}.mid', _motif_notes([p + shift for p in motif]))
  config = config_base.load_config_file(str(REPO / 'configs/mel_2bar.py:tiny'))
  config.train_dir, config.eval_dir = str(data), str(data)
  config.cache_dir = str(root / 'cache')
  config.num_workers, config.fast_midi = 1, False
  parts = family.build(config)
  model, objective = parts.model, parts.objective
  assert isinstance(model, MusicVAE)
  state = jax.jit(lambda batch: steps.create_train_state(config, model, objective, batch))(
      objective.example_batch(config, 1))  # jit: twice as fast as eager
  workdir = root / 'run'
  ckpt = checkpoints.Checkpointer(workdir, async_save=False)
  ckpt.save(STEP, state, config)   # the page shows the checkpoint's step
  ckpt.close()
  checkpoints.write_config(workdir, config)
  yield workdir, data, TrainedModel.from_workdir(workdir)
  patch.undo()


@pytest.fixture(scope='module')
def studio(tiny):
  from musicvae_jax.studio.engine import Studio
  workdir, _, model = tiny
  return Studio(model, str(workdir), max_upload_bytes=40_000)


def _notes(ns):
  return [(n.pitch, round(n.start_time, 6), round(n.end_time, 6)) for n in ns.notes]


def test_engine_results_replay_from_their_recipes(tiny, studio):
  from musicvae_jax.studio import reproduce
  _, data, model = tiny
  samples = studio.sample(4, 0.7, seed=5)
  direct = model.sample(4, temperature=0.7, seed=5)
  assert [_notes(i.ns) for i in samples] == [_notes(ns) for ns in direct]
  info = studio.upload('m1_3.mid', (data / 'm1_3.mid').read_bytes())
  assert info['bars'] == 4 and info['first_bar'] == 1
  source, recon = studio.use_window(info['upload'], 2, 0.5, 0)
  assert source.title.endswith('bars 2-3') and source.kind == 'input'
  assert [n.pitch for n in source.ns.notes][:4] == [p + 3 for p in MOTIFS[1]]
  mix = studio.mix([samples[0].id, source.id, samples[1].id], 0.2, 0.7, 0.5, 3)
  walk = studio.walk([samples[0].id, source.id], 2, 0.5, 1)
  assert walk.ns.total_time == 4 * studio.window_seconds
  wander = studio.walk([], 2, 0.5, 2, random_anchors=2)
  np.testing.assert_allclose(wander.z[0], latent.random_anchors(2, studio.z_size, 2)[0])
  for item in samples[2:3] + [recon, mix, walk, wander]:
    recipe = json.loads(studio.media(item.id, 'json')[0])
    assert _notes(reproduce.replay(model, recipe)) == _notes(item.ns), item.title
  # The saved z is the item's latent; the MIDI parses back to its notes.
  np.testing.assert_array_equal(np.load(io.BytesIO(studio.media(mix.id, 'npy')[0])), mix.z)
  midi = studio.media(walk.id, 'mid')[0]
  back = note_seq.midi_to_note_sequence(midi)
  assert _notes(back) == _notes(walk.ns)


def test_engine_map_of_the_eval_set(studio):
  found = studio.build_map('', 'pca')
  assert found['source'] == "the run's eval set" and found['count'] == len(found['points'])
  from musicvae_jax import attributes
  assert set(found['values']) == set(attributes.ATTRIBUTES)
  assert found['labels'][0].endswith('.mid')
  item = studio.map_window(0)
  assert item.kind == 'map' and len(item.ns.notes) == 8     # quarter notes over 2 bars
  decoded = studio.map_decode(*found['points'][1], 0.5, 0)
  assert decoded.z.shape == (studio.z_size,)
  vectors = studio.attribute_vectors()
  assert set(vectors) <= set(found['values']) and vectors
  lifted = studio.attribute(item.id, {'note_density': 1.0}, 0.5, 0)
  np.testing.assert_allclose(lifted.z, item.z + vectors['note_density'], rtol=1e-5, atol=1e-6)


def test_engine_map_caps_its_windows_at_max_map_windows(studio, monkeypatch):
  whole = studio.build_map('', 'pca')
  assert whole['count'] > 5
  monkeypatch.setattr(studio, 'max_map_windows', 5)
  capped = studio.build_map('', 'pca', seed=3)
  assert capped['count'] == 5 and set(capped['labels']) <= set(whole['labels'])
  assert studio.build_map('', 'pca', seed=3)['labels'] == capped['labels']   # seeded


def test_engine_refuses_bad_input_with_a_message(studio, tmp_path):
  from musicvae_jax.studio.engine import StudioError
  with pytest.raises(StudioError, match='notes.txt: not a MIDI file'):
    studio.upload('notes.txt', b'hello, not music')
  with pytest.raises(StudioError, match='over the limit'):
    studio.upload('big.mid', b'MThd' + bytes(50_000))
  with pytest.raises(StudioError, match='empty'):
    studio.upload('empty.mid', b'')
  waltz = write_midi(tmp_path / 'waltz.mid', _motif_notes([60, 64, 67, 72]),
                     time_signature=(3, 4))
  with pytest.raises(StudioError, match='waltz.mid: no 2-bar melody window'):
    studio.upload('waltz.mid', waltz.read_bytes())
  with pytest.raises(StudioError, match='2 to 4'):
    studio.mix(['i1'], 0, 0, 0.5, 0)
  with pytest.raises(StudioError, match='temperature'):
    studio.sample(2, 0.0, 0)
  with pytest.raises(StudioError, match='no result'):
    studio.media('nope', 'wav')


# -- the server and the page ------------------------------------------------------------------

def _chromium() -> str | None:
  for name in ('chromium', 'chromium-browser', 'google-chrome'):
    path = shutil.which(name)
    if path:
      return path
  return None


@pytest.fixture(scope='module')
def browser_path():
  """Path of the system's Chromium with Playwright importable, else skip
  (before the model is built)."""
  pytest.importorskip('playwright.sync_api')
  path = _chromium()
  if path is None:
    pytest.skip('no Chromium on this machine (apt-get install chromium)')
  return path


@contextlib.contextmanager
def _serve(studio):
  """The base URL of `studio` served from a thread of this process."""
  pytest.importorskip('starlette')
  pytest.importorskip('uvicorn')
  from musicvae_jax.studio import server
  sock = server.bind('127.0.0.1', 0)
  app_server = server.make_server(studio, sock)
  thread = threading.Thread(target=app_server.run, kwargs={'sockets': [sock]}, daemon=True)
  thread.start()
  for _ in range(100):
    if app_server.started:
      break
    time.sleep(0.05)
  try:
    yield f'http://127.0.0.1:{sock.getsockname()[1]}'
  finally:
    app_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope='module')
def served(tiny):
  """(base URL, Studio) of a studio served from a thread of this process; the
  map may read the test's folders (the run's data folder and its parent)."""
  pytest.importorskip('starlette')
  from musicvae_jax.studio.engine import Studio
  workdir, data, model = tiny
  studio = Studio(model, str(workdir), max_upload_bytes=40_000, map_roots=[data.parent])
  with _serve(studio) as base:
    yield base, studio


def _token(base: str) -> str:
  """The per-launch token, read from the page as the page itself reads it."""
  with urllib.request.urlopen(base + '/', timeout=30) as response:
    page = response.read().decode()
  return re.search(r'<meta name="studio-token" content="([^"]+)">', page).group(1)


def _request(url, body: bytes | None = None, content_type='application/json',
             token: bool | str = True, headers=None):
  """(status, JSON) of a GET (no body) or POST, with the studio's token
  unless `token` is False (or another token)."""
  base = re.match(r'https?://[^/]+', url).group(0)
  sent = dict(headers or {})
  if token:
    sent['X-Studio-Token'] = _token(base) if token is True else token
  if body is not None and content_type:
    sent['Content-Type'] = content_type
  request = urllib.request.Request(url, data=body, method='GET' if body is None else 'POST',
                                   headers=sent)
  try:
    with urllib.request.urlopen(request, timeout=60) as response:
      return response.status, json.loads(response.read())
  except urllib.error.HTTPError as error:
    return error.code, json.loads(error.read())


def _post(url, body: bytes, content_type='application/json', **kw):
  return _request(url, body, content_type, **kw)


def test_server_answers_bad_requests_with_messages(served):
  base, _ = served
  status, body = _post(f'{base}/api/upload?name=huge.mid', bytes(100_000), 'application/octet-stream')
  assert status == 413 and 'huge.mid: 0.1 MB is over the limit' in body['error']
  status, body = _post(f'{base}/api/sample', b'{not json')
  assert status == 400 and 'not JSON' in body['error']
  status, body = _post(f'{base}/api/mix', json.dumps({'ids': ['a', 'b'], 'x': 'left'}).encode())
  assert status == 400 and body['error'] == "x: 'left' is not a number"
  status, body = _post(f'{base}/api/sample', json.dumps({'seed': 'abc'}).encode())
  assert status == 400 and body['error'] == "seed: 'abc' is not a whole number"
  status, body = _post(f'{base}/api/sample', json.dumps({'seed': 1.5}).encode())
  assert status == 400 and body['error'].startswith('seed: 1.5 is not a whole number')
  status, body = _post(f'{base}/api/window', b'{}')
  assert status == 400 and 'upload' in body['error']
  status, body = _post(f'{base}/api/mix', json.dumps({'ids': ['x', 'y']}).encode())
  assert status == 400 and "no result 'x'" in body['error']
  # Huge numbers and deep JSON: 400 with a reason, never a 500.
  status, body = _post(f'{base}/api/sample', b'{"seed": 1' + b'0' * 400 + b'}')
  assert status == 400 and body['error'] == "seed: " + "1" + "0" * 36 + "... is not a whole number below 2^31"
  status, body = _post(f'{base}/api/sample', b'{"temperature": 1e999}')
  assert status == 400 and body['error'] == 'temperature: inf is not a number'
  status, body = _post(f'{base}/api/sample', b'{"temperature": 1' + b'0' * 400 + b'}')
  assert status == 400 and body['error'].endswith('... is not a number')
  status, body = _post(f'{base}/api/sample', b'{"n": ' + b'[' * 100_000 + b']' * 100_000 + b'}')
  assert status == 400 and body['error'] in ('the request is nested too deeply', 'request too large')
  status, body = _post(f'{base}/api/sample', b'[' * 5_000 + b']' * 5_000)
  assert status == 400 and body['error'] == 'the request is nested too deeply'
  status, info = _request(f'{base}/api/info')   # still serving
  assert status == 200 and info['slice_bars'] == 2


def test_server_answers_only_its_own_page(served, tiny):
  """DNS rebinding (another Host), cross-site requests (a text/plain form
  post, another Origin), a missing token and folders outside the map roots
  are refused with one-line JSON errors; the page's own requests pass."""
  base, studio = served
  port = base.rsplit(':', 1)[1]
  sample = json.dumps({'n': 1, 'seed': 0}).encode()
  status, body = _post(f'{base}/api/sample', sample, headers={'Host': f'evil.example:{port}'})
  assert status == 421 and 'answers only at its own address' in body['error']
  status, body = _request(f'{base}/', headers={'Host': f'attacker.test:{port}'}, token=False)
  assert status == 421      # a rebound page cannot even read the token
  status, body = _post(f'{base}/api/sample', sample, 'text/plain', token=False,
                       headers={'Origin': 'http://evil.example'})
  assert status == 403 and body['error'].startswith('requests from other web sites')
  status, body = _post(f'{base}/api/sample', sample, token=False)
  assert status == 403 and 'studio token' in body['error']
  status, body = _post(f'{base}/api/sample', sample, 'text/plain')
  assert status == 415 and 'application/json' in body['error']
  status, body = _post(f'{base}/api/sample', sample, headers={'Sec-Fetch-Site': 'cross-site'})
  assert status == 403
  status, body = _post(f'{base}/api/sample', sample, headers={'Origin': base})
  assert status == 200 and len(body['items']) == 1      # the page's own request
  item = body['items'][0]['id']
  status, _ = _request(f'{base}/api/item/{item}/json', token=False)
  assert status == 403
  with urllib.request.urlopen(f'{base}/api/item/{item}/json?token={_token(base)}',
                              timeout=30) as response:     # a download link carries it
    assert json.loads(response.read())['method'] == 'sample'
  # The map reads only the run's data folders and --data_dir folders.
  _, data, _ = tiny
  for folder in ('/etc', str(data.parent / '..'), '~'):
    status, body = _post(f'{base}/api/map', json.dumps({'folder': folder}).encode())
    assert status == 403 and 'outside the folders the map may read' in body['error'], folder
    assert '--data_dir=' in body['error']
  caches = Path(os.environ['MUSICVAE_CACHE_DIR']) / 'windows'
  assert not caches.exists() or not [p for p in caches.iterdir() if p.name.startswith('etc-')]


def _wait_for(condition, timeout=60.0, every=0.05):
  end = time.monotonic() + timeout
  while time.monotonic() < end:
    value = condition()
    if value:
      return value
    time.sleep(every)
  raise AssertionError('timed out')


def test_map_job_runs_beside_sampling_and_can_be_cancelled(served, tiny, monkeypatch):
  """A slow map job (each file takes 0.4 s) reports progress; sampling and a
  download answer at once meanwhile; a second map is refused (409); cancel
  stops it; a folder over --map_max_files is refused with a message."""
  from musicvae_jax.data import cache
  base, studio = served
  _, data, _ = tiny
  slow = data.parent / 'slow'
  for i in range(12):
    write_midi(slow / f's{i:02d}.mid', _motif_notes(MOTIFS[i % 4]))
  convert = cache._convert_one

  def slowly(job):
    time.sleep(0.4)
    return convert(job)
  monkeypatch.setattr(cache, '_convert_one', slowly)
  _post(f'{base}/api/sample', json.dumps({'n': 2, 'seed': 1}).encode())   # compiled first
  status, job = _post(f'{base}/api/map', json.dumps({'folder': str(slow)}).encode())
  assert status == 200 and job['state'] == 'running'
  running = _wait_for(lambda: (lambda s: s if s['phase'] == 'converting files' and s['done'] >= 1
                               else None)(_request(f'{base}/api/map/status')[1]))
  assert running['total'] == 12 and running['state'] == 'running'
  started = time.perf_counter()
  status, body = _post(f'{base}/api/sample', json.dumps({'n': 2, 'seed': 3}).encode())
  took = time.perf_counter() - started
  assert status == 200 and took < 2.0, took          # not stuck behind the map
  assert _request(f'{base}/api/item/{body["items"][0]["id"]}/json')[0] == 200
  status, body = _post(f'{base}/api/map', json.dumps({'folder': str(slow)}).encode())
  assert status == 409 and 'already being built' in body['error']
  status, job = _post(f'{base}/api/map/cancel', b'{}')
  assert status == 200 and job['cancelling']
  done = _wait_for(lambda: (lambda s: s if s['state'] != 'running' else None)(
      _request(f'{base}/api/map/status')[1]), timeout=10)
  assert done['state'] == 'cancelled' and done['done'] < 12
  # Over the file limit: refused before any conversion, in one line.
  monkeypatch.setattr(studio, 'map_max_files', 5)
  _post(f'{base}/api/map', json.dumps({'folder': str(slow)}).encode())
  failed = _wait_for(lambda: (lambda s: s if s['state'] != 'running' else None)(
      _request(f'{base}/api/map/status')[1]))
  assert failed['state'] == 'failed' and 'more than 5 music files' in failed['error']
  assert '--map_max_files=' in failed['error']


def test_engine_bounds_media_bytes_and_keeps_loop_lengths(tiny):
  """Rendered media stay under the cache budget however many walks are
  made; a 2-bar sample's MIDI lasts 4.0 s (its trailing rests included)."""
  import mido
  from musicvae_jax.studio.engine import Studio
  workdir, _, model = tiny
  small = Studio(model, str(workdir), media_cache_bytes=2_000_000)
  for seed in range(6):   # each walk's WAV is ~1.4 MB: older ones are dropped
    walk = small.walk([], 2, 0.5, seed, random_anchors=3)
    for kind in ('wav', 'png', 'mid'):
      assert small.media(walk.id, kind)[0]
    assert small.media_cache.bytes <= 2_000_000
  stats = small.media_cache.stats()
  assert stats['evicted'] >= 4 and stats['bytes'] <= 2_000_000, stats
  (sample,) = small.sample(1, 0.5, 0)
  midi = mido.MidiFile(file=io.BytesIO(small.media(sample.id, 'mid')[0]))
  assert midi.length == pytest.approx(4.0)
  walk_midi = mido.MidiFile(file=io.BytesIO(small.media(walk.id, 'mid')[0]))
  assert walk_midi.length == pytest.approx(7 * 4.0)    # 3 anchors, 2 steps between


def test_engine_uploads_follow_time_signatures(studio, tmp_path):
  """A pickup bar before 4/4 and a 3/4 bar in the middle: the first window
  is bar 2, bars keep counting through the meter changes."""
  from musicvae_jax.studio.engine import StudioError
  from test_studio_parts import _changing_meters
  path = tmp_path / 'meters.mid'
  note_seq.sequence_proto_to_midi_file(_changing_meters(), str(path))
  info = studio.upload('meters.mid', path.read_bytes())
  assert info['bars'] == 16 and info['first_bar'] == 2
  source, _ = studio.use_window(info['upload'], 2, 0.5, 0)
  assert [n.pitch for n in source.ns.notes][:3] == [60, 65, 70]
  with pytest.raises(StudioError, match='bars 10-11 give no 2-bar window'):
    studio.use_window(info['upload'], 10, 0.5, 0)      # the 3/4 bar
  later, _ = studio.use_window(info['upload'], 11, 0.5, 0)   # 4/4 again, at 100 qpm
  assert [n.pitch for n in later.ns.notes][:2] == [62, 69]


def test_recipes_quote_their_command_lines(tiny):
  """Names that come from the person (the workdir, an upload's file name,
  chords) are quoted for the shell in the saved `cli` line."""
  import shlex
  from musicvae_jax.studio.engine import Studio
  _, _, model = tiny
  odd = "runs/my run; rm -rf ~ #'"
  studio = Studio(model, odd)
  (item,) = studio.sample(1, 0.5, 0)
  words = shlex.split(json.loads(studio.media(item.id, 'json')[0])['cli'])
  assert f'--workdir={odd}' in words and words[:3] == ['python', '-m', 'musicvae_jax.generate']


def test_page_in_a_real_browser(browser_path, served, tiny, tmp_path):
  """One browser session: upload two MIDI files, input beside reconstruction,
  mix with the slider (audio arrives, the roll is drawn), download a MIDI that
  parses back, walk, map, attributes, and bad files give messages."""
  from playwright import sync_api as playwright
  base, studio = served
  _, data, _ = tiny
  not_midi = tmp_path / 'notes.mid'
  not_midi.write_text('just text')
  huge = tmp_path / 'huge.mid'
  huge.write_bytes(b'MThd' + bytes(60_000))
  waltz = write_midi(tmp_path / 'waltz.mid', _motif_notes([60, 64, 67, 72]), time_signature=(3, 4))
  errors = []
  with playwright.sync_playwright() as p:
    browser = p.chromium.launch(executable_path=browser_path, args=[
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run',
        '--autoplay-policy=no-user-gesture-required'])
    try:
      page = browser.new_page(viewport={'width': 1280, 'height': 900}, accept_downloads=True)
      page.on('pageerror', lambda error: errors.append(str(error)))
      page.goto(base + '/')
      page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
      assert f'step {STEP}' in page.text_content('#model-info')
      assert not page.locator('#chords').is_visible()   # a model without chords

      # Upload two files; each shows its window beside the reconstruction.
      page.click('.tab[data-tab=inputs]')
      page.set_input_files('#file-input', [str(data / 'm0_0.mid'), str(data / 'm2_3.mid')])
      page.wait_for_function('document.querySelectorAll("#input-results .pair").length === 2',
                             timeout=60_000)
      pair = page.locator('#input-results .pair').first
      assert pair.locator('.card').nth(0).get_attribute('data-kind') == 'input'
      assert pair.locator('.card').nth(1).get_attribute('data-kind') == 'reconstruction'
      # Another bar range of the same file.
      row = page.locator('.upload').first
      row.locator('.start-bar').fill('3')
      row.locator('.use-window').click()
      page.wait_for_function('document.querySelectorAll("#input-results .pair").length === 3')
      assert 'bars 3-4' in page.locator('#input-results .pair').first.text_content()

      # Both inputs into the mix; two melodies give a slider; moving it decodes and plays.
      for button in page.locator('#input-results .card[data-kind=input] .add-mix').all()[:2]:
        button.click()
      page.click('.tab[data-tab=mix]')
      assert page.locator('#mix-slider-wrap').is_visible()
      page.locator('#mix-slider').fill('0.3')
      page.wait_for_selector('#mix-result .card', timeout=60_000)
      mix_id = page.get_attribute('#mix-result .card', 'data-id')
      page.wait_for_function(f'window.studioState.lastAudio && '
                             f'window.studioState.lastAudio.id === "{mix_id}"', timeout=30_000)
      audio = page.evaluate('window.studioState.lastAudio')
      assert audio['duration'] == pytest.approx(4.25, abs=0.01)  # 2 bars + release
      assert 'Mix (0.70 + 0.30)' in page.text_content('#mix-result .card h3')
      painted = page.evaluate('''() => {
        const c = document.querySelector('#mix-result canvas.roll');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let blue = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 180 && d[i] < 120) blue++;
        return blue; }''')
      assert painted > 20   # note rectangles drawn on the piano roll
      with page.expect_download() as download:
        page.click('#mix-result .dl-mid')
      path = tmp_path / 'mix.mid'
      download.value.save_as(path)
      parsed = note_seq.midi_file_to_note_sequence(str(path))
      assert _notes(parsed) == _notes(studio.item(mix_id).ns)
      with page.expect_download() as download:
        page.click('#mix-result .dl-png')
      download.value.save_as(tmp_path / 'mix.png')
      assert (tmp_path / 'mix.png').read_bytes()[:4] == b'\x89PNG'

      # Play / stop from the player bar; the playhead runs while playing.
      page.wait_for_function('document.getElementById("player-time").textContent.includes("/ 4.0 s")')
      page.click('#player-toggle')
      assert page.text_content('#player-time') == ''

      # A third melody turns the slider into the square; dragging decodes the blend.
      page.click('.tab[data-tab=inputs]')
      page.locator('#input-results .card[data-kind=reconstruction] .add-mix').first.click()
      page.click('.tab[data-tab=mix]')
      assert page.locator('#mix-pad').is_visible() and page.locator('#mix-slider-wrap').is_hidden()
      pad = page.locator('#mix-pad').bounding_box()
      page.mouse.move(pad['x'] + 26, pad['y'] + 26)      # corner A
      page.mouse.down()
      page.mouse.move(pad['x'] + pad['width'] - 26, pad['y'] + pad['height'] - 26, steps=4)
      page.mouse.up()
      page.wait_for_function('document.querySelector("#mix-result .card h3").textContent'
                             '.includes("0.33 + 0.33 + 0.33")', timeout=60_000)

      # Walk between the first two, as one piece.
      page.locator('#mix-sources .chip button').nth(2).click()   # back to two
      page.click('.tab[data-tab=walk]')
      page.locator('#walk-steps').fill('2')
      page.click('#walk-go')
      page.wait_for_selector('#walk-result .card', timeout=60_000)
      walk_id = page.get_attribute('#walk-result .card', 'data-id')
      assert studio.item(walk_id).ns.total_time == pytest.approx(4 * 4.0)

      # Map of the run's eval set, then of a folder; clicking a dot plays that window.
      page.click('.tab[data-tab=map]')
      assert str(data) in page.text_content('#map-roots')
      page.select_option('#map-source', 'eval')
      page.click('#map-go')
      page.wait_for_function('window.studioState.map && window.studioState.map.source === '
                             '"the run\'s eval set"', timeout=60_000)
      assert page.evaluate('window.studioState.map.count') >= 4
      page.select_option('#map-source', 'folder')
      page.fill('#map-folder', str(data))
      page.click('#map-go')
      page.wait_for_function(f'window.studioState.map && window.studioState.map.source === '
                             f'{json.dumps(str(data))}', timeout=60_000)
      assert page.locator('#map-cancel').is_hidden()
      page.fill('#map-folder', '/etc')
      page.click('#map-go')
      page.wait_for_function('document.getElementById("message-text").textContent'
                             '.includes("outside the folders the map may read")', timeout=30_000)
      x, y = page.evaluate('''() => { const s = mapScale();
        return s.toPx(window.studioState.map.points[0]); }''')
      page.locator('#map-canvas').click(position={'x': x, 'y': y})
      page.wait_for_selector('#map-result .card[data-kind=map]', timeout=30_000)
      assert 'map point 1' in page.text_content('#map-result .card h3'), page.evaluate(
          'window.studioState.map.points')

      # An attribute slider decodes at once.
      page.click('.tab[data-tab=attributes]')
      page.locator('#attr-sliders input[data-attr=note_density]').fill('1.5')
      page.wait_for_selector('#attr-result .card', timeout=60_000)
      assert 'note_density +1.50' in page.text_content('#attr-result .card h3')

      # Bad files: a message on the page, and the page keeps working.
      page.click('.tab[data-tab=inputs]')
      # Dropped on the drop zone (a real drop event carrying a File).
      page.evaluate('''() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(['not music at all'], 'dropped.mid'));
        document.getElementById('drop').dispatchEvent(
            new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
      }''')
      page.wait_for_function('document.getElementById("message-text").textContent'
                             '.includes("dropped.mid: not a MIDI file")', timeout=30_000)
      for bad, expected in ((not_midi, 'notes.mid: not a MIDI file'),
                            (huge, 'huge.mid: 0.1 MB is over the limit'),
                            (waltz, 'waltz.mid: no 2-bar melody window')):
        page.set_input_files('#file-input', str(bad))
        page.wait_for_function(
            f'document.getElementById("message-text").textContent.includes({json.dumps(expected)})',
            timeout=30_000)
        assert page.locator('#message').is_visible()
        assert page.locator('#busy').is_hidden()
      page.click('.tab[data-tab=sample]')
      page.fill('#sample-n', '2')
      page.click('#sample-go')
      page.wait_for_function('document.querySelectorAll("#sample-results .card").length === 2',
                             timeout=60_000)
      # Playback starts: the audio context runs and the card is marked playing.
      first = page.locator('#sample-results .card').first
      first.locator('.play').click()
      first_id = first.get_attribute('data-id')
      page.wait_for_function(f'window.studioState.played && window.studioState.played.id === '
                             f'"{first_id}" && window.studioState.played.context === "running"',
                             timeout=30_000)
      assert 'playing' in first.get_attribute('class')
      assert page.evaluate('window.studioState.lastAudio.buffers') <= 6   # old audio let go
      if os.environ.get('STUDIO_SCREENSHOTS'):
        page.screenshot(path=os.environ['STUDIO_SCREENSHOTS'])
    finally:
      browser.close()
  assert not errors, errors


def test_reproduce_command_rebuilds_a_saved_result(tiny, studio, tmp_path):
  workdir, _, _ = tiny
  item = studio.walk([], 1, 0.5, 4, random_anchors=2)
  recipe = tmp_path / 'walk.json'
  recipe.write_bytes(studio.media(item.id, 'json')[0])
  out = tmp_path / 'again'
  result = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.studio.reproduce', f'--workdir={workdir}',
       f'--recipe={recipe}', f'--output_dir={out}'], cwd=REPO, capture_output=True,
      text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))
  assert result.returncode == 0, result.stderr[-2000:]
  again = note_seq.midi_file_to_note_sequence(str(out / 'result.mid'))
  assert _notes(again) == _notes(item.ns)
  assert (out / 'result.wav').exists() and (out / 'index.html').exists()


def test_command_line_serves_the_page_and_stops_mid_map(tiny, tmp_path):
  """The command serves the page; SIGTERM stops it within seconds while a
  map of a slow folder (big files) is being built."""
  import signal
  pytest.importorskip('starlette')
  pytest.importorskip('uvicorn')
  workdir, _, _ = tiny
  slow = tmp_path / 'big'
  for i in range(8):    # ~1 s each to convert on a loaded CPU
    write_midi(slow / f'b{i}.mid', [(60 + (k * 7 + i) % 24, k * 0.125, k * 0.125 + 0.1)
                                    for k in range(8000)])
  env = dict(os.environ, PYTHONPATH=str(REPO))
  process = subprocess.Popen(
      [sys.executable, '-m', 'musicvae_jax.studio', f'--workdir={workdir}', '--port=0',
       '--nowarmup', f'--map_root={slow}'], cwd=REPO, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, env=env)
  try:
    lines = []
    for _ in range(20):  # the start-up summary line comes first
      lines.append(process.stdout.readline())
      if not lines[-1] or 'musicvae studio' in lines[-1]:
        break
    line = lines[-1]
    assert any('parameters' in earlier for earlier in lines[:-1]), lines
    assert 'musicvae studio' in line, process.stderr.read() if process.poll() is not None else line
    url = line.split(' at ')[1].split()[0]
    assert url.startswith('http://127.0.0.1:')
    with urllib.request.urlopen(url, timeout=30) as response:
      page = response.read().decode()
    assert '<title>musicvae studio</title>' in page and '/static/studio.js' in page
    with urllib.request.urlopen(url + 'static/studio.js', timeout=30) as response:
      assert b'latestOnly' in response.read()
    base = url.rstrip('/')
    status, job = _post(f'{base}/api/map', json.dumps({'folder': str(slow)}).encode())
    assert status == 200 and job['state'] == 'running', job
    _wait_for(lambda: _request(f'{base}/api/map/status')[1]['phase'] == 'converting files')
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    process.wait(timeout=30)
    assert time.monotonic() - started < 8.0
  finally:
    if process.poll() is None:
      process.kill()
      process.wait(timeout=30)


def test_command_line_bad_workdir_is_one_error_line(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.studio', f'--workdir={tmp_path / "absent"}',
       '--nowarmup'], cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, PYTHONPATH=str(REPO)))
  assert result.returncode == 1
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert lines[-1].startswith('error: ') and 'absent' in lines[-1], result.stderr[-2000:]
  assert 'Traceback' not in result.stderr


# -- chord-conditioned models ---------------------------------------------------------------

@pytest.fixture(scope='module')
def chord_studio(tmp_path_factory):
  """(Studio, TrainedModel, progression MIDI) of an initialised tiny
  mel_2bar_chords (no checkpoint: the studio only needs the TrainedModel)."""
  import jax
  from musicvae_jax import config_base, family, steps
  from musicvae_jax.models import MusicVAE
  from musicvae_jax.studio.engine import Studio
  from musicvae_jax.trained_model import TrainedModel
  config = config_base.load_config_file(str(REPO / 'configs/mel_2bar_chords.py:tiny'))
  parts = family.build(config)
  assert isinstance(parts.model, MusicVAE)
  batch = parts.objective.example_batch(config, 2)
  params = jax.jit(lambda b: steps.init_params(parts.model, parts.objective,
                                               jax.random.key(0), b))(batch)
  model = TrainedModel(config, params, max_batch=4)
  # C, G, Am, F arpeggios, one chord per bar (as tests/test_chords.py).
  progression = [[60, 64, 67, 72], [67, 71, 74, 79], [69, 72, 76, 81], [65, 69, 72, 77]]
  midi = write_midi(tmp_path_factory.mktemp('studio_chords') / 'prog.mid',
                    [(p, b * 2 + i * 0.5, b * 2 + i * 0.5 + 0.45)
                     for b, chord in enumerate(progression) for i, p in enumerate(chord)])
  return Studio(model, 'runs/chords'), model, midi


def _chord_marks(ns):
  return [(round(a.time, 6), a.text) for a in ns.text_annotations]


def test_engine_decodes_over_chords_and_recipes_replay_them(chord_studio, studio):
  from musicvae_jax.studio import reproduce
  from musicvae_jax.studio.engine import StudioError
  chords, model, midi = chord_studio
  assert chords.info()['chords'] and not studio.info()['chords']
  samples = chords.sample(2, 0.5, 3, chords='C G')
  direct = model.sample(2, temperature=0.5, seed=3, chords='C G')
  assert [_notes(i.ns) for i in samples] == [_notes(ns) for ns in direct]
  assert [t for _, t in _chord_marks(samples[0].ns)] == ['C', 'G']
  assert 'C G' in samples[0].title
  with pytest.raises(StudioError, match="unknown chord symbol 'Hm7'"):
    chords.sample(2, 0.5, 0, chords='C Hm7')
  with pytest.raises(StudioError, match="unknown chord symbol 'X'"):
    chords.mix([samples[0].id, samples[1].id], 0.5, 0.5, 0.5, 0, chords='X')
  # An upload reconstructs over its own inferred chords; the recipe keeps them.
  info = chords.upload('prog.mid', midi.read_bytes())
  source, recon = chords.use_window(info['upload'], 2, 0.5, 0)
  assert [t for _, t in _chord_marks(source.ns)] == ['G', 'Am']
  assert [t for _, t in _chord_marks(recon.ns)] == ['G', 'Am']
  assert len(recon.recipe['chords']) == 32
  mix = chords.mix([samples[0].id, source.id], 0.3, 0.5, 0.5, 1, chords='Am F')
  walk = chords.walk([samples[0].id, source.id], 1, 0.5, 2, chords='F C')
  assert [t for _, t in _chord_marks(walk.ns)] == ['F', 'C'] * 3
  plain = chords.walk([samples[0].id, source.id], 1, 0.5, 2)   # empty: no chord
  assert 'chords' not in plain.recipe
  assert {t for _, t in _chord_marks(plain.ns)} == {'N.C.'}
  for item in samples[1:] + [recon, mix, walk]:
    recipe = json.loads(chords.media(item.id, 'json')[0])
    assert recipe.get('chords'), item.title
    again = reproduce.replay(model, recipe)
    assert _notes(again) == _notes(item.ns) and _chord_marks(again) == _chord_marks(item.ns)
  assert "--chords='C G'" in json.loads(chords.media(samples[1].id, 'json')[0])['cli']
  # A model without chords ignores the field (the page hides it).
  assert 'chords' not in studio.sample(1, 0.5, 0, chords='C G')[0].recipe


def test_server_passes_chords_and_their_errors(chord_studio):
  chords, _, _ = chord_studio
  with _serve(chords) as base:
    assert _request(f'{base}/api/info')[1]['chords'] is True
    with urllib.request.urlopen(base + '/', timeout=10) as response:
      assert 'id="chords"' in response.read().decode()
    status, body = _post(f'{base}/api/sample', json.dumps(
        {'n': 1, 'temperature': 0.5, 'seed': 0, 'chords': 'C Hm7'}).encode())
    assert status == 400 and body['error'].startswith("unknown chord symbol 'Hm7'")
    status, body = _post(f'{base}/api/sample', json.dumps(
        {'n': 1, 'temperature': 0.5, 'seed': 0, 'chords': 'Am F'}).encode())
    assert status == 200 and 'Am F' in body['items'][0]['title']
    _chords_in_a_browser(base)


def _chords_in_a_browser(base):
  """The page shows the Chords field for a chord model; a bad symbol is a
  message, good ones name the cards (skipped without Chromium + Playwright)."""
  try:
    from playwright import sync_api as playwright
  except ImportError:
    return
  if _chromium() is None:
    return
  errors = []
  with playwright.sync_playwright() as p:
    browser = p.chromium.launch(executable_path=_chromium(), args=[
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'])
    try:
      page = browser.new_page(viewport={'width': 1280, 'height': 900})
      page.on('pageerror', lambda error: errors.append(str(error)))
      page.goto(base + '/')
      page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
      assert page.locator('#chords').is_visible()
      page.fill('#sample-n', '1')
      page.fill('#chords', 'C Hm7')
      page.click('#sample-go')
      page.wait_for_function('document.getElementById("message-text").textContent'
                             '.includes("unknown chord symbol \'Hm7\'")', timeout=30_000)
      page.fill('#chords', 'G Em')
      page.click('#sample-go')
      page.wait_for_function('[...document.querySelectorAll("#sample-results .card .title")]'
                             '.some((t) => t.textContent.includes("G Em"))', timeout=60_000)
    finally:
      browser.close()
  assert not errors, errors


# -- GrooVAE and a 16-bar model ---------------------------------------------------------------

def _untrained(config_spec: str, **kw):
  """A TrainedModel of an initialised (untrained) config, without a checkpoint."""
  import jax
  from musicvae_jax import config_base, family, steps
  config = config_base.load_config_file(str(REPO / config_spec))
  parts = family.build(config)
  batch = parts.objective.example_batch(config, 2)
  params = jax.jit(lambda b: steps.init_params(parts.model, parts.objective,
                                               jax.random.key(0), b))(batch)
  return family.get(config).trained_model_class()(config, params, max_batch=4, **kw)


def _beat(path):
  """A quantized 4-bar beat at 100 qpm, every hit at velocity 100."""
  step = 60 / 100 / 4
  notes = [(42, i * step, (i + 0.5) * step) for i in range(0, 64, 2)]
  notes += [(36, i * step, (i + 0.5) * step) for i in range(0, 64, 8)]
  return write_midi(path, notes, is_drum=True, qpm=100.0)


@pytest.fixture(scope='module')
def groove(tmp_path_factory):
  """(Studio, beats folder) of an initialised tiny groovae_2bar_humanize; the
  map may read the beats folder."""
  from musicvae_jax.families.groove.trained import GrooveTrainedModel
  from musicvae_jax.studio.engine import Studio
  model = _untrained('configs/groovae_2bar_humanize.py:tiny')
  assert isinstance(model, GrooveTrainedModel)
  beats = tmp_path_factory.mktemp('beats')
  for name in ('beat.mid', 'beat2.mid'):
    _beat(beats / name)
  studio = Studio(model, 'runs/groove', map_roots=[beats])
  studio.warmup()
  return studio, beats


def test_engine_humanizes_and_drumifies_an_uploaded_beat(groove, studio, served):
  """An initialised tiny groovae_2bar_humanize: uploads encode through its
  transformed inputs; the whole beat can be humanized or drumified; a folder
  of beats maps; its eval set is refused in one line (no data of its own)."""
  import shlex
  from musicvae_jax.studio.engine import StudioError
  groove, beats = groove
  assert groove.info()['groove'] and not studio.info()['groove']
  name = "beat $(touch x) 'q'.mid"      # a crafted name stays quoted in the recipe
  info = groove.upload(name, (beats / 'beat.mid').read_bytes())
  source, recon = groove.use_window(info['upload'], 1, 0.5, 0)
  assert recon.z.shape == (groove.z_size,) and source.ns.notes
  for how, done in (('humanize', 'humanized'), ('drumify', 'drumified')):
    item = groove.perform(info['upload'], how, 0.5, 0)
    assert item.kind == how and item.z is None and item.ns.notes
    assert item.title.startswith(f'{name}, {done} (T=0.5')
    assert all(n.is_drum for n in item.ns.notes)
    assert groove.media(item.id, 'wav')[0][:4] == b'RIFF'
    back = note_seq.midi_to_note_sequence(groove.media(item.id, 'mid')[0])
    assert len(back.notes) == len(item.ns.notes)
    cli = json.loads(groove.media(item.id, 'json')[0])['cli']
    assert f'--mode={how}' in cli and f'--input_midi_1={name}' in shlex.split(cli)
  with pytest.raises(StudioError, match='humanize or drumify'):
    groove.perform(info['upload'], 'quantize', 0.5, 0)
  found = groove.build_map(str(beats), timeout=120)
  assert found['count'] >= 1 and found['values'] == {} and found['source'] == str(beats)
  assert groove.map_window(0).ns.notes
  assert groove.info()['eval_set'].startswith('runs/groove names no training data')
  with pytest.raises(StudioError, match='names no training data of its own .*map a folder'):
    groove.start_map('eval')
  # A melody model has no such button; the server says so in one line.
  base, _ = served
  status, body = _post(f'{base}/api/perform', json.dumps(
      {'upload': 'u1', 'how': 'humanize'}).encode())
  assert status == 400 and 'humanize: needs a GrooVAE run' in body['error']


def _launch(p, browser_path):
  return p.chromium.launch(executable_path=browser_path, args=[
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--autoplay-policy=no-user-gesture-required'])


MAP_SPANS = '''() => {
  window.studioState.map = {points: [[-100, -1], [100, 1], [0, 0]], labels: ['a', 'b', 'c'],
                            values: {}, count: 3, method: 'pca', source: 'test'};
  const s = mapScale(), a = s.toPx([-100, -1]), b = s.toPx([100, 1]);
  return [Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1])]; }'''


def test_pages_of_a_groove_and_a_16_bar_model(browser_path, groove):
  """A GrooVAE beat is humanized from the page and plays; a 16-bar model
  (tiny hierarchical) samples and draws its 16 bars; a map whose second axis
  is far narrower than its first still fills the canvas both ways."""
  from playwright import sync_api as playwright
  from musicvae_jax.studio.engine import Studio
  groove, beats = groove
  hier = Studio(_untrained('configs/hier.py:tiny'), 'runs/hier')
  assert hier.slice_bars == 16
  errors = []
  with _serve(groove) as groove_base, _serve(hier) as hier_base, \
       playwright.sync_playwright() as p:
    browser = _launch(p, browser_path)
    try:
      page = browser.new_page(viewport={'width': 1280, 'height': 900})
      page.on('pageerror', lambda error: errors.append(str(error)))
      page.goto(groove_base + '/')
      page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
      assert page.locator('#map-source option[value=eval]').is_disabled()
      page.click('.tab[data-tab=inputs]')
      page.set_input_files('#file-input', str(beats / 'beat.mid'))
      page.wait_for_selector('.upload .humanize', timeout=60_000)
      page.click('.upload .humanize')
      page.wait_for_selector('#input-results .card[data-kind=humanize]', timeout=60_000)
      card = page.locator('#input-results .card[data-kind=humanize]').first
      assert 'humanized' in card.locator('h3').text_content()
      humanized = card.get_attribute('data-id')
      card.locator('.play').click()
      page.wait_for_function(f'window.studioState.played && window.studioState.played.id === '
                             f'"{humanized}" && window.studioState.played.context === "running"',
                             timeout=30_000)

      page.goto(hier_base + '/')
      page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
      assert '16 bars' in page.text_content('#model-info')
      page.fill('#sample-n', '1')
      page.click('#sample-go')
      page.wait_for_selector('#sample-results .card', timeout=120_000)
      item = page.evaluate('Object.values(window.studioState.items)[0]')
      assert item['duration'] == pytest.approx(32.0)      # 16 bars at 120 qpm
      assert page.evaluate('labelEvery(480 / 16)') == 1
      assert page.evaluate('labelEvery(480 / 64)') == 5    # a 4-window walk: every 5th bar
      spans = page.evaluate(MAP_SPANS)
      assert spans[0] > 400 and spans[1] > 400, spans
    finally:
      browser.close()
  assert not errors, errors
