"""download_magenta against a local HTTP server (127.0.0.1, ephemeral port,
stops by itself) serving checkpoints at Magenta's paths: resume, size and MD5
checks, one-line errors, and every catalogue entry downloaded and converted
from a checkpoint of its shape (TF .tar / loose TF files / magenta.js
folder), then loaded with TrainedModel.from_workdir.

TF entries are served from the Magenta-written fixture of the same config in
../shared/fixtures/magenta where there is one (skipped without it), else
from a tiny checkpoint (tests/magenta_shapes.py). magenta.js entries are
tiny folders written here: the weights in TF.js format (quantized as the
entry is) and a config.json as magenta-js' converter types take it (the
hosted config.json files are not in any repository; their shape follows
music/src/core/data.ts and music/src/music_vae/model.ts)."""

import base64
import dataclasses
import hashlib
import http.server
import io
import json
import re
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

import magenta_shapes as ms
from musicvae_jax import download_magenta as dm
from musicvae_jax.magenta import convert, tf_bundle, tfjs
from musicvae_jax.trained_model import TrainedModel

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / 'shared' / 'fixtures' / 'magenta'
FIXTURE = FIXTURES / 'cat-mel_2bar_small'
needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f'no fixture at {FIXTURE}')


class Server:
  """Serves `files` {path: bytes} with Range support and GCS' x-goog-hash;
  shuts itself down after `lifetime` seconds at the latest."""

  def __init__(self, lifetime: float = 300.0):
    self.files, self.requests, self.bad_md5 = {}, [], set()
    outer = self

    class Handler(http.server.BaseHTTPRequestHandler):
      timeout = 30  # a stuck client cannot hold a thread for long

      def do_GET(self):
        data = outer.files.get(self.path)
        outer.requests.append((self.path, self.headers.get('Range')))
        if data is None:
          self.send_error(404)
          return
        start = 0
        if self.headers.get('Range'):
          start = int(self.headers['Range'].split('=')[1].split('-')[0])
          if start >= len(data):
            self.send_error(416)
            return
        digest = hashlib.md5(b'x' if self.path in outer.bad_md5 else data).digest()
        self.send_response(206 if start else 200)
        self.send_header('Content-Length', str(len(data) - start))
        self.send_header('x-goog-hash', f'crc32c=AAAAAA==,md5={base64.b64encode(digest).decode()}')
        self.end_headers()
        self.wfile.write(data[start:])

      def log_message(self, *args):
        pass

    self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    self.httpd.daemon_threads = True
    self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
    threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.1},
                     daemon=True).start()
    self.timer = threading.Timer(lifetime, self.stop)
    self.timer.daemon = True
    self.timer.start()

  def stop(self):
    self.timer.cancel()
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def server():
  s = Server()
  yield s
  s.stop()


# -- checkpoints of each entry's shape ----------------------------------------------

# Weight shape of each Magenta config (what a checkpoint of it holds).
SHAPES = {
    'cat-mel_2bar_small': ms.MELODY, 'cat-mel_2bar_big': ms.MELODY,
    'cat-mel_2bar_med_chords': ms.MELODY_CHORDS,
    'hierdec-mel_16bar': ms.HIERDEC_MEL, 'hier-mel_16bar': ms.HIER_MEL,
    'hierdec-trio_16bar': ms.HIERDEC_TRIO, 'hier-trio_16bar': ms.HIER_TRIO,
    'cat-drums_2bar_small': ms.DRUMS,
    'nade-drums_2bar_reduced': ms.NADE_REDUCED, 'nade-drums_2bar_full': ms.NADE_FULL,
    'groovae_4bar': ms.GROOVE, 'groovae_2bar_humanize': ms.GROOVE,
    'groovae_2bar_tap_fixed_velocity': ms.GROOVE, 'groovae_2bar_add_closed_hh': ms.GROOVE,
    'groovae_2bar_hits_control': ms.GROOVE_HITS_CONTROL,
    'groovae_2bar_hits_control_tfds': ms.GROOVE_HITS_CONTROL,
    'hier-multiperf_vel_1bar_med': ms.MULTIPERF,
    'hier-multiperf_vel_1bar_med_chords': ms.MULTIPERF_CHORDS,
}

