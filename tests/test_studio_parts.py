"""The studio's parts that need no model: the request guard, the map roots,
the byte-bounded media cache, background jobs, bars that follow every time
signature (against the converter's own windows), and MIDI files that keep a
window's length. Fast: no JAX, no server, no browser."""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import threading
import time
from pathlib import Path

import note_seq
import numpy as np
import pytest

from musicvae_jax.studio import bars, jobs, media, security
from musicvae_jax.studio.errors import BusyError, ForbiddenError, StudioError
from musicvae_jax.studio.map_roots import MapRoots
from musicvae_jax.studio.media_cache import MediaCache

REPO = Path(__file__).resolve().parents[1]


# -- the request guard ----------------------------------------------------------------------

def _check(policy, method='POST', path='/api/sample', query='', **headers):
  sent = {'host': '127.0.0.1:8765', 'content-type': 'application/json',
          security.TOKEN_HEADER: policy.token}
  sent.update({k.replace('_', '-'): v for k, v in headers.items() if v is not None})
  for name in [k.replace('_', '-') for k, v in headers.items() if v is None]:
    sent.pop(name, None)
  return policy.check(method, path, query, sent)


def test_guard_answers_only_its_own_address_and_page():
  policy = security.Policy('127.0.0.1', 8765, token='secret-token')
  assert _check(policy) is None                                   # the page itself
  for host in ('127.0.0.1:8765', 'localhost:8765', '[::1]:8765', 'LOCALHOST:8765'):
    assert _check(policy, host=host, origin=f'http://{host.lower()}') is None, host
  # DNS rebinding: the attacker's name is the Host; another port is another server.
  for host in ('evil.example:8765', 'evil.example', '127.0.0.1:9999', '', '192.168.1.5:8765'):
    status, message = _check(policy, host=host)
    assert status == 421 and 'http://127.0.0.1:8765/' in message, host
  # Cross-site: a form posting text/plain, a fetch from another origin, fetch metadata.
  status, message = _check(policy, origin='http://evil.example', content_type='text/plain',
                           x_studio_token=None)
  assert status == 403 and 'other web sites' in message
  assert _check(policy, origin='http://localhost:3000')[0] == 403
  assert _check(policy, origin='null')[0] == 403
  assert _check(policy, sec_fetch_site='cross-site')[0] == 403
  assert _check(policy, sec_fetch_site='same-site')[0] == 403      # another port of localhost
  assert _check(policy, sec_fetch_site='same-origin') is None
  assert _check(policy, method='GET', path='/api/item/i1/png', sec_fetch_site='cross-site',
                sec_fetch_mode='no-cors', content_type=None)[0] == 403   # <img src=...>
  # Following a link to the page from elsewhere is fine (it holds no data).
  assert _check(policy, method='GET', path='/', sec_fetch_site='cross-site',
                sec_fetch_mode='navigate', content_type=None, x_studio_token=None) is None
  # The token: every /api/ call; in the header or (download links) the query.
  status, message = _check(policy, x_studio_token=None)
  assert status == 403 and 'token' in message
  assert _check(policy, x_studio_token='guess')[0] == 403
  assert _check(policy, method='GET', path='/api/item/i1/mid', query='token=secret-token&download=1',
                x_studio_token=None, content_type=None) is None
  assert _check(policy, method='GET', path='/static/studio.js', x_studio_token=None,
                content_type=None) is None
  # Bodies: JSON (uploads: octet-stream); never a type a cross-site form can send.
  for kind in ('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', None):
    status, message = _check(policy, content_type=kind)
    assert status == 415 and 'application/json' in message, kind
  assert _check(policy, content_type='application/json; charset=utf-8') is None
  assert _check(policy, path='/api/upload', content_type='application/octet-stream') is None
  assert _check(policy, path='/api/upload', content_type='text/plain')[0] == 415


