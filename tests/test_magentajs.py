"""magenta.js checkpoints: read (config.json + TF.js weights manifest, float32
or quantized), write ours for every family magenta.js has (melody, chords,
drums, trio flat and hierarchical, multitrack, GrooVAE, NADE drums), read the
export back to the same config and parameters, refuse what magenta.js cannot
represent, and prove the export with the real client (@magenta/music in
Node; skipped without Node or when npm cannot install)."""

import ast
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

from musicvae_jax import checkpoints, config_base, family
from musicvae_jax.errors import UnsupportedCapabilityError
from musicvae_jax.magenta import convert, export, params as magenta_params, tf_bundle, tfjs
from musicvae_jax.trained_model import TrainedModel

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / 'shared' / 'fixtures' / 'magenta'


@pytest.fixture(scope='module')
def exported(tiny_run, tmp_path_factory):
  out = tmp_path_factory.mktemp('js') / 'tiny_mel'
  export.export_workdir(tiny_run[2], out)
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


# Magenta's fixtures (Magenta-trained TF checkpoints) -> whether magenta.js can
# read that model (None) or the config key that stops it.
MAGENTA_FIXTURES = {
    'cat-mel_2bar_small': None, 'cat-drums_2bar_small': None,
    'cat-mel_2bar_med_chords': None, 'hier-trio_16bar': None,
    'hier-multiperf_vel_1bar_med': None, 'hier-multiperf_vel_1bar_med_chords': None,
    'groovae_2bar_humanize': None, 'nade-drums_2bar_reduced': None,
    'hierdec-mel_16bar': 'enc_rnn_sizes',   # two encoder layers (and a flat encoder)
    'hier-mel_16bar': 'enc_rnn_sizes',      # two layers per encoder level
}


@pytest.mark.parametrize('name', sorted(MAGENTA_FIXTURES))
def test_magentas_own_weights_as_a_magentajs_checkpoint(name, tmp_path):
  """Magenta's own TF variables written as a magenta.js folder read back to
  the same variables, and our mapping writes exactly Magenta's names back;
  where magenta.js can read the model, the config.json we write for its
  config reads back as the same model (the golden tests check these weights'
  mu)."""
  folder = FIXTURES / name
  if not folder.is_dir():
    pytest.skip(f'no Magenta fixture {folder}')
  prefix = folder / (folder / 'checkpoint_name.txt').read_text().strip()
  variables = tf_bundle.read_checkpoint(prefix, skip_optimizer=True)
  variables.pop('global_step', None)
  js = tmp_path / name
  tfjs.write_weights(variables, js, shard_bytes=1 << 20)
  back = tfjs.read_weights(js)
  assert back.keys() == variables.keys()
  for key in variables:
    np.testing.assert_array_equal(back[key], variables[key], err_msg=key)
  params = magenta_params.magenta_to_params(back)
  written = magenta_params.params_to_magenta(params)  # the exporter's inverse mapping
  assert written.keys() == back.keys()
  assert all(np.array_equal(written[k], back[k]) for k in back)
  config = convert.config_for(name)
  convert.apply_sizes(config, magenta_params.sizes_from_params(params))
  if MAGENTA_FIXTURES[name]:
    with pytest.raises(UnsupportedCapabilityError,
                         match=rf'does not support export_magentajs: config\.{MAGENTA_FIXTURES[name]}='):
      tfjs.spec_from_config(config)
    return
  spec = json.loads(json.dumps(tfjs.spec_from_config(config)))
  again = tfjs.config_from_spec(spec)
  convert.apply_sizes(again, magenta_params.sizes_from_params(params))
  for key in ('output_family', 'encoding', 'slice_bars', 'use_hier', 'split_decoder',
              'encoder_levels', 'controls', 'z_size', 'enc_rnn_sizes', 'dec_rnn_sizes'):
    assert again.get(key) == config.get(key), key


def test_bad_manifest_names_the_file(tmp_path):
  (tmp_path / 'weights_manifest.json').write_text(json.dumps(
      [{'paths': ['group1-shard1of1'], 'weights': [
          {'name': 'encoder/mu/bias', 'shape': [8], 'dtype': 'float32'}]}]))
  with pytest.raises(tfjs.TfjsFormatError, match='group1-shard1of1: weight shard .* missing'):
    tfjs.read_weights(tmp_path)
  (tmp_path / 'group1-shard1of1').write_bytes(b'\0' * 16)
  with pytest.raises(tfjs.TfjsFormatError, match='encoder/mu/bias needs bytes 0..32'):
    tfjs.read_weights(tmp_path)