# Layer sizes of the checkpoints written here: those of the shared fixture of
# the same shape (all small), so that conversions of one shape share their
# compiled ops whether the checkpoint is a fixture or written here.
_SIZES = {'cat-mel_2bar_small': (32, (128,), (64, 64)), 'cat-mel_2bar_big': (32, (128,), (64, 64)),
          'hierdec-mel_16bar': (32, (64, 64), (48, 48)), 'hier-mel_16bar': (16, (32,), (48, 48)),
          'hier-multiperf_vel_1bar_med': (16, (32,), (32, 32)),
          'hier-multiperf_vel_1bar_med_chords': (16, (32,), (32, 32))}


def tiny_variables(magenta_config: str):
  z, enc, dec = _SIZES.get(magenta_config, (16, (64,), (48, 48)))
  return ms.magenta_variables(SHAPES[magenta_config], z=z, enc=enc, dec=dec, conductor=dec)


# TF entries: the shared fixture of the same Magenta config (groovae_2bar_hits_control_tfds
# is groovae_2bar_hits_control trained on TFDS: the same model).
TF_FIXTURES = {
    'hierdec-mel_16bar': 'hierdec-mel_16bar',
    'cat-drums_2bar_small.lokl': 'cat-drums_2bar_small',
    'cat-drums_2bar_small.hikl': 'cat-drums_2bar_small',
    'nade-drums_2bar_full': 'nade-drums_2bar_full',
    'groovae_4bar': 'groovae_4bar',
    'groovae_2bar_humanize': 'groovae_2bar_humanize',
    'groovae_2bar_tap_fixed_velocity': 'groovae_2bar_tap_fixed_velocity',
    'groovae_2bar_hits_control': 'groovae_2bar_hits_control_tfds',
    'hier-multiperf_vel_1bar_med': 'hier-multiperf_vel_1bar_med',
    'hier-multiperf_vel_1bar_med_chords': 'hier-multiperf_vel_1bar_med_chords',
}

_MEL = {'minPitch': 21, 'maxPitch': 108}
_MULTITRACK = {'numSteps': 512, 'numSegments': 8, 'stepsPerQuarter': 24, 'totalSteps': 96,
               'numVelocityBins': 8, 'minPitch': 0, 'maxPitch': 127}


def _converter(kind, **args):
  return {'type': kind, 'args': args}


def _trio(steps, segments):
  return _converter('TrioConverter', numSteps=steps, numSegments=segments, melArgs=dict(_MEL),
                    bassArgs=dict(_MEL), drumsArgs={})


def _mel(steps, **args):
  return _converter('MelodyConverter', numSteps=steps, **_MEL, **args)


def _drums(steps, kind='DrumsConverter'):
  return _converter(kind, numSteps=steps)


def _groove(steps, **args):
  return _converter('GrooveConverter', numSteps=steps, **args)