def test_guard_on_other_interfaces_and_extra_hosts():
  everywhere = security.Policy('0.0.0.0', 8000)
  assert _check(everywhere, host='192.168.1.5:8000', **{security.TOKEN_HEADER.replace('-', '_'):
                                                         everywhere.token}) is None
  assert _check(everywhere, host='evil.example:8000')[0] == 421     # names stay refused
  assert _check(everywhere, host='192.168.1.5:8001')[0] == 421
  lan = security.Policy('192.168.1.5', 8000, extra_hosts=['studio.lan', 'localhost:9000'])
  for host in ('192.168.1.5:8000', 'studio.lan:8000', 'localhost:9000'):
    assert lan.host_allowed(host), host
  assert not lan.host_allowed('studio.lan:9000')
  assert security.Policy('::1', 8000).host_allowed('[::1]:8000')
  assert security.Policy('127.0.0.1', 1).token != security.Policy('127.0.0.1', 1).token


# -- the map roots ----------------------------------------------------------------------------

def test_map_reads_only_folders_under_its_roots(tmp_path):
  root = tmp_path / 'music'
  (root / 'folk' / 'reels').mkdir(parents=True)
  (tmp_path / 'private').mkdir()
  (root / 'escape').symlink_to(tmp_path / 'private')
  roots = MapRoots([root, '', str(root)])
  assert roots.describe() == [str(root.resolve())]
  assert roots.resolve(str(root / 'folk' / 'reels')) == (root / 'folk' / 'reels').resolve()
  assert roots.resolve(str(root / 'folk' / '..')) == root.resolve()
  for outside in ('/etc', str(tmp_path / 'private'), str(root / 'escape'),
                  str(root / '..' / 'private'), str(root) + '-other'):
    with pytest.raises(ForbiddenError, match=r'outside the folders the map may read .* '
                                             r'--data_dir='):
      roots.resolve(outside)
  with pytest.raises(StudioError, match='not a folder'):
    roots.resolve(str(root / 'absent'))
  with pytest.raises(ForbiddenError):    # outside: refused before it is looked at
    MapRoots([]).resolve('/etc')


# -- the media cache ----------------------------------------------------------------------------

def test_media_cache_is_bounded_by_bytes():
  cache = MediaCache(max_bytes=1000)
  for i in range(10):
    cache.put(('i', i), bytes(300))
    assert cache.bytes <= 1000
  assert len(cache) == 3 and cache.evicted == 7
  assert cache.get(('i', 0)) is None and cache.get(('i', 9)) == bytes(300)
  cache.get(('i', 7))                   # used: kept over 8
  cache.put(('i', 10), bytes(300))
  assert cache.get(('i', 7)) is not None and cache.get(('i', 8)) is None
  assert cache.put('huge', bytes(5000)) == bytes(5000) and cache.get('huge') is None
  cache.drop(lambda key: key[0] == 'i')
  assert cache.bytes == 0 and cache.stats()['entries'] == 0


# -- background jobs ------------------------------------------------------------------------------

def test_jobs_report_progress_cancel_and_refuse_a_second():
  step = threading.Event()

  def work(job):
    for i in range(1000):
      job.report('counting', i, 1000)
      step.set()
      time.sleep(0.01)
    return 'finished'
  slot = jobs.Slot('a map')
  job = slot.start('map', work)
  assert step.wait(10)
  status = job.status()
  assert status['state'] == 'running' and status['phase'] == 'counting'
  with pytest.raises(BusyError, match='a map is already being built .*cancel it first'):
    slot.start('map', work)
  slot.cancel()
  assert job.wait(5) and job.state == jobs.CANCELLED and job.result is None
  done = slot.start('map', lambda job: 42)
  assert done.wait(5) and done.state == jobs.DONE and done.result == 42
  failed = jobs.Job('x', lambda job: (_ for _ in ()).throw(StudioError('no windows'))).start()
  assert failed.wait(5) and failed.status()['error'] == 'no windows'
  crashed = jobs.Job('x', lambda job: 1 / 0).start()
  assert crashed.wait(5) and crashed.error.startswith('internal error: ZeroDivisionError')


# -- bars and windows --------------------------------------------------------------------------------

def _melody_converter(slice_bars=2):
  from musicvae_jax.data.converters import MelodyConverter
  return MelodyConverter(slice_bars=slice_bars, valid_programs=None)