# -- every family: export, read back, refuse what magenta.js cannot represent ----

# name -> (config, overrides): tiny models of every family magenta.js has.
CASES = {
    'melody': ('mel_2bar.py:tiny', {}),
    'chords': ('mel_2bar_chords.py:tiny', {}),
    'multicontrol': ('mel_2bar_multicontrol.py:tiny', {'control_preprocessing_size': 6}),
    'drums': ('drums_2bar.py:tiny', {}),
    'trio_flat': ('trio_16bar.py:tiny', {'use_hier': False, 'split_decoder': True,
                                         'slice_bars': 2}),
    'trio_hier': ('hier_trio_16bar.py:tiny', {'slice_bars': 4, 'n_subsequences': 4,
                                              'encoder_levels': (16, 4)}),
    'multitrack': ('multiperf.py:tiny', {}),
    'multitrack_chords': ('multiperf.py:tiny_chords', {}),
    'groove_humanize': ('groovae_2bar_humanize.py:tiny', {}),
    'groove_tap': ('groovae_2bar_tap_fixed_velocity.py:tiny', {}),
    'groove_hits': ('groovae_2bar_hits_control.py:tiny', {}),
    'nade': ('nade_drums_2bar.py:tiny', {}),
    'nade_full': ('nade_drums_2bar.py:full_tiny', {}),
    'rhythm': ('mel_rhythm_2bar.py:tiny', {}),
    'shape': ('mel_shape_2bar.py:tiny', {}),
}
# The config.json each case must give (pitchClasses, long lists, checked apart).
EXPECTED = {
    'melody': {'dataConverter': {'type': 'MelodyConverter', 'args': {
        'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}},
    'chords': {'dataConverter': {'type': 'MelodyConverter', 'args': {
        'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}, 'chordEncoder': 'TriadChordEncoder'},
    'multicontrol': {'dataConverter': {'type': 'MelodyConverter', 'args': {
        'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}, 'chordEncoder': 'TriadChordEncoder',
        'extraControls': [{'name': 'rhythm', 'depth': 1}, {'name': 'shape', 'depth': 3},
                          {'name': 'register', 'depth': 4}]},
    'drums': {'dataConverter': {'type': 'DrumsConverter', 'args': {'numSteps': 32}}},
    'trio_flat': {'dataConverter': {'type': 'TrioConverter', 'args': {
        'numSteps': 32, 'melArgs': {'minPitch': 21, 'maxPitch': 108},
        'bassArgs': {'minPitch': 21, 'maxPitch': 108}, 'drumsArgs': {}}}},
    'trio_hier': {'dataConverter': {'type': 'TrioConverter', 'args': {
        'numSteps': 64, 'numSegments': 4, 'melArgs': {'minPitch': 21, 'maxPitch': 108},
        'bassArgs': {'minPitch': 21, 'maxPitch': 108}, 'drumsArgs': {}}}},
    'multitrack': {'dataConverter': {'type': 'MultitrackConverter', 'args': {
        'numSteps': 512, 'numSegments': 8, 'stepsPerQuarter': 24, 'totalSteps': 96,
        'numVelocityBins': 8}}},
    'multitrack_chords': {'dataConverter': {'type': 'MultitrackConverter', 'args': {
        'numSteps': 512, 'numSegments': 8, 'stepsPerQuarter': 24, 'totalSteps': 96,
        'numVelocityBins': 8}}, 'chordEncoder': 'TriadChordEncoder'},
    'groove_humanize': {'dataConverter': {'type': 'GrooveConverter', 'args': {
        'numSteps': 32, 'humanize': True}}},
    'groove_tap': {'dataConverter': {'type': 'GrooveConverter', 'args': {
        'numSteps': 32, 'tapify': True}}},
    'groove_hits': {'dataConverter': {'type': 'GrooveConverter', 'args': {'numSteps': 32}},
                    'extraControls': [{'name': 'hits', 'depth': 9}]},
    'nade': {'dataConverter': {'type': 'DrumRollConverter', 'args': {'numSteps': 32}}},
    'nade_full': {'dataConverter': {'type': 'DrumRollConverter', 'args': {'numSteps': 32}}},
    'rhythm': {'dataConverter': {'type': 'MelodyRhythmConverter', 'args': {
        'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}, 'useBooleanDecoder': True},
    'shape': {'dataConverter': {'type': 'MelodyShapeConverter', 'args': {
        'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}},
}
NOTE_SEQ_DRUMS = [[36, 35], [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
                  [42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22], [46, 67, 72, 74, 79, 81, 26],
                  [45, 29, 41, 43, 61, 64, 84], [48, 47, 60, 63, 77, 86, 87],
                  [50, 30, 62, 76, 83], [49, 52, 55, 57, 58], [51, 53, 59, 82]]


# Cases whose parameters are drawn wider, so that their greedy decodes vary
# (at 0.2 the tiny rhythm model's logits are all below 0: an all-zero decode;
# its output bias is also set to 0, `_model`).
PARAM_SCALE = {'rhythm': 1.0, 'shape': 1.0}


@functools.lru_cache(maxsize=None)
def _model(name: str) -> TrainedModel:
  """A tiny model of case `name` with random parameters (N(0, 0.2) or
  `PARAM_SCALE`, biases included, so a misplaced tensor shows)."""
  spec, overrides = CASES[name]
  config = config_base.load_config_file(spec)
  for key, value in overrides.items():
    config[key] = value
  model = family.get(config).trained_model_class()(config, None)
  rng = np.random.default_rng(0)
  scale = PARAM_SCALE.get(name, 0.2)
  model.params = jax.tree.map(
      lambda x: rng.normal(0.0, scale, x.shape).astype(np.float32),
      model._abstract_state().params)
  if name == 'rhythm':   # logits around 0: bits on and off
    model.params['decoder']['output_projection']['bias'] = np.zeros((1,), np.float32)
  return model


@functools.lru_cache(maxsize=None)
def _exported(name: str, root: Path) -> Path:
  return export.export_model(_model(name), root / name)


@pytest.fixture(scope='module')
def js_root(tmp_path_factory) -> Path:
  return tmp_path_factory.mktemp('families')


@pytest.mark.parametrize('name', sorted(CASES))
def test_family_config_json_is_what_magentajs_reads(name, js_root):
  spec = json.loads((_exported(name, js_root) / 'config.json').read_text())
  args = spec['dataConverter']['args']
  drum_args = args['drumsArgs'] if 'drumsArgs' in args else args
  if name == 'nade_full':
    assert drum_args.pop('pitchClasses') == [[p] for c in [
        [36, 35], [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
        [42, 44, 54, 68, 69, 70, 71, 73, 78, 80], [46, 67, 72, 74, 79, 81],
        [45, 29, 41, 61, 64, 84], [48, 47, 60, 63, 77, 86, 87], [50, 30, 43, 62, 76, 83],
        [49, 55, 57, 58], [51, 52, 53, 59, 82]] for p in c]   # Magenta's 61 classes
  elif 'pitchClasses' in drum_args or name.startswith(('drums', 'trio', 'groove', 'nade')):
    assert drum_args.pop('pitchClasses') == NOTE_SEQ_DRUMS
  assert spec == {'type': 'MusicVAE', **EXPECTED[name]}


# One case per parameter layout and config.json shape (multitrack's and the
# other GrooVAE / NADE cases differ only in what test_config_json_round_trip
# covers), to keep the file's time down.
CONVERT_BACK = ['melody', 'chords', 'multicontrol', 'drums', 'trio_flat', 'trio_hier',
                'multitrack_chords', 'groove_tap', 'groove_hits', 'nade_full', 'rhythm',
                'shape']


@pytest.mark.parametrize('name', CONVERT_BACK)
def test_family_export_converts_back_to_the_same_model(name, js_root, tmp_path):
  """convert_magenta on the exported folder: same family, encoding, structure
  and sizes, and identical parameters."""
  model = _model(name)
  folder = _exported(name, js_root)
  workdir = convert.convert_checkpoint('', str(folder), tmp_path / 'run')
  config = checkpoints.load_config(workdir)
  keys = ['output_family', 'encoding', 'slice_bars', 'steps_per_quarter', 'use_hier',
          'split_decoder', 'encoder_levels', 'controls', 'z_size', 'enc_rnn_sizes',
          'dec_rnn_sizes', 'control_preprocessing_size']
  if model.config.use_hier:
    keys += ['n_subsequences', 'conductor_rnn_sizes']
  keys += {'drums': ['drum_roll_input'],
           'multiperf': ['max_num_instruments', 'max_events_per_instrument'],
           'groove': ['groove_humanize', 'groove_tapify', 'groove_fixed_velocities',
                      'groove_hits_as_controls'],
           'drum_roll': ['drum_pitch_classes', 'nade_num_hidden']}.get(model.config.encoding, [])
  for key in keys:
    assert config.get(key) == model.config.get(key), key
  back = TrainedModel.from_workdir(workdir)
  assert type(back) is type(model)
  ours, theirs = _flat(model.params), _flat(back.params)
  assert ours.keys() == theirs.keys()
  for key in ours:
    np.testing.assert_array_equal(theirs[key], ours[key], err_msg=key)


@pytest.mark.parametrize('spec, overrides, key', [
    ('hier.py:tiny', {}, 'encoder_levels'),                  # hierdec: flat encoder
    ('trio_16bar.py:tiny', {}, 'encoder_levels'),
    ('trio_16bar.py:tiny', {'use_hier': False, 'split_decoder': False}, 'split_decoder'),
    ('flat_16bar.py:full', {}, 'enc_rnn_sizes'),
    ('hier_mel_16bar.py:tiny', {'encoder_levels': (64, 4)}, 'encoder_levels'),
    ('mel_2bar.py:tiny', {'encoder_levels': (16, 2)}, 'encoder_levels'),
    ('mel_2bar.py:tiny', {'encoder_embed_size': 8}, 'encoder_embed_size'),
    ('mel_2bar.py:tiny', {'decoder_embed_size': 8}, 'decoder_embed_size'),
    ('mel_2bar.py:tiny', {'forget_bias': 0.0}, 'forget_bias'),
    ('mel_2bar.py:tiny', {'steps_per_quarter': 8}, 'steps_per_quarter'),
    ('mel_2bar.py:tiny', {'split_decoder': True}, 'split_decoder'),
    ('hier_mel_16bar.py:tiny', {'conductor_embed_size': 4}, 'conductor_embed_size'),
    ('groovae_2bar_add_closed_hh.py:tiny', {}, 'groove_add_instruments'),
    ('groovae_2bar_tap_fixed_velocity_note_dropout.py:tiny', {},
     'groove_max_note_dropout_probability'),
    ('groovae_2bar_tap_fixed_velocity.py:tiny', {'groove_fixed_velocities': False},
     'groove_tapify'),
    ('groovae_4bar.py:tiny', {'groove_fixed_velocities': True}, 'groove_fixed_velocities'),
    ('nade_drums_2bar.py:tiny', {'steps_per_quarter': 8}, 'steps_per_quarter'),
])
def test_what_magentajs_cannot_represent_fails_naming_the_key(spec, overrides, key, tmp_path):
  config = config_base.load_config_file(spec)
  for k, v in overrides.items():
    config[k] = v
  with pytest.raises(UnsupportedCapabilityError,
                     match=rf'family \(.*\) does not support export_magentajs: config\.{key}=') as error:
    tfjs.write_checkpoint(config, {}, tmp_path / 'out')
  assert '\n' not in str(error.value)
  assert not (tmp_path / 'out').exists()       # nothing written


def test_an_unknown_family_is_named_before_anything_is_written(tmp_path):
  config = config_base.load_config_file('mel_2bar.py:tiny')
  config.output_family = 'other'
  with pytest.raises(ValueError, match=r"^config\.output_family='other': unknown"):
    tfjs.write_checkpoint(config, {}, tmp_path / 'out')
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('spec', [
    'mel_2bar.py:small', 'mel_2bar.py:big', 'hier_mel_16bar.py:tiny', 'drums_2bar.py:small',
    'hier_trio_16bar.py:full', 'mel_2bar_chords.py:med', 'multiperf.py:med',
    'multiperf.py:big_chords', 'groovae_2bar_humanize.py:magenta', 'groovae_4bar.py:magenta',
    'groovae_2bar_tap_fixed_velocity.py:magenta', 'groovae_2bar_hits_control.py:magenta',
    'nade_drums_2bar.py:reduced', 'nade_drums_2bar.py:full'])
def test_config_json_round_trip(spec):
  config = config_base.load_config_file(spec)
  js = tfjs.spec_from_config(config)
  back = tfjs.config_from_spec(json.loads(json.dumps(js)))
  for key in ('output_family', 'encoding', 'slice_bars', 'use_hier', 'split_decoder',
              'encoder_levels', 'controls', 'steps_per_quarter', 'drum_roll_input',
              'drum_pitch_classes', 'groove_humanize', 'groove_tapify',
              'groove_fixed_velocities', 'groove_hits_as_controls'):
    assert back.get(key) == config.get(key), key
  if config.use_hier:
    assert back.n_subsequences == config.n_subsequences


def test_config_json_we_cannot_map_fails_in_one_line():
  for spec, match in [
      ({'dataConverter': {'type': 'TrioRhythmConverter', 'args': {}}}, 'not supported'),
      ({'dataConverter': {'type': 'MelodyRhythmConverter', 'args': {'numSteps': 32}}},
       'needs useBooleanDecoder=true'),
      ({'dataConverter': {'type': 'MelodyShapeConverter', 'args': {'numSteps': 32}},
        'useBooleanDecoder': True}, 'useBooleanDecoder=true: no model here reads a '
       'BooleanDecoder over a MelodyShapeConverter'),
      ({'dataConverter': {'type': 'MelodyRhythmConverter', 'args': {'numSteps': 64,
                                                                    'numSegments': 4}},
        'useBooleanDecoder': True}, 'only flat rhythm / shape'),
      ({'dataConverter': {'type': 'GrooveConverter', 'args': {'numSteps': 32,
                                                              'splitInstruments': True}}},
       'splitInstruments'),
      ({'dataConverter': {'type': 'MelodyConverter', 'args': {'numSteps': 32}},
        'chordEncoder': 'PitchChordEncoder'}, 'PitchChordEncoder'),
      ({'dataConverter': {'type': 'MelodyConverter', 'args': {'numSteps': 32}},
        'conditionOnKey': True}, 'conditionOnKey'),
      ({'dataConverter': {'type': 'DrumRollConverter', 'args': {
          'numSteps': 32, 'pitchClasses': [[36]]}}}, 'pitchClasses'),
      ({'dataConverter': {'type': 'MultitrackConverter', 'args': {'numSteps': 512}}},
       'numSegments')]:
    with pytest.raises(tfjs.TfjsFormatError, match=match) as error:
      tfjs.config_from_spec(spec)
    assert '\n' not in str(error.value)


def _imports(path: Path) -> set[str]:
  """Every module a file imports, function-local imports included."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      found.add(node.module)
      found.update(f'{node.module}.{alias.name}' for alias in node.names)
  return found


def test_magenta_modules_import_downwards_only():
  """tfjs.py reads and writes folders with params.py and numpy, and reaches
  the families' spec modules through the family table only (no trained
  model, no checkpoints layer, no convert.py: no circle); params.py and
  js_limits.py import nothing of ours; family spec modules import only
  js_limits.py of the magenta package."""
  magenta = REPO / 'musicvae_jax' / 'magenta'
  ours = lambda names: {n for n in names if n.startswith('musicvae_jax')}
  assert ours(_imports(magenta / 'tfjs.py')) <= {
      'musicvae_jax.magenta.params', 'musicvae_jax.magenta.params.params_to_magenta',
      'musicvae_jax.family', 'musicvae_jax', 'musicvae_jax.config_base'}
  assert not ours(_imports(magenta / 'params.py'))
  assert not ours(_imports(magenta / 'js_limits.py'))
  for name in family.FAMILIES:
    names = ours(_imports(REPO / 'musicvae_jax' / 'families' / name / 'magentajs.py'))
    assert {n for n in names if n.startswith('musicvae_jax.magenta')} <= {
        'musicvae_jax.magenta', 'musicvae_jax.magenta.js_limits'}, name


# -- the real client -------------------------------------------------------------

# Our decode at this temperature is the argmax (a categorical sample adds Gumbel
# noise to logits / temperature; at 1e-5 near-ties of 512 or 490 classes flip).
GREEDY = 1e-12


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):
    pass


def _run_magentajs(folder: Path, request: dict, tmp_path: Path) -> dict:
  """magentajs_check.js on the checkpoint `folder` (served over HTTP)."""
  modules = _node_modules()
  (tmp_path / 'input.json').write_text(json.dumps(request))
  handler = functools.partial(_QuietHandler, directory=str(folder))
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
  return json.loads(done.stdout.strip().splitlines()[-1][len('RESULT '):])


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


def _latents(mu, seed=1):
  """The inputs' mu and two draws from the prior."""
  extra = np.random.default_rng(seed).standard_normal((2, mu.shape[1]))
  return np.concatenate([mu, extra]).astype(np.float32)


def test_magentajs_loads_our_export_and_gives_our_mu_and_greedy_decode(exported, tmp_path):
  """A trained melody run, exported from its workdir: tensors and NoteSequences."""
  out, model = exported
  windows = np.array([
      [2 + 39, 0, 0, 1, 2 + 41, 0, 2 + 43, 0] * 4,
      [2 + 48, 0, 0, 0, 0, 0, 0, 0, 2 + 47, 0, 2 + 45, 0, 1, 0, 0, 0] * 2,
      [2 + 36 + (i % 12) for i in range(32)],
  ], np.int32)
  _, mu, _ = model.encode_tensors(windows)
  z = _latents(mu, 0)
  greedy = model.decode_to_tensors(z, temperature=GREEDY)
  result = _run_magentajs(out, {
      'tokens': windows[..., None].tolist(), 'part_depths': [90], 'decode_depths': [90],
      'z': z.tolist(), 'sequences': [_melody_note_sequence(w) for w in windows]}, tmp_path)
  assert result['z_size'] == mu.shape[1]
  np.testing.assert_allclose(result['mu'], mu, atol=2e-5)
  np.testing.assert_allclose(result['mu_sequences'], mu, atol=2e-5)
  np.testing.assert_array_equal(result['decoded'], greedy)


def _random_tokens(rng, model, batch):
  if model.config.encoding == 'multiperf':
    from musicvae_jax.data import multiperf
    slots, steps = model.config.max_num_instruments, model.config.max_events_per_instrument
    tokens = np.full((batch, slots, steps), -1, np.int64)
    for b in range(batch):
      for s in range(slots):
        length = steps if s == 0 else int(rng.integers(1, steps + 1))
        tokens[b, s, length - 1] = multiperf.END_TOKEN
        if length > 1:
          tokens[b, s, 0] = multiperf.FIRST_PROGRAM_TOKEN + rng.integers(0, 129)
          tokens[b, s, 1:length - 1] = rng.integers(0, multiperf.NUM_EVENT_CLASSES, length - 2)
    return tokens.reshape(batch, slots * steps, 1)
  steps = config_base.sequence_length(model.config)
  return np.stack([rng.integers(0, d, (batch, steps)) for d in model.spec.part_depths], -1)


def _multicontrol(model, rng):
  """(magenta.js control_args, our int controls [T, 4]) for a multicontrol
  model: chords and the rhythm, shape and register of a random melody."""
  from musicvae_jax.data import melody_controls as mc
  symbols, chord_column = _chords(model)
  events = np.where(rng.random(32) < 0.4, rng.integers(2, 90, 32), 0)
  extra = {'rhythm': mc.rhythm(events), 'shape': mc.shape(events),
           'register': mc.register(events)}
  controls = np.concatenate([chord_column, mc.melody_control_classes(events[None])[0]], -1)
  return ({'chordProgression': symbols,
           'extraControls': {k: v.tolist() for k, v in extra.items()}}, controls)


def _chords(model):
  """(magenta.js chordProgression, our int controls [T, 1]) or (None, None)."""
  if not model.config.get('controls', ''):
    return None, None
  from musicvae_jax.data import chords
  steps = config_base.sequence_length(model.config)
  if model.config.encoding == 'multiperf':   # one chord; each slot starts with N.C.
    slot = [chords.NO_CHORD_CLASS] + [chords.chord_class('Am')] * (
        model.config.max_events_per_instrument - 1)
    return ['Am'], np.array(slot * model.config.max_num_instruments)[:, None]
  symbols = ['C', 'Am', 'F', 'G']
  return symbols, np.repeat([chords.chord_class(c) for c in symbols], steps // 4)[:, None]


def _family_request(name: str, rng):
  """(request for magentajs_check.js, our mu, our greedy decode) for case `name`."""
  return _family_request_for(_model(name), rng)


def _family_request_for(model: TrainedModel, rng):
  """(request for magentajs_check.js, our mu, our greedy decode) for `model`."""
  family = model.config.output_family
  steps = config_base.sequence_length(model.config)
  batch = 3
  if family == 'categorical':
    tokens = _random_tokens(rng, model, batch)
    if model.config.controls == 'multicontrol':
      control_args, controls = _multicontrol(model, rng)
      progression = None
    else:
      control_args = None
      progression, controls = _chords(model)
    _, mu, _ = model.encode_tensors(tokens, controls=controls)
    z = _latents(mu)
    ours = model.decode_to_tensors(z, temperature=GREEDY, controls=controls)
    depths = list(model.spec.part_depths)
    request = {'tokens': tokens.tolist(), 'part_depths': depths, 'decode_depths': depths,
               'per_example': model.config.encoding == 'multiperf'}
    if progression:
      request['control_args'] = {'chordProgression': progression}
    if control_args:
      request['control_args'] = control_args
  elif family == 'nade':
    bits = (rng.random((batch, steps, model.spec.num_parts)) < 0.2).astype(np.float32)
    features = np.concatenate([bits, 1.0 - bits.max(-1, keepdims=True)], -1)
    _, mu, _ = model.encode_tensors(features)
    z = _latents(mu)
    ours = model.decode_to_tensors(z, temperature=GREEDY)
    request = {'features': features.tolist()}
  else:  # groove: encoder inputs as the config's transformations leave them
    hits = (rng.random((batch, steps, 9)) < 0.3).astype(np.float32)
    velocities = hits * rng.random(hits.shape).astype(np.float32)
    offsets = hits * rng.uniform(-1, 1, hits.shape).astype(np.float32)
    if model.config.groove_humanize:
      velocities, offsets = 0 * velocities, 0 * offsets
    features = np.concatenate([hits, velocities, offsets], -1)
    controls = None
    request = {'features': features.tolist()}
    if model.config.groove_hits_as_controls:
      target_hits = (rng.random((steps, 9)) < 0.3).astype(np.float32)
      controls = np.broadcast_to(target_hits, (batch + 2, steps, 9))
      request['control_args'] = {'extraControls': {'hits': target_hits.tolist()}}
    _, mu, _ = model.encode_tensors(features, controls=None if controls is None
                                    else controls[:batch])
    z = _latents(mu)
    ours = model.decode_to_tensors(z, temperature=GREEDY, controls=controls)
  request['z'] = z.tolist()
  return request, mu, ours


# The families the Node test loads (each with magenta.js' own decoder class).
NODE_CASES = ['melody', 'chords', 'multicontrol', 'trio_flat', 'trio_hier', 'multitrack',
              'multitrack_chords', 'groove_humanize', 'groove_hits', 'nade']


@pytest.mark.parametrize('name', NODE_CASES)
def test_magentajs_reads_every_family_as_we_do(name, js_root, tmp_path):
  """@magenta/music loads the export: the same mu (2e-5) and the same greedy
  decode (tokens, NADE bits, GrooVAE hits; GrooVAE velocities and offsets to
  1e-4) as our TrainedModel on the same inputs, controls included."""
  _node_modules()
  folder = _exported(name, js_root)
  request, mu, ours = _family_request(name, np.random.default_rng(2))
  result = _run_magentajs(folder, request, tmp_path)
  theirs = np.asarray(result['decoded'])
  report = f'{name}: mu max |error| {np.max(np.abs(np.asarray(result["mu"]) - mu)):.1e}'
  same = theirs == ours
  if _model(name).config.output_family == 'groove':
    report += f', velocity/offset max |error| {np.max(np.abs(theirs[..., 9:] - ours[..., 9:])):.1e}'
    same = same[..., :9]
  print(f'{report}, decode {theirs.shape}: {np.mean(same):.0%} of tokens / bits / hits equal')
  assert result['z_size'] == mu.shape[1]
  np.testing.assert_allclose(result['mu'], mu, atol=2e-5)
  if _model(name).config.output_family == 'groove':
    np.testing.assert_array_equal(theirs[..., :9], ours[..., :9])
    np.testing.assert_allclose(theirs[..., 9:], ours[..., 9:], atol=1e-4)
  else:
    np.testing.assert_array_equal(theirs, ours)


# -- a melody's rhythm (BooleanDecoder) and shape alone ----------------------------

# 2-bar melodies (tokens: 2 + pitch - 21, 1 note off, 0 hold): steps, leaps, a
# repeated note, rests, and two notes at once (the higher one is the melody).
RHYTHM_SHAPE_MELODIES = [
    [41, 0, 0, 0, 43, 0, 45, 0, 43, 0, 0, 1, 41, 0, 41, 0] * 2,
    [50, 0, 1, 0, 48, 0, 0, 0, 46, 0, 46, 0, 53, 0, 0, 0,
     41, 0, 0, 0, 0, 0, 0, 0, 48, 0, 1, 0, 0, 0, 55, 0],
    [36 + (i * 5) % 13 for i in range(32)],
]


def _rhythm_shape_request(name: str):
  """(request, our mu of the melodies' windows, our greedy decode, our
  windows of the melodies as NoteSequences) for case 'rhythm' or 'shape'."""
  return _rhythm_shape_request_for(_model(name))


def _rhythm_shape_request_for(model: TrainedModel):
  """`_rhythm_shape_request` for a rhythm or shape `model`."""
  from musicvae_jax.data import converters
  melodies = np.array(RHYTHM_SHAPE_MELODIES)
  melody_converter = converters.MelodyConverter(valid_programs=None)
  windows = np.concatenate([
      model.converter.to_windows(melody_converter.to_note_sequence(m)) for m in melodies])
  _, mu, _ = model.encode_tensors(windows)
  z = _latents(mu)
  ours = model.decode_to_tensors(z, temperature=GREEDY)
  sequences = [_melody_note_sequence(m) for m in melodies]
  sequences[2]['notes'].append({'pitch': 40, 'velocity': 80, 'quantizedStartStep': 0,
                                'quantizedEndStep': 3})   # under the melody's first note
  request = {'z': z.tolist(), 'sequences': sequences, 'tensor_sequences': sequences}
  if model.spec.bits:   # magenta.js reads and writes the bits as values [T, 1]
    request['features'] = windows.astype(np.float32).tolist()
  else:
    request.update({'tokens': windows.tolist(), 'part_depths': [3], 'decode_depths': [3]})
  return request, mu, ours, windows


@pytest.mark.parametrize('name', ['rhythm', 'shape'])
def test_magentajs_reads_rhythm_and_shape_models_as_we_do(name, js_root, tmp_path):
  """@magenta/music loads the exported rhythm (BooleanDecoder) and shape
  models: its MelodyRhythmConverter / MelodyShapeConverter turn the
  NoteSequences into our windows (toTensor), and it gives our mu (1e-4) of
  them and our greedy decodes (`logit >= 0` bits; argmax classes)."""
  _node_modules()
  folder = _exported(name, js_root)
  request, mu, ours, windows = _rhythm_shape_request(name)
  assert len(windows) == len(RHYTHM_SHAPE_MELODIES)
  result = _run_magentajs(folder, request, tmp_path)
  tensors = np.asarray(result['tensors'])
  if name == 'rhythm':
    np.testing.assert_array_equal(tensors, windows)
  else:
    np.testing.assert_array_equal(tensors, np.eye(3)[windows[..., 0]])
  print(f'{name}: mu max |error| {np.max(np.abs(np.asarray(result["mu"]) - mu)):.1e}')
  np.testing.assert_allclose(result['mu'], mu, atol=1e-4)
  np.testing.assert_allclose(result['mu_sequences'], mu, atol=1e-4)
  assert len(np.unique(ours)) == (2 if name == 'rhythm' else 3)   # decodes that vary
  np.testing.assert_array_equal(np.asarray(result['decoded']), ours)


# -- magenta.js' published control models, where a copy is at hand -----------------

# The twelve checkpoints of issue 26 (magenta-js checkpoints.json 04d89f7, reverted
# the next day; download_magenta.NOT_READABLE): not downloadable where this was
# written. Put the folders (config.json, weights_manifest.json, shards) under
# $MUSICVAE_MAGENTAJS_CHECKPOINTS or ../shared/fixtures/magentajs/ to run these.
PUBLISHED = ([f'mel_2bar_multicontrol_tiny_fb{fb}' for fb in (0, 8, 16, 32)]
             + [f'mel_rhythm_2bar_tiny_fb{fb}' for fb in (0, 8, 16, 32)]
             + [f'mel_shape_2bar_tiny_fb{fb}' for fb in (0, 8, 16, 32)])


def _published_folder(name: str) -> Path:
  root = Path(os.environ.get('MUSICVAE_MAGENTAJS_CHECKPOINTS',
                             REPO.parent / 'shared' / 'fixtures' / 'magentajs'))
  folder = root / name
  if not (folder / 'config.json').is_file():
    pytest.skip(f'{folder}: not present (magenta.js\' published {name}; see PUBLISHED)')
  return folder


def test_the_published_names_are_the_catalogues():
  from musicvae_jax import download_magenta
  assert sorted(PUBLISHED) == sorted(u.name for u in download_magenta.NOT_READABLE)


@pytest.mark.parametrize('name', PUBLISHED)
def test_a_published_control_model_converts_and_matches_magentajs(name, tmp_path):
  """convert_magenta reads magenta.js' own folder; @magenta/music on that
  folder gives our mu (1e-4) and our greedy decodes on the same inputs."""
  folder = _published_folder(name)
  _node_modules()
  model = TrainedModel.from_workdir(
      convert.convert_checkpoint('', str(folder), str(tmp_path / 'converted')))
  if model.config.encoding in ('melody_rhythm', 'melody_shape'):
    request, mu, ours, _ = _rhythm_shape_request_for(model)
  else:
    assert model.config.controls == 'multicontrol', name
    request, mu, ours = _family_request_for(model, np.random.default_rng(2))
  result = _run_magentajs(folder, request, tmp_path)
  print(f'{name}: mu max |error| {np.max(np.abs(np.asarray(result["mu"]) - mu)):.1e}')
  np.testing.assert_allclose(result['mu'], mu, atol=1e-4)
  np.testing.assert_array_equal(np.asarray(result['decoded']), ours)
