"""The family x capability matrix: every config in configs/ (its `tiny`
variant) against every capability of `family.CAPABILITIES`.

A cell passes when its capability works end to end on a small generated
corpus (melody, chords, bass and drums with micro-timing), or is declared
unsupported by the family, in which case asking for it must fail with one
`UnsupportedCapabilityError` line naming the family and the capability. One
test per config (the cells share its trained run); the cells' results are
written to `capability_results_<config>.json` beside the run. The table in
docs/capabilities.md and README.md is generated from the same declarations
(`scripts/capability_table.py`) and checked here, so it cannot drift.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import jax
import numpy as np
import pytest

from conftest import write_midi
from musicvae_jax import config_base, config_files, evaluate, family, generate, render, trainer
from musicvae_jax.errors import UnsupportedCapabilityError
from musicvae_jax.magenta import convert, export, params, tf_bundle
from musicvae_jax.studio.engine import Studio
from musicvae_jax.trained_model import TrainedModel

import scripts_as_modules

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [f'{name}.py' for name in config_files.names()]
FIXTURES = ROOT.parent / 'shared' / 'fixtures' / 'magenta'
BAR = 2.0     # seconds per 4/4 bar at 120 qpm
BARS = 18     # enough for the 16-bar configs' windows (3 per file)

# One triad per bar (C, F, G, Am, ...), melody above, bass on the root.
PROGRESSION = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (57, 60, 64)]


def _song(path: Path, variant: int) -> Path:
  """An 18-bar 4/4 song: melody (program 0), block chords (program 1), bass
  (program 33) and drums (kick, snare, closed hat) played a few ms around
  the grid with varied velocities, as GrooVAE's data is."""
  rng = np.random.default_rng(variant)
  melody, chords, bass, drums = [], [], [], []
  for bar in range(BARS):
    triad = PROGRESSION[(bar + variant) % len(PROGRESSION)]
    t0 = bar * BAR
    chords += [(p - 12, t0, t0 + BAR - 0.05, 70) for p in triad]
    bass += [(triad[0] - 24, t0 + b * 0.5, t0 + b * 0.5 + 0.45, 90) for b in range(4)]
    for e in range(8):   # eighth notes, chord tones and passing notes
      pitch = triad[(e + variant) % 3] + 12 + (2 if (e + bar) % 5 == 0 else 0)
      melody.append((pitch, t0 + e * 0.25, t0 + e * 0.25 + 0.22, 100))
    for e in range(8):
      jitter = float(rng.uniform(-0.012, 0.012))
      start = max(0.0, t0 + e * 0.25 + jitter)
      drums.append((42, start, start + 0.1, int(rng.integers(50, 110))))
      if e in (0, 4):
        drums.append((36, max(0.0, t0 + e * 0.25 + jitter / 2), t0 + e * 0.25 + 0.1, 120))
      if e in (2, 6):
        drums.append((38, t0 + e * 0.25 + jitter, t0 + e * 0.25 + 0.1, 100))
  return write_midi(path, melody, program=0, qpm=120.0,
                    extra_tracks=((chords, 1, False), (bass, 33, False),
                                  (drums, 0, True)))


@pytest.fixture(scope='module')
def corpus(tmp_path_factory) -> Path:
  root = tmp_path_factory.mktemp('capability_corpus')
  for i in range(6):
    _song(root / 'train' / f'song_{i}.mid', i)
  for i in range(2):
    _song(root / 'eval' / f'song_{i}.mid', 10 + i)
  return root


def tiny_config(name: str, corpus: Path, cache: Path):
  config = config_base.load_config_file(f'{name}:tiny')
  config.train_dir, config.eval_dir = str(corpus / 'train'), str(corpus / 'eval')
  config.cache_dir = str(cache)
  config.num_workers = 1
  config.num_steps = 2
  config.eval_batches = 1
  config_base.set_intervals(config, log=1, evaluate=2, checkpoint=2, advanced=2)
  return config


def _tensorboard_tags(folder: Path) -> set[str]:
  from test_tensorboard import read_events
  return {v.tag for e in read_events(folder) for v in e.summary.value}


def _same_params(a, b) -> None:
  flat_a = jax.tree_util.tree_leaves_with_path(a)
  flat_b = dict(jax.tree_util.tree_leaves_with_path(b))
  assert len(flat_a) == len(flat_b)
  for path, value in flat_a:
    np.testing.assert_array_equal(np.asarray(value), np.asarray(flat_b[path]),
                                  err_msg=jax.tree_util.keystr(path))


def _check_wav(path: Path) -> None:
  with wave.open(str(path)) as w:
    frames = np.frombuffer(w.readframes(w.getnframes()), np.int16)
  assert len(frames) > 0