def _changing_meters() -> note_seq.NoteSequence:
  """A one-beat pickup (1/4), 8 bars of 4/4 at 120 qpm, one bar of 3/4, then
  6 bars of 4/4 at 100 qpm; a note is held over a bar line into a rest."""
  ns = note_seq.NoteSequence(ticks_per_quarter=220)
  ns.tempos.add(time=0.0, qpm=120)
  for time_, num in ((0.0, 1), (0.5, 4), (16.5, 3), (18.0, 4)):
    ns.time_signatures.add(time=time_, numerator=num, denominator=4)
  ns.tempos.add(time=18.0, qpm=100)
  ns.notes.add(pitch=67, start_time=0.0, end_time=0.45, velocity=90)     # the pickup
  beat = 0.5
  for i in range(32):                                                     # 8 bars of 4/4
    start = 0.5 + i * beat
    if i in (11, 12):   # beat 4 of bar 3 held over the bar line, then a rest
      if i == 11:
        ns.notes.add(pitch=72, start_time=start, end_time=start + 1.5 * beat, velocity=90)
      continue
    ns.notes.add(pitch=60 + (i * 5) % 12, start_time=start, end_time=start + 0.45, velocity=90)
  for i in range(3):                                                      # the 3/4 bar
    ns.notes.add(pitch=64, start_time=16.5 + i * beat, end_time=16.95 + i * beat, velocity=90)
  beat = 0.6
  for i in range(24):                                                     # 6 bars at 100 qpm
    start = 18.0 + i * beat
    ns.notes.add(pitch=62 + (i * 7) % 12, start_time=start, end_time=start + 0.5, velocity=90)
  ns.total_time = 18.0 + 24 * beat
  return ns


def _all_studio_windows(converter, layout, slice_bars):
  return {w.tobytes() for n in range(len(layout))
          for w in bars.windows_at(converter, layout, n, slice_bars)}


def test_bars_follow_every_time_signature_and_give_the_converters_windows():
  ns = _changing_meters()
  layout = bars.layout(ns)
  assert len(layout) == 1 + 8 + 1 + 6
  assert [round(b.start, 6) for b in layout.bars[:3]] == [0.0, 0.5, 2.5]
  assert (layout.bars[0].numerator, layout.bars[0].seconds) == (1, 0.5)   # the pickup
  assert (layout.bars[9].numerator, round(layout.bars[9].start, 6)) == (3, 16.5)
  assert round(layout.bars[10].full_seconds, 6) == 2.4 and layout.bars[10].qpm == 100
  converter = _melody_converter()
  want = {w.tobytes() for w in converter.all_windows(ns)}
  assert len(want) >= 8
  assert _all_studio_windows(converter, layout, 2) == want    # the very same windows
  assert bars.first_window_bar(converter, layout, 2) == 1     # the first full bar
  # The held note's release (NOTE_OFF, token 1) is in the window after the line.
  held = bars.window_at(converter, layout, 4, 2)[:, 0]
  assert held[0] == 0 and held[2] == 1       # released on the 3rd step
  assert bars.window_at(converter, layout, 8, 2) is None       # would cross into 3/4
  assert bars.window_at(converter, layout, 9, 2) is None       # the 3/4 bar
  assert bars.window_at(converter, layout, 10, 2) is not None
  assert bars.window_at(converter, layout, 15, 2) is None      # one bar left


def test_bars_scan_the_whole_piece():
  ns = note_seq.NoteSequence()
  ns.tempos.add(qpm=120)
  for i in range(16):          # 100 bars of silence, then 4 bars of quarter notes
    ns.notes.add(pitch=60 + i % 5, start_time=200 + i * 0.5, end_time=200.45 + i * 0.5,
                 velocity=80)
  ns.total_time = 208.0
  layout = bars.layout(ns)
  assert len(layout) == 104
  assert bars.first_window_bar(_melody_converter(), layout, 2) == 100


def test_bars_of_an_lmd_file_match_the_converter(lmd_files):
  """The file of issue 23: a 1/4 pickup, 4/4, one 3/8 bar, 4/4 (61 windows;
  the first studio refused it as "no window in 144 bars")."""
  from musicvae_jax.data import midi_io
  found = [p for p in lmd_files if p.name.startswith('3a0eee9e3a8e')]
  if not found:
    pytest.skip('the LMD file of issue 23 is not in ../shared/data/lmd')
  ns = midi_io.load_note_sequence(found[0])
  layout = bars.layout(ns)
  converter = _melody_converter()
  from musicvae_jax.data.converters import MEL_2BAR_PROGRAMS, MelodyConverter
  converter = MelodyConverter(slice_bars=2, valid_programs=MEL_2BAR_PROGRAMS)
  want = {w.tobytes() for w in converter.all_windows(ns)}
  assert len(want) == 61 and len(layout) == 38
  assert _all_studio_windows(converter, layout, 2) == want
  assert bars.first_window_bar(converter, layout, 2) == 1


