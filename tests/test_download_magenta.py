"""download_magenta against a local HTTP server (127.0.0.1) serving fixture
checkpoints at Magenta's paths: resume, size and MD5 checks, offline error,
TF .tar and magenta.js folders converted in one go."""

import base64
import hashlib
import http.server
import io
import json
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from musicvae_jax import download_magenta as dm
from musicvae_jax.magenta import tf_bundle, tfjs
from musicvae_jax.trained_model import TrainedModel

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / 'shared' / 'fixtures' / 'magenta' / 'cat-mel_2bar_small'
pytestmark = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f'no fixture at {FIXTURE}')


class Server:
  """Serves `files` {path: bytes} with Range support and GCS' x-goog-hash."""

  def __init__(self):
    self.files, self.requests, self.bad_md5 = {}, [], set()
    outer = self

    class Handler(http.server.BaseHTTPRequestHandler):
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
    self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
    threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
  s = Server()
  yield s
  s.httpd.shutdown()


def _tarball() -> bytes:
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w') as tar:
    for path in sorted(FIXTURE.glob('model.ckpt-*')):
      tar.add(path, arcname=path.name)
  return buffer.getvalue()


def _golden_mu(model):
  golden = np.load(FIXTURE / 'golden.npz')
  _, mu, _ = model.encode_tensors(golden['input_tokens'], golden['lengths'])
  np.testing.assert_allclose(mu, golden['mu'], atol=1e-4)


def test_tar_download_resumes_checks_and_converts(server, tmp_path):
  data = _tarball()
  path = '/models/music_vae/checkpoints/cat-mel_2bar_big.tar'
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
  path = '/models/music_vae/checkpoints/hierdec-mel_16bar.tar'
  server.files[path] = b'0123456789' * 100
  server.bad_md5.add(path)
  with pytest.raises(dm.DownloadError, match='MD5 mismatch'):
    dm.download(dm.CATALOG['hierdec-mel_16bar'], tmp_path, server.url, progress=False)
  assert not list(tmp_path.iterdir())  # the bad file was removed
  with pytest.raises(dm.DownloadError, match='HTTP 404'):
    dm.download(dm.CATALOG['hierdec-trio_16bar'], tmp_path, server.url, progress=False)


def test_offline_gives_one_clear_line(tmp_path):
  done = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.download_magenta', 'mel_2bar_small',
       f'--workdir={tmp_path / "run"}', f'--cache_dir={tmp_path}',
       '--base_url=http://127.0.0.1:9'], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert done.returncode != 0
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: cannot reach http://127.0.0.1:9/')
  assert 'offline?' in lines[0]


def test_magentajs_folder_download_converts(server, tmp_path):
  prefix = FIXTURE / (FIXTURE / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  folder = tmp_path / 'js'
  tfjs.write_weights(variables, folder, 'uint16', shard_bytes=400_000)
  (folder / 'config.json').write_text(json.dumps({'type': 'MusicVAE', 'dataConverter': {
      'type': 'MelodyConverter', 'args': {'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}}))
  base = '/js/checkpoints/music_vae/mel_2bar_small'
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


def test_catalog_names_magentas_addresses_and_the_readme_table():
  assert dm.CATALOG['hierdec-mel_16bar'].url() == (
      'https://storage.googleapis.com/magentadata/models/music_vae/checkpoints/hierdec-mel_16bar.tar')
  assert dm.CATALOG['trio_4bar_lokl_small_q1'].url() == (
      'https://storage.googleapis.com/magentadata/js/checkpoints/music_vae/trio_4bar')
  readme = (REPO / 'README.md').read_text()
  assert dm.catalog_table() in readme
