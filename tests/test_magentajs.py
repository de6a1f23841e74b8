"""magenta.js checkpoints: read (config.json + TF.js weights manifest, float32
or quantized), write ours, and prove the export with the real client
(@magenta/music in Node; skipped without Node or when npm cannot install)."""

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import jax
import numpy as np
import pytest

from musicvae_jax.magenta import convert, tf_bundle, tfjs
from musicvae_jax.trained_model import TrainedModel

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / 'shared' / 'fixtures' / 'magenta'


@pytest.fixture(scope='module')
def exported(tiny_run, tmp_path_factory):
  out = tmp_path_factory.mktemp('js') / 'tiny_mel'
  tfjs.export_workdir(tiny_run[2], out)
  return out, TrainedModel.from_workdir(tiny_run[2])


def _flat(tree):
  return {'/'.join(str(getattr(k, 'key', k)) for k in path): np.asarray(v)
          for path, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def test_export_writes_magentajs_names_and_reads_back_exactly(exported):
  out, model = exported
  spec = json.loads((out / 'config.json').read_text())
  assert spec == {'type': 'MusicVAE', 'dataConverter': {
      'type': 'MelodyConverter', 'args': {'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}}
  variables = tfjs.read_weights(out)
  assert 'encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel' in variables
  assert 'decoder/multi_rnn_cell/cell_0/lstm_cell/kernel' in variables
  assert variables['decoder/output_projection/bias'].shape == (90,)
  back = _flat(convert.magenta_to_params(variables))
  ours = _flat(jax.tree.map(np.asarray, model.params))
  assert back.keys() == ours.keys()
  for key in ours:
    np.testing.assert_array_equal(back[key], ours[key], err_msg=key)


def test_quantized_sharded_manifests_read_back_within_one_step(exported, tmp_path):
  """uint8 / uint16 weights in several shards dequantize to within half a
  quantization step (the download test converts such a folder and checks mu)."""
  out, _ = exported
  exact = tfjs.read_weights(out)
  for quantization in ('uint8', 'uint16'):
    folder = tmp_path / quantization
    tfjs.write_weights(exact, folder, quantization, shard_bytes=20_000)
    manifest = json.loads((folder / 'weights_manifest.json').read_text())
    assert len(manifest[0]['paths']) > 1  # several shards
    specs = {w['name']: w['quantization'] for w in manifest[0]['weights']}
    back = tfjs.read_weights(folder)
    for name, values in exact.items():
      assert specs[name]['dtype'] == quantization
      np.testing.assert_allclose(back[name], values, rtol=0,
                                 atol=specs[name]['scale'] / 2 * 1.001 + 1e-7, err_msg=name)


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f'no Magenta fixtures at {FIXTURES}')
@pytest.mark.parametrize('name, spec', [
    ('cat-mel_2bar_small', {'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}),
    ('hierdec-mel_16bar', {'numSteps': 256, 'numSegments': 16, 'minPitch': 21, 'maxPitch': 108}),
])
def test_magentas_own_weights_as_a_magentajs_checkpoint(name, spec, tmp_path):
  """What magenta-js' checkpoint_converter.py writes from Magenta's TF
  checkpoint reads back to the same variables, and the same parameter tree,
  as the TF checkpoint itself (whose mu the golden tests check; the download
  test converts such a folder and checks mu)."""
  folder = FIXTURES / name
  prefix = folder / (folder / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  js = tmp_path / name
  tfjs.write_weights(variables, js, shard_bytes=1 << 20)
  (js / 'config.json').write_text(json.dumps(
      {'type': 'MusicVAE', 'dataConverter': {'type': 'MelodyConverter', 'args': spec}}))
  back, js_spec = tfjs.read_checkpoint(js)
  assert back.keys() == variables.keys()
  for key in variables:
    np.testing.assert_array_equal(back[key], variables[key], err_msg=key)
  params = convert.magenta_to_params(back)
  written = tfjs.params_to_magenta(params)  # the exporter's inverse mapping
  assert written.keys() == back.keys()
  assert all(np.array_equal(written[k], back[k]) for k in back)
  config = tfjs.config_from_spec(js_spec)
  convert.apply_sizes(config, convert.sizes_from_params(params))
  assert config.use_hier == ('numSegments' in spec) and config.slice_bars == spec['numSteps'] // 16


def test_bad_manifest_names_the_file(tmp_path):
  (tmp_path / 'weights_manifest.json').write_text(json.dumps(
      [{'paths': ['group1-shard1of1'], 'weights': [
          {'name': 'encoder/mu/bias', 'shape': [8], 'dtype': 'float32'}]}]))
  with pytest.raises(tfjs.TfjsFormatError, match='group1-shard1of1: weight shard .* missing'):
    tfjs.read_weights(tmp_path)
  (tmp_path / 'group1-shard1of1').write_bytes(b'\0' * 16)
  with pytest.raises(tfjs.TfjsFormatError, match='encoder/mu/bias needs bytes 0..32'):
    tfjs.read_weights(tmp_path)


# -- the real client -------------------------------------------------------------

def _node_modules() -> Path:
  if not (shutil.which('node') and shutil.which('npm')):
    pytest.skip('Node.js / npm not installed')
  folder = Path(os.environ.get('MUSICVAE_NODE_DIR',
                               Path.home() / '.cache' / 'musicvae_jax' / 'node'))
  done = subprocess.run(['bash', str(REPO / 'scripts' / 'install_magentajs.sh'), str(folder)],
                        capture_output=True, text=True, timeout=900)
  if done.returncode != 0:
    pytest.skip(f'could not install @magenta/music (offline?): {done.stderr.strip()[-300:]}')
  return folder / 'node_modules'


def _melody_note_sequence(tokens):
  """A quantized INoteSequence (magenta.js' JSON form) of melody tokens."""
  notes, current = [], None
  for step, token in enumerate(tokens):
    if token >= 1 and current is not None:
      current['quantizedEndStep'] = step
      notes.append(current)
      current = None
    if token >= 2:
      current = {'pitch': int(token) - 2 + 21, 'velocity': 80, 'quantizedStartStep': step}
  if current is not None:
    current['quantizedEndStep'] = len(tokens)
    notes.append(current)
  return {'notes': notes, 'quantizationInfo': {'stepsPerQuarter': 4},
          'totalQuantizedSteps': len(tokens)}


def test_magentajs_loads_our_export_and_gives_our_mu_and_greedy_decode(exported, tmp_path):
  modules = _node_modules()
  out, model = exported
  windows = np.array([
      [2 + 39, 0, 0, 1, 2 + 41, 0, 2 + 43, 0] * 4,
      [2 + 48, 0, 0, 0, 0, 0, 0, 0, 2 + 47, 0, 2 + 45, 0, 1, 0, 0, 0] * 2,
      [2 + 36 + (i % 12) for i in range(32)],
  ], np.int32)
  _, mu, _ = model.encode_tensors(windows)
  z = np.concatenate([mu, np.random.default_rng(0).standard_normal((2, mu.shape[1]))]
                     ).astype(np.float32)
  greedy = model.decode_to_tensors(z, temperature=1e-5)[..., 0]
  request = {'tokens': windows.tolist(), 'depth': 90, 'z': z.tolist(),
             'sequences': [_melody_note_sequence(w) for w in windows]}
  (tmp_path / 'input.json').write_text(json.dumps(request))
  handler = functools.partial(_QuietHandler, directory=str(out))
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    url = f'http://127.0.0.1:{server.server_address[1]}'
    done = subprocess.run(['node', str(REPO / 'tests' / 'magentajs_check.js'), str(modules),
                           url, str(tmp_path / 'input.json')],
                          capture_output=True, text=True, timeout=300)
  finally:
    server.shutdown()
  assert done.returncode == 0, done.stderr[-3000:]
  result = json.loads(done.stdout.strip().splitlines()[-1][len('RESULT '):])
  assert result['z_size'] == mu.shape[1]
  np.testing.assert_allclose(result['mu'], mu, atol=2e-5)
  np.testing.assert_allclose(result['mu_sequences'], mu, atol=2e-5)
  np.testing.assert_array_equal(result['tokens'], greedy)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):
    pass


@pytest.mark.parametrize('spec', ['mel_2bar.py:small', 'hier.py:full', 'flat_16bar.py:full',
                                  'drums_2bar.py:small', 'trio_16bar.py:hierdec',
                                  'trio_16bar.py:flat'])
def test_config_json_round_trip(spec):
  from musicvae_jax import config_base
  config = config_base.load_config_file(spec)
  js = tfjs.spec_from_config(config)
  back = tfjs.config_from_spec(json.loads(json.dumps(js)))
  for key in ('encoding', 'slice_bars', 'use_hier', 'split_decoder'):
    assert back[key] == config[key], key
  if config.use_hier:
    assert back.n_subsequences == config.n_subsequences
  if config.encoding == 'drums':
    assert js['dataConverter']['type'] == 'DrumsConverter' and back.drum_roll_input