_TRIAD = {'chordEncoder': 'TriadChordEncoder'}
_MT, _MT_CHORDS = 'hier-multiperf_vel_1bar_med', 'hier-multiperf_vel_1bar_med_chords'
_TAP = 'groovae_2bar_tap_fixed_velocity'
# magenta.js entries: (Magenta config of the same model or the nearest one, bars,
# config.json's dataConverter, other config.json keys).
JS = {
    'mel_2bar_small': ('cat-mel_2bar_small', 2, _mel(32), {}),
    'mel_4bar_small_q2': ('cat-mel_2bar_small', 4, _mel(64), {}),
    'mel_4bar_med_q2': ('cat-mel_2bar_small', 4, _mel(64), {}),
    'mel_4bar_med_lokl_q2': ('cat-mel_2bar_small', 4, _mel(64), {}),
    'mel_chords': ('cat-mel_2bar_med_chords', 2, _mel(32), _TRIAD),
    'mel_16bar_small_q2': ('hier-mel_16bar', 16, _mel(256, numSegments=16), {}),
    'drums_2bar_lokl_small': ('cat-drums_2bar_small', 2, _drums(32), {}),
    'drums_2bar_hikl_small': ('cat-drums_2bar_small', 2, _drums(32), {}),
    'drums_2bar_nade_9_q2': ('nade-drums_2bar_reduced', 2, _drums(32, 'DrumRollConverter'), {}),
    'drums_4bar_med_q2': ('cat-drums_2bar_small', 4, _drums(64), {}),
    'drums_4bar_med_lokl_q2': ('cat-drums_2bar_small', 4, _drums(64), {}),
    'trio_4bar_lokl_small_q1': ('hier-trio_16bar', 4, _trio(64, 4), {}),
    'trio_16bar_xl': ('hier-trio_16bar', 16, _trio(256, 16), {}),
    'multitrack': (_MT, 1, _converter('MultitrackConverter', **_MULTITRACK), {}),
    'multitrack_med': (_MT, 1, _converter('MultitrackConverter', **_MULTITRACK), {}),
    'multitrack_med_fb256': (_MT, 1, _converter('MultitrackConverter', **_MULTITRACK), {}),
    'multitrack_chords': (_MT_CHORDS, 1, _converter('MultitrackConverter', **_MULTITRACK), _TRIAD),
    'multitrack_med_chords': (_MT_CHORDS, 1, _converter('MultitrackConverter', **_MULTITRACK),
                              _TRIAD),
    'multitrack_med_chords_fb256': (_MT_CHORDS, 1,
                                    _converter('MultitrackConverter', **_MULTITRACK), _TRIAD),
    'groovae_2bar_humanize-js': ('groovae_2bar_humanize', 2, _groove(32, humanize=True), {}),
    'tap2drum_1bar': (_TAP, 1, _groove(16, tapify=True), {}),
    'tap2drum_2bar': (_TAP, 2, _groove(32, tapify=True), {}),
    'tap2drum_3bar': (_TAP, 3, _groove(48, tapify=True), {}),
    'tap2drum_4bar': (_TAP, 4, _groove(64, tapify=True), {}),
    'groovae_4bar-js': ('groovae_4bar', 4, _groove(64), {}),
}

def _quantization(entry):
  if entry.name.endswith('_q2'):
    return 'uint16'
  if entry.name.endswith('_q1') or entry.name.startswith('multitrack'):  # "1-byte weights"
    return 'uint8'
  return None


def _tar(files: dict[str, bytes]) -> bytes:
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w') as tar:
    for name, data in sorted(files.items()):
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return buffer.getvalue()


def _fixture_files(folder: Path) -> dict[str, bytes]:
  prefix = (folder / 'checkpoint_name.txt').read_text().strip()
  return {p.name: p.read_bytes() for p in sorted(folder.glob(prefix + '.*'))}


def _tiny_files(variables, tmp_path: Path) -> dict[str, bytes]:
  folder = tmp_path / 'tiny'
  folder.mkdir(exist_ok=True)
  tf_bundle.write_checkpoint(folder / 'model.ckpt-7', variables)
  return {p.name: p.read_bytes() for p in sorted(folder.glob('model.ckpt-7.*'))}