# -- media: MIDI keeps the loop length, sizes stay bounded ----------------------------------------------

def test_written_midi_ends_at_the_window_end(tmp_path):
  import mido
  from musicvae_jax import render
  ns = note_seq.NoteSequence()
  ns.tempos.add(qpm=120)
  ns.notes.add(pitch=60, start_time=0.0, end_time=0.5, velocity=80)   # then 3.5 s of rest
  ns.total_time = 4.0                                                  # two 4/4 bars
  data = media.midi_bytes(ns)
  midi = mido.MidiFile(file=io.BytesIO(data))
  assert midi.length == pytest.approx(4.0)
  for track in midi.tracks:                   # every track ends on the bar line
    assert track[-1].type == 'end_of_track'
    assert sum(m.time for m in track) == midi.ticks_per_beat * 8
  back = note_seq.midi_to_note_sequence(data)
  assert [(n.pitch, n.start_time, n.end_time) for n in back.notes] == [(60, 0.0, 0.5)]
  ns.text_annotations.add(time=0.0, text='C', annotation_type=note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL)
  render.write_midi(ns, tmp_path / 'chords.mid')
  assert mido.MidiFile(str(tmp_path / 'chords.mid')).length == pytest.approx(4.0)
  ns.total_time = 0.0                         # notes longer than total_time: the notes rule
  assert mido.MidiFile(file=io.BytesIO(media.midi_bytes(ns))).length == pytest.approx(0.5, abs=0.01)


def test_long_pieces_render_at_bounded_size():
  from PIL import Image
  ns = note_seq.NoteSequence()
  ns.tempos.add(qpm=120)
  for i in range(600):      # 20 minutes
    ns.notes.add(pitch=60 + i % 12, start_time=i * 2.0, end_time=i * 2.0 + 1, velocity=80)
  ns.total_time = 1200.0
  wav = media.wav_bytes(ns, max_seconds=20.0)
  import wave
  with wave.open(io.BytesIO(wav)) as f:
    assert f.getnframes() / f.getframerate() == pytest.approx(20.0 + 0.5, abs=0.6)
  assert media.audio_seconds(ns) == media.MAX_AUDIO_SECONDS
  image = Image.open(io.BytesIO(media.png_bytes(ns, title='a long walk')))
  assert image.width <= media.MAX_PNG_WIDTH
  from musicvae_jax.render.piano_roll import label_every
  assert [label_every(px) for px in (100, 20, 10, 5, 1)] == [1, 2, 5, 10, 50]


# -- the run's own eval set ---------------------------------------------------------------------------

def test_eval_set_is_the_runs_own_or_refused_in_one_line(tmp_path):
  """A converted Magenta workdir (no data named, no training history) and a
  pretrained model whose data does not ship are refused at once: nothing
  converts the built-in folk corpus they never saw."""
  from types import SimpleNamespace
  from musicvae_jax import config_base, config_check
  from musicvae_jax.studio import datasets
  config = config_base.load_config_file(str(REPO / 'configs/mel_2bar.py:tiny'))
  converted = SimpleNamespace(config=config, pretrained='', card=None)
  problem = datasets.eval_set_problem(converted, str(tmp_path))
  assert problem.startswith(f'{tmp_path} names no training data of its own (a converted Magenta')
  job = jobs.Job('map', lambda job: None)
  with pytest.raises(StudioError, match='names no training data .*: map a folder of MIDI'):
    datasets.eval_set(converted, str(tmp_path), job)
  config_check.record(tmp_path, 'start', 0)            # trained here, on the folk corpus
  assert datasets.eval_set_problem(converted, str(tmp_path)) == ''
  config.train_dir = str(tmp_path / 'midi')            # a run that names its data
  assert datasets.eval_set_problem(converted, str(tmp_path / 'elsewhere')) == ''
  shipped = SimpleNamespace(config=config, pretrained='cat-mel', card={'data': {'train': 'LMD'}})
  assert datasets.eval_set_problem(shipped, '') == (
      'pretrained model cat-mel was trained on LMD, which does not ship with it')