# -- the cells ------------------------------------------------------------------
def cell_train(ctx):
  """A few steps writing samples (MIDI), audio, piano rolls and histograms,
  then a resume that continues from the saved step."""
  config, workdir = ctx['config'], ctx['workdir']
  assert trainer.train_and_evaluate(config, workdir)['step'] == 2
  assert sorted((workdir / 'samples' / 'step_0000002').glob('*.mid'))
  tags = _tensorboard_tags(workdir / 'tensorboard')
  for prefix in ('samples/audio_', 'samples/piano_roll_', 'params/', 'gradients/'):
    assert any(t.startswith(prefix) for t in tags), prefix
  resumed = config.copy_and_resolve_references()
  resumed.num_steps = 4
  assert trainer.train_and_evaluate(resumed, workdir)['step'] == 4
  assert sorted((workdir / 'samples' / 'step_0000004').glob('*.mid'))
  ctx['model'] = TrainedModel.from_workdir(workdir)
  assert ctx['model'].step == 4


def cell_evaluate(ctx):
  report = evaluate.evaluate(str(ctx['workdir']), num_samples_k=2, seeds=1,
                             max_batches=1, progress=False)
  assert report['windows'] > 0 and np.isfinite(report['reconstruction_loss_per_sequence'])
  assert np.isfinite(report['family_metrics']['loss'])
  assert report['model']['output_family'] == family.name_of(ctx['config'])


def _generate_cell(mode):
  def cell(ctx):
    model, corpus = ctx['model'], ctx['corpus']
    song_1, song_2 = (str(p) for p in sorted((corpus / 'eval').glob('*.mid')))
    out = ctx['tmp'] / 'generate' / mode
    kw = dict(num_outputs=2, temperature=0.5, seed=0, input_midi_1=song_1,
              input_midi_2=song_2, attribute='note_density', amount=1.0,
              attribute_dir=str(corpus / 'train'), input_midi=song_1)
    if not family.support(model.config, mode):
      with pytest.raises(UnsupportedCapabilityError) as error:
        generate.generate(model, mode, out, **kw)
      _check_unsupported_line(str(error.value), model, mode)
      return
    generate.generate(model, mode, out, **kw)
    assert (out / 'index.html').exists() and sorted(out.glob('*.mid'))
  cell.__doc__ = f'`generate --mode={mode}` writes its MIDI and index.html'
  return cell


def _check_unsupported_line(message: str, model, capability: str) -> None:
  assert '\n' not in message
  assert model.family.name in message and capability in message


def cell_chords(ctx):
  model = ctx['model']
  out = ctx['tmp'] / 'generate' / 'chords'
  if not family.support(model.config, 'chords'):
    with pytest.raises(UnsupportedCapabilityError) as error:
      generate.generate(model, 'sample', out, num_outputs=1, chords='C G Am F')
    _check_unsupported_line(str(error.value), model, 'chords')
    return
  generate.generate(model, 'sample', out, num_outputs=1, chords='C G Am F')
  assert sorted(out.glob('*.mid'))


def cell_render(ctx):
  """MIDI, WAV and a piano-roll PNG of decoded outputs."""
  out = ctx['tmp'] / 'render'
  out.mkdir()
  for i, ns in enumerate(ctx['model'].sample(2, temperature=0.5, seed=1)):
    render.write_midi(ns, out / f'{i}.mid')
    render.write_wav(ns, out / f'{i}.wav')
    render.write_piano_roll_png(ns, out / f'{i}.png')
    assert (out / f'{i}.mid').stat().st_size > 0
    _check_wav(out / f'{i}.wav')
    assert (out / f'{i}.png').read_bytes()[:4] == b'\x89PNG'


def cell_studio(ctx):
  """The studio's engine: samples, a mix, and every download of each."""
  model = ctx['model']
  studio = Studio(model, str(ctx['workdir']))
  items = studio.sample(2, 0.5, 0)
  items.append(studio.mix([items[0].id, items[1].id], 0.5, 0.5, 0.5, 0))
  for item in items:
    for kind, magic in (('wav', b'RIFF'), ('mid', b'MThd'), ('png', b'\x89PNG')):
      data, _, _ = studio.media(item.id, kind)
      assert data[:4] == magic, (item.title, kind)
  if family.support(model.config, 'humanize'):
    song = sorted((ctx['corpus'] / 'eval').glob('*.mid'))[0]
    upload = studio.upload(song.name, song.read_bytes())
    item = studio.perform(upload['upload'], 'humanize', 0.5, 0)
    assert studio.media(item.id, 'wav')[0][:4] == b'RIFF'


def cell_export_magentajs(ctx):
  """Exports to a magenta.js folder and converts it back: same parameters
  (tests/test_magentajs.py loads the exports in @magenta/music)."""
  model, out = ctx['model'], ctx['tmp'] / 'magentajs'
  if not family.support(model.config, 'export_magentajs'):
    with pytest.raises(UnsupportedCapabilityError) as error:
      export.export_workdir(ctx['workdir'], out)
    _check_unsupported_line(str(error.value), model, 'export_magentajs')
    return
  export.export_workdir(ctx['workdir'], out)
  back = convert.convert_checkpoint('', str(out), str(ctx['tmp'] / 'from_js'))
  loaded = TrainedModel.from_workdir(back)
  assert family.name_of(loaded.config) == family.name_of(model.config)
  assert loaded.config.encoding == model.config.encoding
  _same_params(model.params, loaded.params)