def serve(entry, server, tmp_path):
  """Writes a checkpoint of `entry`'s shape to tmp_path/served and puts it at
  the entry's path on `server` (if any); returns its variables (as read
  back, no optimizer slots)."""
  files_out = server.files if server is not None else {}
  base = '/' + entry.path
  if entry.kind in ('tar', 'ckpt'):
    if entry.name in TF_FIXTURES:
      folder = FIXTURES / TF_FIXTURES[entry.name]
      if not folder.is_dir():
        pytest.skip(f'no fixture at {folder}')
      files = _fixture_files(folder)
    else:
      files = _tiny_files(tiny_variables(entry.magenta_config), tmp_path)
    if entry.kind == 'tar':
      files_out[base] = _tar(files)
    else:  # loose files named after the entry's prefix (model_fb256.ckpt.index, ...)
      for name, data in files.items():
        files_out[base + name[name.index('.', len('model.ckpt')):]] = data
    local = tmp_path / 'served'
    local.mkdir()
    for name, data in files.items():
      (local / name).write_bytes(data)
    variables = tf_bundle.read_checkpoint(local, skip_optimizer=True)
  else:
    magenta_config, _, converter, extra = JS[entry.name]
    variables = tiny_variables(magenta_config)
    variables.pop('global_step')
    folder = tmp_path / 'served'
    tfjs.write_weights(variables, folder, _quantization(entry), shard_bytes=16_384)
    (folder / 'config.json').write_text(json.dumps(
        {'type': 'MusicVAE', 'dataConverter': converter, **extra}))
    for item in folder.iterdir():
      files_out[f'{base}/{item.name}'] = item.read_bytes()
    variables = tfjs.read_weights(folder)
  variables.pop('global_step', None)
  return variables


def check_converted(config, reference: str, bars: int, variables) -> None:
  """The converted config is `reference`'s family at `bars` bars with the
  served checkpoint's layer sizes."""
  ref = convert.config_for(reference)
  for key in ('encoding', 'use_hier', 'split_decoder', 'output_family', 'controls',
              'drum_pitch_classes'):
    assert config.get(key) == ref.get(key), key
  assert bool(config.get('encoder_levels', ())) == bool(ref.get('encoder_levels', ()))
  assert config.slice_bars == bars
  sizes = convert.sizes_from_params(convert.magenta_to_params(variables))
  assert tuple(config.enc_rnn_sizes) == tuple(sizes['enc_rnn_size'])
  assert tuple(config.dec_rnn_sizes) == tuple(sizes['dec_rnn_size'])
  assert config.z_size == sizes['z_size']


@pytest.mark.parametrize('name', list(dm.CATALOG))
def test_every_entry_downloads_and_converts(name, server, tmp_path):
  entry = dm.CATALOG[name]
  variables = serve(entry, server, tmp_path)
  workdir = dm.download_and_convert(name, tmp_path / 'run', tmp_path / 'cache', server.url,
                                    progress=False)
  assert server.requests and all(p.startswith('/' + entry.path) for p, _ in server.requests)
  config = TrainedModel.from_workdir(workdir).config
  if entry.kind == 'js':
    reference, bars = JS[name][:2]
  else:
    reference, bars = entry.magenta_config, convert.config_for(entry.magenta_config).slice_bars
  assert config.magenta_name == (entry.magenta_config or f'magenta.js:{name}')
  check_converted(config, reference, bars, variables)


@pytest.mark.parametrize('name', [name for name, entry in dm.CATALOG.items()
                                  if entry.kind == 'js' and entry.magenta_config])
def test_config_json_alone_gives_the_same_model(name, tmp_path):
  """The magenta.js entries converted as a Magenta config convert the same from
  their config.json alone (magenta/tfjs.py and the families' magentajs.py)."""
  variables = serve(dm.CATALOG[name], None, tmp_path)
  workdir = convert.convert_checkpoint('', str(tmp_path / 'served'), str(tmp_path / 'run'))
  reference, bars = JS[name][:2]
  check_converted(TrainedModel.from_workdir(workdir).config, reference, bars, variables)


def test_catalogue_covers_magentas_lists():
  sources = {}
  for entry in dm.CATALOG.values():
    sources.setdefault(entry.source, []).append(entry.name)
  assert {k: len(v) for k, v in sources.items()} == {dm.README: 11, dm.COLAB: 2, dm.JS: 25}
  assert set(JS) == set(sources[dm.JS])
  assert all(e.magenta_config in convert.magenta_configs() for e in dm.CATALOG.values()
             if e.magenta_config)
  assert all(e.like for e in dm.CATALOG.values() if not e.magenta_config)
  assert not {u.name for u in dm.NOT_READABLE} & set(dm.CATALOG)
  assert dm.CATALOG['hierdec-mel_16bar'].url() == (
      'https://storage.googleapis.com/magentadata/models/music_vae/checkpoints/'
      'hierdec-mel_16bar.tar')
  assert dm.CATALOG['trio_4bar_lokl_small_q1'].url() == (
      'https://storage.googleapis.com/magentadata/js/checkpoints/music_vae/trio_4bar')
  assert dm.CATALOG['tap2drum_3bar'].url() == (
      'https://storage.googleapis.com/magentadata/js/checkpoints/groovae/tap2drum_3bar')
  assert dm.CATALOG['hier-multiperf_vel_1bar_med_chords'].url() == (
      'https://storage.googleapis.com/download.magenta.tensorflow.org/models/music_vae/'
      'multitrack/model_chords_fb64.ckpt')
  page = (REPO / 'docs' / 'checkpoints.md').read_text()
  assert dm.catalog_table() in page and dm.not_readable_table() in page


