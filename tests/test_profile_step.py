"""scripts/profile_step.py and musicvae_jax/step_profile.py at tiny sizes
(no timing assertions): HLO parsing, categories that add up to the step."""

import jax
import jax.numpy as jnp
import pytest

from musicvae_jax import step_profile

import scripts_as_modules


def _scan_of_matmuls():
  @jax.jit
  def f(h, w):
    def step(h, _):
      g = h @ w
      return jnp.tanh(g[:, :8]) * jax.nn.sigmoid(g[:, 8:16]), h
    return jax.lax.scan(step, h, None, length=5)
  return f, (jnp.ones((4, 8)), jnp.full((8, 32), 0.01))


def test_parse_hlo_finds_the_loop_its_matmul_and_flops():
  f, args = _scan_of_matmuls()
  hlo = step_profile.parse_hlo(f.lower(*args).compile().as_text())
  whiles = [i for i in hlo.instrs.values() if i.opcode == 'while']
  assert len(whiles) == 1 and whiles[0].trip_count == 5
  matmuls = [i for i in hlo.instrs.values()
             if i.category == 'matmul' and i.loop == whiles[0].name]
  assert matmuls and matmuls[0].mkn == (4, 8, 32)
  assert matmuls[0].flops == 2 * 4 * 8 * 32


def test_attribute_shares_overlaps_and_sums_to_the_wall():
  f, args = _scan_of_matmuls()
  hlo = step_profile.parse_hlo(f.lower(*args).compile().as_text())
  loop = next(i.name for i in hlo.instrs.values() if i.opcode == 'while')
  dot = next(i.name for i in hlo.instrs.values()
             if i.category == 'matmul' and i.loop == loop)
  other = next(i.name for i in hlo.instrs.values()
               if i.loop == loop and i.category == 'elementwise')
  ev = lambda name, ts, dur, tid=1: {'ts': ts, 'dur': dur, 'tid': tid,  # noqa: E731
                                     'args': {'hlo_op': name}}
  # loop 0..10; inside it a dot 1..5 and, on another thread, an element-wise
  # fusion 3..7; then nothing until a top-level thunk 12..13.
  events = [ev(loop, 0, 10), ev(dot, 1, 4), ev(other, 3, 4, tid=2),
            ev(dot, 12, 1)]
  r = step_profile.attribute(hlo, events)
  assert r['wall_us'] == 13
  cats = r['categories']
  assert cats['matmul'] == pytest.approx(2 + 1 + 1)      # 1..3 alone, 3..5 half, 12..13
  assert cats['elementwise'] == pytest.approx(1 + 2)     # 3..5 half, 5..7 alone
  assert cats['loop overhead'] == pytest.approx(1 + 3)   # 0..1, 7..10
  assert cats['gaps'] == pytest.approx(2)                # 10..12
  assert sum(cats.values()) == pytest.approx(r['wall_us'])
  assert r['calls'][dot] == 2


def test_profile_target_tiny_config_categories_sum_to_the_step(tmp_path):
  script = scripts_as_modules.load('profile_step.py')
  r = script.profile_target('mel_2bar.py:tiny', 2, {}, windows=1,
                            window_seconds=0.0, trace_steps=1,
                            trace_dir=str(tmp_path / 'trace'), log=lambda *a, **k: None)
  prof = r['profile']
  assert prof['runs'] == 1 and r['step_seconds'] > 0
  assert set(prof['categories']) == set(step_profile.CATEGORIES)
  assert sum(prof['categories'].values()) == pytest.approx(prof['wall_us'], rel=1e-6)
  assert prof['categories']['matmul'] > 0 and prof['categories']['optimizer'] > 0
  assert sum(prof['ops'].values()) <= prof['wall_us'] * (1 + 1e-6)
  loops = step_profile.loops(r['hlo'], prof)
  assert any(l['trip_count'] == 32 for l in loops)  # the 2-bar LSTM loops
  text = step_profile.format_report('tiny', r['hlo'], prof,
                                    step_seconds=r['step_seconds'],
                                    flops_analytic=r['flops_analytic'], peak=1e9,
                                    ceilings={})
  assert '| matmul |' in text and 'While loops' in text
  assert script.parse_targets('a.py@8;b.py:tiny@2@x=1,y=(2,3)') == [
      ('a.py', 8, {}), ('b.py:tiny', 2, {'x': 1, 'y': (2, 3)})]
