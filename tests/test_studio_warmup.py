"""No compilation after the studio's warm-up: every action the page offers,
at every batch size it allows, reuses a shape `Studio.warmup` compiled
(compilations counted with compile_events, i.e. jax.monitoring)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import fresh_params, write_midi

REPO = Path(__file__).resolve().parents[1]
MOTIFS = [[60, 62, 64, 65], [72, 71, 69, 67], [60, 64, 67, 72], [67, 67, 62, 62]]


def _motif_notes(motif, bars=4):
  return [(motif[beat % 4], beat * 0.5, beat * 0.5 + 0.45) for beat in range(4 * bars)]


def _untrained(spec: str):
  from musicvae_jax import config_base, family
  config = config_base.load_config_file(str(REPO / spec))
  return family.get(config).trained_model_class()(config, fresh_params(config))  # max_batch 256


def test_compile_counter_counts_new_shapes_only():
  import jax
  import jax.numpy as jnp
  from musicvae_jax import compile_events
  f = jax.jit(lambda x: x * 3 + 1)
  x4, x5 = jnp.zeros(4), jnp.zeros(5)
  counter = compile_events.Counter()
  f(x4)
  assert counter.compiled == 1
  f(x4)
  assert counter.compiled == 1
  f(x5)
  assert counter.compiled == 2 and counter.from_disk == 0
  counter.reset()
  assert counter.compiled == 0


def test_the_warm_plan_covers_every_batch_the_page_allows():
  from musicvae_jax.studio import engine
  model = _untrained('configs/mel_2bar.py:tiny')
  studio = engine.Studio(model, 'runs/tiny')
  plan = studio.warmup_plan()
  assert plan[:3] == [('decode', 4), ('decode', 1), ('encode', 1)]   # what the page does first
  assert sorted(s for w, s in plan if w == 'decode') == [1, 2, 4, 8, 16, 32, 64]
  assert sorted(s for w, s in plan if w == 'encode') == [1, 2, 4, 8, 16, 32, 64]
  assert len(plan) == len(set(plan))


def test_no_action_compiles_after_warmup(tmp_path, monkeypatch):
  """Samples of 1, 5 and 16, an upload's window and reconstruction, mixes,
  walks (between items and random, up to 29 windows), a folder map with its
  map decode and attribute slider: zero compilations after `warmup`."""
  from musicvae_jax import compile_events, paths
  from musicvae_jax.studio import engine
  monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / 'cache_root'))
  folder = tmp_path / 'midi'
  for i, motif in enumerate(MOTIFS):
    for shift in (0, 3, 5):
      write_midi(folder / f'm{i}_{shift}.mid', _motif_notes([p + shift for p in motif]))
  model = _untrained('configs/mel_2bar.py:tiny')
  studio = engine.Studio(model, 'runs/tiny', map_roots=[str(folder)])
  counter = compile_events.Counter()
  assert studio.warmup() == len(studio.warmup_plan())
  assert counter.compiled >= len(studio.warmup_plan())   # it did compile
  counter.reset()
  items = []
  for n, seed in ((1, 0), (5, 1), (16, 2), (4, 123456)):
    items += studio.sample(n, 0.5, seed)
  info = studio.upload('m1_3.mid', (folder / 'm1_3.mid').read_bytes())
  source, recon = studio.use_window(info['upload'], 2, 0.5, 0)
  studio.mix([items[0].id, source.id], 0.3, 0.0, 0.5, 1)
  studio.mix([items[0].id, items[1].id, source.id, recon.id], 0.3, 0.8, 0.7, 2)
  studio.walk([items[0].id, source.id, items[2].id], 3, 0.5, 1)      # 9 windows
  studio.walk([], 3, 0.5, 2, random_anchors=8)                       # 29 windows
  found = studio.build_map(str(folder), 'pca', timeout=300)
  assert found['count'] >= 12
  studio.map_decode(*found['points'][1], 0.5, 0)
  studio.attribute(source.id, {'note_density': 1.0}, 0.5, 0)
  assert counter.compiled == 0


@pytest.mark.parametrize('spec', ['configs/groovae_2bar_humanize.py:tiny'])
def test_no_groove_action_compiles_after_warmup(tmp_path, spec):
  """GrooVAE: an uploaded 4-bar beat's window, humanized and drumified."""
  from musicvae_jax import compile_events
  from musicvae_jax.studio import engine
  step = 60 / 100 / 4
  beat = write_midi(tmp_path / 'beat.mid',
                    [(42, i * step, (i + 0.5) * step) for i in range(0, 64, 2)]
                    + [(36, i * step, (i + 0.5) * step) for i in range(0, 64, 8)],
                    is_drum=True, qpm=100.0)
  studio = engine.Studio(_untrained(spec), 'runs/groove')
  studio.warmup()
  counter = compile_events.Counter()
  info = studio.upload('beat.mid', beat.read_bytes())
  studio.use_window(info['upload'], 1, 0.5, 0)
  studio.sample(3, 0.5, 0)
  for how in ('humanize', 'drumify'):
    studio.perform(info['upload'], how, 0.5, 0)
  assert counter.compiled == 0