def test_unreadable_names_say_why(tmp_path):
  with pytest.raises(ValueError, match=r'mel_shape_2bar_tiny_fb8 \(https://.*\) is not readable '
                     'here yet: MelodyShapeConverter'):
    dm.download_and_convert('mel_shape_2bar_tiny_fb8', tmp_path / 'run', tmp_path,
                            'http://127.0.0.1:9')


def test_shapes_match_magentas_own_checkpoints():
  """tests/magenta_shapes.py names and shapes every variable as Magenta's own
  training code does (every fixture's variables.json)."""
  if not FIXTURES.is_dir():
    pytest.skip(f'no fixtures at {FIXTURES}')
  checked = 0
  for folder in sorted(FIXTURES.iterdir()):
    if not (folder / 'variables.json').is_file():
      continue
    hparams = json.loads((folder / 'config.json').read_text())['hparams']
    shape = SHAPES[folder.name]
    if shape.nade_hidden:
      shape = dataclasses.replace(shape, nade_hidden=hparams['nade_num_hidden'])
    dec = tuple(hparams['dec_rnn_size'])
    ours = ms.magenta_variables(shape, z=hparams['z_size'], enc=tuple(hparams['enc_rnn_size']),
                                dec=dec, conductor=dec)
    theirs = {k: v for k, v in json.loads((folder / 'variables.json').read_text()).items()
              if not re.search(r'/Adam(_1)?$|^beta[12]_power$', k)}
    assert {k: list(v.shape) for k, v in ours.items()} == theirs, folder.name
    checked += 1
  assert checked >= 10


# -- download mechanics and errors ------------------------------------------------