def cell_convert_magenta(ctx):
  """A TF checkpoint with Magenta's variable names converts to the same
  parameters; where ../shared holds a checkpoint Magenta trained for this
  config, that one converts and decodes too."""
  model, tmp = ctx['model'], ctx['tmp']
  if not family.support(model.config, 'convert_magenta'):
    with pytest.raises(UnsupportedCapabilityError) as error:
      family.require(model.config, 'convert_magenta')
    _check_unsupported_line(str(error.value), model, 'convert_magenta')
    return
  prefix = tmp / 'tf' / 'model.ckpt-4'
  prefix.parent.mkdir()
  tf_bundle.write_checkpoint(prefix, params.params_to_magenta(
      jax.tree.map(np.asarray, model.params)))
  back = convert.convert_checkpoint(model.config.magenta_name, str(prefix),
                                    str(tmp / 'from_tf'),
                                    config_spec=f'{ctx["name"]}:tiny')
  _same_params(model.params, TrainedModel.from_workdir(back).params)
  fixture = FIXTURES / model.config.magenta_name
  if fixture.is_dir():
    prefix = fixture / (fixture / 'checkpoint_name.txt').read_text().strip()
    workdir = convert.convert_checkpoint(model.config.magenta_name, str(prefix),
                                         str(tmp / 'from_fixture'))
    trained = TrainedModel.from_workdir(workdir)
    assert len(trained.sample(1, temperature=0.5)) == 1


CELLS = {
    'train': cell_train,
    'evaluate': cell_evaluate,
    **{mode: _generate_cell(mode) for mode in family.GENERATE_MODES},
    'chords': cell_chords,
    'render': cell_render,
    'studio': cell_studio,
    'export_magentajs': cell_export_magentajs,
    'convert_magenta': cell_convert_magenta,
}


def test_every_capability_has_a_cell():
  assert list(CELLS) == list(family.CAPABILITIES)


def test_every_config_declares_every_capability():
  for name in CONFIGS:
    config = config_base.load_config_file(f'{name}:tiny')
    declared = family.get(config).capabilities(config)
    assert list(declared) == list(family.CAPABILITIES), name
    for capability, found in declared.items():
      assert found.supported or found.reason, (name, capability)


@pytest.mark.parametrize('name', CONFIGS)
def test_capability_matrix(name, corpus, tmp_path):
  config = tiny_config(name, corpus, tmp_path / 'cache')
  declared = family.get(config).capabilities(config)
  ctx = dict(name=name, config=config, corpus=corpus, tmp=tmp_path,
             workdir=tmp_path / 'run')
  results, failures = {}, []
  for capability, cell in CELLS.items():
    if capability != 'train' and 'model' not in ctx:
      results[capability] = 'not run: training failed'
      continue
    try:
      cell(ctx)
      results[capability] = 'pass' if declared[capability] else 'declared unsupported'
    except BaseException as error:  # pylint: disable=broad-except
      if isinstance(error, KeyboardInterrupt):
        raise
      results[capability] = f'FAILED: {type(error).__name__}: {error}'.splitlines()[0][:300]
      failures.append(capability)
  (tmp_path / f'capability_results_{name}.json').write_text(json.dumps(results, indent=1))
  assert not failures, json.dumps(results, indent=1)


def _table_module():
  return scripts_as_modules.load('capability_table.py')


def test_tables_in_docs_and_readme_match_the_declarations():
  table = _table_module()
  docs = (ROOT / 'docs' / 'capabilities.md').read_text()
  readme = (ROOT / 'README.md').read_text()
  assert table.docs_page() == docs, 'run python scripts/capability_table.py'
  assert table.between_markers(readme) == table.readme_table(), \
      'run python scripts/capability_table.py'


def test_an_undeclared_capability_is_one_error_line_on_the_command_line(tiny_run, tmp_path):
  """`generate --mode=humanize` on a melody run: one `error:` line naming the
  family and the capability, exit code 1, before the model loads."""
  import subprocess
  import sys
  _, data, workdir = tiny_run
  found = subprocess.run(
      [sys.executable, '-m', 'musicvae_jax.generate', f'--workdir={workdir}',
       '--mode=humanize', f'--input_midi={data / "m0_0.mid"}',
       f'--output_dir={tmp_path / "out"}'],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert found.returncode == 1
  lines = [l for l in found.stderr.strip().splitlines() if 'Warning' not in l]
  assert lines == ['error: the categorical family (cat-mel_2bar_small) does not support '
                   'humanize: needs a GrooVAE run (configs/groovae_*.py)'], found.stderr
  assert 'platform' not in found.stdout   # refused before the model was loaded