def test_a_stopped_conversion_keeps_the_files_done(tmp_path):
  """data/cache.build_cache with an `on_file` that stops it (the map's
  cancel): the files converted so far stay cached, the rest come next time."""
  from conftest import write_midi
  from musicvae_jax.data import cache
  folder = tmp_path / 'midi'
  for i in range(5):
    write_midi(folder / f'm{i}.mid', [(60 + (k + i) % 7, k * 0.5, k * 0.5 + 0.4)
                                      for k in range(16)])
  seen = []

  def stop_after_two(done, total):
    seen.append((done, total))
    if done == 2:
      raise jobs.Cancelled()
  with pytest.raises(jobs.Cancelled):
    cache.build_cache(folder, tmp_path / 'cache', _melody_converter(), num_workers=1,
                      progress=False, on_file=stop_after_two)
  assert seen == [(0, 5), (1, 5), (2, 5)]
  built = next((tmp_path / 'cache').iterdir())
  manifest = json.loads((built / 'manifest.json').read_text())
  assert len(manifest['files']) == 2 and all(e['status'] == 'ok' for e in manifest['files'].values())
  seen.clear()
  cache.build_cache(folder, tmp_path / 'cache', _melody_converter(), num_workers=1,
                    progress=False, on_file=lambda done, total: seen.append((done, total)))
  assert seen[0] == (0, 3) and seen[-1] == (3, 3)
  assert len(cache.read_cache(built, str(folder)).files) == 5


def test_bars_of_a_groove_follow_its_tiling():
  """GrooVAE tiles a piece with 2-bar windows that follow each other: the
  studio's windows at bars 0, 2, 4 are the converter's own, and the one at
  bar 1 is the same features moved to start there (a long piano note held
  over the bar lines changes nothing)."""
  from musicvae_jax import config_base, family
  converter = family.build(config_base.load_config_file(
      str(REPO / 'configs/groovae_2bar_humanize.py:tiny'))).converter
  ns = note_seq.NoteSequence()
  ns.tempos.add(qpm=120)
  step = 0.125
  for i in range(6 * 16):                      # 6 bars, a hit pattern that changes per bar
    if i % 2 == 0 or i % 5 == 0:
      pitch = (36, 38, 42, 46)[(i // 16 + i) % 4]
      ns.notes.add(pitch=pitch, start_time=i * step + 0.01, end_time=i * step + 0.1,
                   velocity=60 + i % 60, is_drum=True, instrument=9)
  ns.notes.add(pitch=60, start_time=1.0, end_time=11.0, velocity=80, program=0)   # held
  ns.total_time = 12.0
  layout = bars.layout(ns)
  own = converter.all_windows(ns)
  assert len(own) == 3 and len(layout) == 6
  for k in range(3):
    np.testing.assert_allclose(bars.window_at(converter, layout, 2 * k, 2), own[k], atol=1e-6)
  (index, features), = converter.piece_features(ns)
  np.testing.assert_allclose(bars.window_at(converter, layout, 1, 2), features[16:48], atol=1e-6)
  assert bars.window_at(converter, layout, 5, 2) is None       # one bar left


# -- projections that a cancelled map job can stop -------------------------------------

def test_a_projection_in_a_child_process_returns_its_result():
  from musicvae_jax.studio import projection
  polls = []
  result = projection.run_interruptibly(sorted, ([3, 1, 2],), lambda: polls.append(1), 'sort')
  assert result == [1, 2, 3] and polls


def test_a_cancelled_projection_stops_at_once_and_kills_its_child():
  from musicvae_jax.studio import projection
  started = time.monotonic()

  def poll():
    if time.monotonic() - started > 0.5:
      raise jobs.Cancelled()

  with pytest.raises(jobs.Cancelled):
    projection.run_interruptibly(time.sleep, (120,), poll, 'sleep')
  assert time.monotonic() - started < 30      # not the child's 120 s
  assert not [c for c in multiprocessing.active_children() if c.name == 'studio-sleep']


def test_a_failing_projection_is_one_line_naming_it():
  from musicvae_jax.studio import projection
  with pytest.raises(ValueError, match=r"^umap: ValueError: math domain error$"):
    projection.run_interruptibly(math.sqrt, (-1.0,), lambda: None, 'umap')