def _golden_mu(model):
  golden = np.load(FIXTURE / 'golden.npz')
  _, mu, _ = model.encode_tensors(golden['input_tokens'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)


@needs_fixture
def test_tar_download_resumes_checks_and_converts(server, tmp_path):
  data = _tar(_fixture_files(FIXTURE))
  path = '/magentadata/models/music_vae/checkpoints/cat-mel_2bar_big.tar'
  server.files[path] = data
  cache = tmp_path / 'cache'
  cache.mkdir()
  (cache / 'cat-mel_2bar_big.tar.part').write_bytes(data[:50_000])  # an interrupted download
  workdir = dm.download_and_convert('cat-mel_2bar_big', tmp_path / 'run', cache, server.url,
                                    progress=False)
  assert server.requests == [(path, 'bytes=50000-')]
  assert (cache / 'cat-mel_2bar_big.tar').read_bytes() == data
  model = TrainedModel.from_workdir(workdir)
  assert model.config.magenta_name == 'cat-mel_2bar_big'
  _golden_mu(model)


def test_md5_mismatch_and_http_errors_are_one_line(server, tmp_path):
  path = '/magentadata/models/music_vae/checkpoints/hierdec-mel_16bar.tar'
  server.files[path] = b'0123456789' * 100
  server.bad_md5.add(path)
  with pytest.raises(dm.DownloadError, match='MD5 mismatch'):
    dm.download(dm.CATALOG['hierdec-mel_16bar'], tmp_path, server.url, progress=False)
  assert not list(tmp_path.iterdir())  # the bad file was removed
  with pytest.raises(dm.DownloadError, match=re.escape(
      f'hierdec-trio_16bar: {server.url}/magentadata/models/music_vae/checkpoints/'
      'hierdec-trio_16bar.tar: HTTP 404')):
    dm.download_and_convert('hierdec-trio_16bar', tmp_path / 'run', tmp_path, server.url,
                            progress=False)
  with pytest.raises(dm.DownloadError, match=re.escape(
      f'multitrack: {server.url}/magentadata/js/checkpoints/music_vae/multitrack/config.json: '
      'HTTP 404')):
    dm.download_and_convert('multitrack', tmp_path / 'run', tmp_path, server.url, progress=False)


def test_config_json_that_disagrees_is_refused_in_one_line(server, tmp_path):
  """A magenta.js folder converted as a Magenta config must say the same
  converter, length and segments in its config.json."""
  entry = dm.CATALOG['tap2drum_2bar']
  serve(entry, server, tmp_path)
  server.files[f'/{entry.path}/config.json'] = json.dumps({'type': 'MusicVAE', 'dataConverter': {
      'type': 'GrooveConverter', 'args': {'numSteps': 64, 'tapify': True}}}).encode()
  with pytest.raises(dm.ConversionError) as error:
    dm.download_and_convert('tap2drum_2bar', tmp_path / 'run', tmp_path / 'cache', server.url,
                            progress=False)
  assert str(error.value) == (
      f'tap2drum_2bar: converting {server.url}/{entry.path} failed: config.json has numSteps '
      '64 but groovae_2bar_tap_fixed_velocity needs 32')


def test_offline_gives_one_clear_line(tmp_path):
  done = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.download_magenta', 'mel_2bar_small',
       f'--workdir={tmp_path / "run"}', f'--cache_dir={tmp_path}',
       '--base_url=http://127.0.0.1:9'], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert done.returncode != 0
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1, lines
  assert lines[0].startswith('error: mel_2bar_small: cannot reach http://127.0.0.1:9/magentadata/')
  assert 'offline?' in lines[0]


def test_conversion_failure_is_one_line_naming_entry_and_url(server, tmp_path):
  """A checkpoint that does not fit its entry (a melody served as drums) ends
  the command with one line naming the entry and the URL."""
  entry = dm.CATALOG['cat-drums_2bar_small.lokl']
  files = _tiny_files(ms.magenta_variables(ms.MELODY), tmp_path)
  server.files['/' + entry.path] = _tar(files)
  done = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.download_magenta', entry.name,
       f'--workdir={tmp_path / "run"}', f'--cache_dir={tmp_path / "cache"}',
       f'--base_url={server.url}', '--noprogress'], cwd=REPO, capture_output=True, text=True,
      timeout=120)
  assert done.returncode != 0
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1, lines
  assert lines[0].startswith(f'error: {entry.name}: converting {server.url}/{entry.path} failed: ')


@needs_fixture
def test_magentajs_folder_download_converts(server, tmp_path):
  prefix = FIXTURE / (FIXTURE / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  folder = tmp_path / 'js'
  tfjs.write_weights(variables, folder, 'uint16', shard_bytes=400_000)
  (folder / 'config.json').write_text(json.dumps({'type': 'MusicVAE', 'dataConverter': {
      'type': 'MelodyConverter', 'args': {'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}}))
  base = '/magentadata/js/checkpoints/music_vae/mel_2bar_small'
  for item in folder.iterdir():
    server.files[f'{base}/{item.name}'] = item.read_bytes()
  workdir = dm.download_and_convert('mel_2bar_small', tmp_path / 'run', tmp_path / 'cache',
                                    server.url, progress=False)
  shards = json.loads((folder / 'weights_manifest.json').read_text())[0]['paths']
  assert len(shards) > 1 and all((tmp_path / 'cache' / 'mel_2bar_small' / s).is_file()
                                 for s in shards)
  model = TrainedModel.from_workdir(workdir)
  golden = np.load(FIXTURE / 'golden.npz')
  _, mu, _ = model.encode_tensors(golden['input_tokens'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=2e-3)  # 2-byte weights
