"""Meters other than 4/4 (issue 26 point 1): the grid of each meter, windows
of whole bars of the config's meter, splits at meter changes, skipped meters
counted per file, MIDI output in the model's meter. 4/4 stays Magenta's (the
goldens: test_magenta_train_flags.py, test_chords.py)."""

from __future__ import annotations

import json

import note_seq
import numpy as np
import pretty_midi
import pytest

from musicvae_jax import config_base, meters
from musicvae_jax.data import cache, converters, encodings, folk_corpus
from musicvae_jax.data.converter_base import time_signatures_of
from musicvae_jax.families.categorical import converters as table
from musicvae_jax.render.midi import write_midi
from tests.test_converters import seq, tok, windows


# -- the grid (pure) ------------------------------------------------------------
@pytest.mark.parametrize('meter,steps,grid', [
    ('4/4', 16, (4, 4)), ('2/4', 8, (2, 4)), ('3/4', 12, (3, 4)),
    ('6/8', 12, (2, 6)), ('9/8', 18, (3, 6)), ('12/8', 24, (4, 6))])
def test_steps_per_bar_and_beats_on_the_16th_grid(meter, steps, grid):
  assert meters.steps_per_bar(meter) == steps
  assert meters.beats(meter) == grid
  assert grid[0] * grid[1] == steps
  # At 2 steps a quarter (8th grid): half as many.
  assert meters.steps_per_bar(meter, 2) == steps // 2


def test_a_bar_that_is_not_whole_steps_names_steps_per_quarter():
  with pytest.raises(ValueError, match=r"config.steps_per_quarter=1: a 9/8 bar would be 4.5"):
    meters.steps_per_bar('9/8', 1)


def test_unknown_meter_is_one_line_naming_the_key_and_choices():
  with pytest.raises(ValueError) as error:
    meters.parse('5/4')
  assert str(error.value) == ("config.meter='5/4': meters read are "
                              '4/4, 2/4, 3/4, 6/8, 9/8, 12/8')


def test_accepts_keeps_magentas_4_4_rule_and_exact_meters_otherwise():
  assert meters.accepts('4/4', 4, 4) and meters.accepts('4/4', 2, 2)
  assert meters.accepts('4/4', 8, 8)            # 16 steps a bar, as Magenta
  assert not meters.accepts('4/4', 3, 4) and not meters.accepts('4/4', 2, 4)
  assert meters.accepts('3/4', 3, 4) and not meters.accepts('3/4', 6, 8)
  assert meters.accepts('6/8', 6, 8) and not meters.accepts('6/8', 3, 4)
  assert not meters.accepts('3/4', 6, 4) and not meters.accepts('3/4', 3, 0)


def test_meters_in_force_as_the_split_cuts_them():
  # 4/4 before a first signature after 0; a repeat is no change; a signature
  # at or after the end is ignored.
  assert meters.meters_in_force([2.0], [3], [4], 10.0) == [(4, 4), (3, 4)]
  assert meters.meters_in_force([0.0, 3.0, 6.0], [3, 3, 6], [4, 4, 8], 10.0) == [(3, 4), (6, 8)]
  assert meters.meters_in_force([0.0, 10.0], [3, 6], [4, 8], 10.0) == [(3, 4)]
  assert meters.meters_in_force([], [], [], 4.0) == [(4, 4)]
  assert meters.meters_in_force([0.0], [3], [4], 0.0) == []
  # Back to 3/4 after 6/8: two 3/4 stretches.
  assert meters.skipped_meters('4/4', [0.0, 3.0, 6.0], [3, 6, 3], [4, 8, 4], 9.0) == {
      '3/4': 2, '6/8': 1}
  assert meters.skipped_meters('3/4', [0.0], [3], [4], 9.0) == {}


# -- windows in 3/4 and 6/8 (hand-worked) ---------------------------------------
# Three bars of 3/4 at 120 qpm (a step = 0.125 s, a bar = 12 steps = 1.5 s).
WALTZ = [(60, 0, 4), (62, 4, 8), (64, 8, 12), (65, 12, 24), (67, 24, 30), (69, 30, 36)]


def expected_waltz() -> np.ndarray:
  """The 36 steps of WALTZ as tokens (worked by hand)."""
  tokens = np.zeros(36, np.int16)
  for pitch, start, _ in WALTZ:
    tokens[start] = tok(pitch)
  return tokens


@pytest.mark.parametrize('meter', ['3/4', '6/8'])
def test_twelve_step_bars_give_two_windows_of_24_steps(meter):
  num, den = map(int, meter.split('/'))
  converter = converters.MelodyConverter(slice_bars=2, meter=meter)
  assert converter.steps_per_bar == 12 and converter.seq_len == 24
  found = windows(converter, seq(WALTZ, time_signature=(num, den)))   # fast path agrees
  tokens = expected_waltz()
  assert found.shape == (2, 24, 1)
  np.testing.assert_array_equal(found[0, :, 0], tokens[0:24])    # bars 1-2
  np.testing.assert_array_equal(found[1, :, 0], tokens[12:36])   # bars 2-3: one-bar stride


def test_a_meter_is_read_by_its_own_config_only():
  waltz, jig = seq(WALTZ, time_signature=(3, 4)), seq(WALTZ, time_signature=(6, 8))
  for meter, other in (('3/4', jig), ('6/8', waltz), ('4/4', waltz), ('4/4', jig)):
    converter = converters.MelodyConverter(meter=meter)
    assert len(windows(converter, other)) == 0
  four = converters.MelodyConverter()
  assert four.skipped_meters(time_signatures_of(waltz)) == {'3/4': 1}
  assert converters.MelodyConverter(meter='3/4').skipped_meters(
      time_signatures_of(waltz)) == {}


def test_meter_change_splits_and_each_piece_keeps_its_own_grid():
  """3 bars of 3/4, then 6/8 from 4.5 s: no window crosses the change, and the
  6/8 piece's bars start at the change (never mis-gridded)."""
  jig_notes = [(71, 36, 42), (72, 42, 48), (74, 48, 60)]
  ns = seq(WALTZ + jig_notes, time_signature=(3, 4), signatures=[(36 * 0.125, 6, 8)])
  waltz = windows(converters.MelodyConverter(meter='3/4'), ns)
  tokens = expected_waltz()
  np.testing.assert_array_equal(waltz[..., 0], np.stack([tokens[0:24], tokens[12:36]]))
  jig = windows(converters.MelodyConverter(meter='6/8'), ns)
  want = np.zeros(24, np.int16)
  want[[0, 6, 12]] = [tok(71), tok(72), tok(74)]
  np.testing.assert_array_equal(jig[..., 0], want[None])
  assert len(windows(converters.MelodyConverter(), ns)) == 0
  assert converters.MelodyConverter().skipped_meters(time_signatures_of(ns)) == {
      '3/4': 1, '6/8': 1}


def test_change_inside_a_bar_restarts_the_grid_at_the_change():
  """3/4 for 16 steps (a bar and a third), then 3/4 at 60 qpm from 2.0 s:
  the second piece's bars start at the change (2.0 s), not on the first
  piece's bar lines."""
  ns = seq([(60, 0, 12), (62, 12, 16)], time_signature=(3, 4))
  ns.tempos.add(time=2.0, qpm=60.0)
  step = 0.25                                  # a 16th at 60 qpm
  for pitch, start, end in [(64, 0, 6), (65, 6, 12), (67, 12, 18)]:
    ns.notes.add(pitch=pitch, start_time=2.0 + start * step, end_time=2.0 + end * step,
                 velocity=90)
  ns.total_time = 2.0 + 24 * step
  found = windows(converters.MelodyConverter(meter='3/4'), ns)
  second = np.zeros(24, np.int16)
  second[[0, 6, 12, 18]] = [tok(64), tok(65), tok(67), encodings.NOTE_OFF]
  assert any(np.array_equal(w[:, 0], second) for w in found)


def test_drums_and_trio_read_the_meter():
  hits = [(36, 0, 1, 0, 9, True), (42, 4, 5, 0, 9, True), (38, 8, 9, 0, 9, True),
          (36, 12, 13, 0, 9, True), (42, 16, 17, 0, 9, True), (38, 20, 21, 0, 9, True)]
  ns = seq(hits, time_signature=(3, 4))
  ns.total_time = 24 * 0.125
  drums = converters.DrumsConverter(meter='3/4').all_windows(ns)
  assert drums.shape == (1, 24, 1)
  kick, hat, snare = (encodings.drum_pitches_to_token([p]) for p in (36, 42, 38))
  np.testing.assert_array_equal(drums[0, [0, 4, 8, 12], 0], [kick, hat, snare, kick])
  assert len(converters.DrumsConverter().all_windows(ns)) == 0
  trio = converters.TrioConverter(slice_bars=2, meter='6/8')
  assert trio.steps_per_bar == 12 and trio.seq_len == 24
  parts = [(60 + i, 6 * i, 6 * i + 6, 0, 0, False) for i in range(4)]
  parts += [(36 + i, 6 * i, 6 * i + 6, 33, 1, False) for i in range(4)]
  parts += [(36, 6 * i, 6 * i + 1, 0, 9, True) for i in range(4)]
  found = trio.all_windows(seq(parts, time_signature=(6, 8)))
  assert found.shape == (1, 24, 3)
  assert found[0, 0, 0] == tok(60) and found[0, 6, 1] == tok(37)


def test_4_4_fingerprints_are_unchanged_so_old_caches_stay_valid():
  assert converters.MelodyConverter().fingerprint() == {
      'version': 'melody-v1', 'encoding': 'melody', 'slice_bars': 2,
      'steps_per_quarter': 4, 'valid_programs': list(range(32)), 'max_windows': 5,
      'max_bars': 100, 'gap_bars': 1.0, 'min_unique_pitches': 1}
  assert 'meter' not in converters.DrumsConverter().fingerprint()
  assert 'meter' not in converters.TrioConverter().fingerprint()
  assert converters.MelodyConverter(meter='6/8').fingerprint()['meter'] == '6/8'


# -- per-file counts of skipped meters --------------------------------------------
def _write(path, ns):
  path.parent.mkdir(parents=True, exist_ok=True)
  note_seq.sequence_proto_to_midi_file(ns, str(path))


@pytest.mark.parametrize('fast', [True, False])
def test_cache_counts_skipped_meters_per_file_with_the_meter_named(tmp_path, fast):
  folder = tmp_path / 'midi'
  four = [(60 + i % 5, 4 * i, 4 * i + 4) for i in range(8)]               # 2 bars of 4/4
  _write(folder / 'waltz.mid', seq(WALTZ, time_signature=(3, 4)))
  _write(folder / 'four.mid', seq(four))
  mixed = seq(four + [(p, s + 32, e + 32) for p, s, e in WALTZ],
              signatures=[(32 * 0.125, 3, 4)])
  _write(folder / 'mixed.mid', mixed)
  data = cache.load_or_build_windows(folder, tmp_path / 'cache',
                                     converters.MelodyConverter(), num_workers=1,
                                     fast=fast, progress=False)
  summary = data.summary
  reason = "meter 3/4 not read (config.meter='4/4')"
  assert summary['skipped'] == {'waltz.mid': reason}
  assert summary['skip_reasons'] == {reason: 1}
  assert summary['skipped_meters'] == {'waltz.mid': {'3/4': 1}, 'mixed.mid': {'3/4': 1}}
  assert summary['skipped_meter_files'] == {'3/4': 2}
  assert summary['files_used'] == 2
  saved = json.loads((tmp_path / 'cache').glob('*/summary.json').__next__().read_text())
  assert saved['skipped_meter_files'] == {'3/4': 2}
  # The 3/4 config reads the waltz and the 3/4 part of the mixed file.
  data = cache.load_or_build_windows(folder, tmp_path / 'cache',
                                     converters.MelodyConverter(meter='3/4'),
                                     num_workers=1, fast=fast, progress=False)
  assert data.summary['files_used'] == 2
  assert data.summary['skipped_meters'] == {'four.mid': {'4/4': 1}, 'mixed.mid': {'4/4': 1}}
  assert data.windows.shape[1:] == (24, 1)


# -- configs ---------------------------------------------------------------------
@pytest.mark.parametrize('spec,meter,length', [
    ('mel_2bar:waltz', '3/4', 24), ('mel_2bar:jig', '6/8', 24),
    ('hier:waltz', '3/4', 192), ('hier:jig', '6/8', 192), ('mel_2bar:cpu', '4/4', 32)])
def test_meter_configs(spec, meter, length):
  c = config_base.load_config_file(spec)
  config_base.validate(c)
  assert c.meter == meter and config_base.sequence_length(c) == length
  if c.use_hier:   # the conductor: one step per bar of the meter
    assert c.n_subsequences == 16 and length // c.n_subsequences == 12
  converter = table.make_converter(c)
  assert converter.meter == meter and converter.seq_len == length


def test_set_meter_fits_a_hierarchical_encoder_to_the_bar():
  c = config_base.load_config_file('hier_mel_16bar:tiny')
  config_base.set_meter(c, '9/8')
  assert c.encoder_levels == (18, 16) and config_base.sequence_length(c) == 288
  config_base.validate(c)


def test_bad_meter_settings_are_one_line_naming_the_key():
  c = config_base.load_config_file('mel_2bar:tiny')
  c.meter = '7/8'
  with pytest.raises(ValueError, match=r"^config.meter='7/8': meters read are"):
    config_base.validate(c)
  c = config_base.load_config_file('mel_2bar_chords:tiny')
  c.meter = '3/4'
  with pytest.raises(ValueError, match=r"^config.meter='3/4': the chord-conditioned melody "
                                       r'converter reads 4/4 only$'):
    table.make_converter(c)


# -- MIDI output -------------------------------------------------------------------
@pytest.mark.parametrize('meter', ['3/4', '6/8', '4/4'])
def test_midi_output_carries_the_time_signature(tmp_path, meter):
  converter = converters.MelodyConverter(meter=meter)
  ns = converter.to_note_sequence(expected_waltz()[:converter.seq_len])
  write_midi(ns, tmp_path / 'out.mid')
  midi = pretty_midi.PrettyMIDI(str(tmp_path / 'out.mid'))
  assert [(t.numerator, t.denominator, t.time) for t in midi.time_signature_changes] == [
      (*map(int, meter.split('/')), 0.0)]
  drums = converters.DrumsConverter(meter=meter).to_note_sequence(np.zeros(8, np.int16))
  assert (drums.time_signatures[0].numerator, drums.time_signatures[0].denominator) == tuple(
      map(int, meter.split('/')))


# -- the folk corpus per meter -------------------------------------------------------
def test_folk_corpus_selects_tunes_of_the_meter(tmp_path):
  from musicvae_jax.data import music21_io
  tunes = folk_corpus.candidate_tunes(max_tunes=30, meter='6/8')
  assert len(tunes) == 30
  for _, text in tunes:
    assert {m.replace(' ', '') for m in music21_io.abc_header_fields(text, 'M')} == {'6/8'}
  assert folk_corpus.corpus_root(tmp_path, meter='3/4') == tmp_path / 'folk_corpus_v1_3-4'
  assert folk_corpus.corpus_root(tmp_path, 5, '6/8') == tmp_path / 'folk_corpus_v1_6-8_max5'
  assert folk_corpus.corpus_root(tmp_path) == tmp_path / 'folk_corpus_v1'


# -- the studio's bars -------------------------------------------------------------
@pytest.mark.parametrize('meter,beats', [('3/4', 3), ('6/8', 2), ('4/4', 4), ('12/8', 4)])
def test_studio_grid_of_a_decoded_window_is_the_models_meter(meter, beats):
  from musicvae_jax.studio import bars
  converter = converters.MelodyConverter(meter=meter)
  ns = converter.to_note_sequence(np.zeros(converter.seq_len, np.int16))
  seconds = converter.steps_per_bar * 0.125
  assert bars.grid(ns) == {'meter': meter, 'bar_seconds': seconds, 'beats_per_bar': beats}
  assert ns.total_time == pytest.approx(2 * seconds)


def test_studio_items_and_info_carry_the_models_meter():
  pytest.importorskip('starlette')
  from musicvae_jax.studio.engine import Studio
  from musicvae_jax.trained_model import TrainedModel
  import jax
  from musicvae_jax import family, steps
  config = config_base.load_config_file('mel_2bar:tiny')
  config_base.set_meter(config, '3/4')
  parts = family.build(config)
  params = steps.init_params(parts.model, parts.objective, jax.random.key(0),
                             parts.objective.example_batch(config, 1))
  studio = Studio(TrainedModel(config, params, max_batch=4))
  assert studio.info()['meter'] == '3/4'
  item = studio.item_json(studio.sample(1, 0.5, 0)[0])
  assert (item['meter'], item['beats_per_bar'], item['bar_seconds']) == ('3/4', 3, 1.5)


def test_studio_bars_of_a_waltz_upload_give_the_converters_windows():
  from musicvae_jax.studio import bars
  converter = converters.MelodyConverter(meter='3/4')
  ns = seq(WALTZ, time_signature=(3, 4))
  layout = bars.layout(ns)
  assert [b.start for b in layout.bars] == [0.0, 1.5, 3.0]
  first = bars.window_at(converter, layout, 0, 2)
  np.testing.assert_array_equal(first[:, 0], expected_waltz()[:24])
  np.testing.assert_array_equal(bars.window_at(converter, layout, 1, 2)[:, 0],
                                expected_waltz()[12:36])
  assert bars.window_at(converters.MelodyConverter(), layout, 0, 2) is None


def test_tfrecord_sequences_in_another_meter_are_skipped_with_the_meter_named(tmp_path):
  from musicvae_jax.data import record_cache, tfrecord
  path = tmp_path / 'tunes.tfrecord'
  four = [(60 + i % 5, 4 * i, 4 * i + 4) for i in range(8)]
  tfrecord.write_records(path, [seq(WALTZ, time_signature=(6, 8)).SerializeToString(),
                                seq(four).SerializeToString(),
                                seq(WALTZ, time_signature=(3, 4)).SerializeToString()])
  data = record_cache.load_or_build_windows(str(path), tmp_path / 'records',
                                            converters.MelodyConverter(meter='3/4'),
                                            num_workers=1, progress=False)
  assert data.summary['skipped'] == {
      'tunes.tfrecord#0': "meter 6/8 not read (config.meter='3/4')",
      'tunes.tfrecord#1': "meter 4/4 not read (config.meter='3/4')"}
  assert len(data.windows) == 2


def test_magentajs_export_is_declared_unsupported_for_other_meters():
  from musicvae_jax import family
  c = config_base.load_config_file('mel_2bar:waltz')
  found = family.get(c).capabilities(c)['export_magentajs']
  assert not found and "config.meter='3/4': magenta.js models carry no meter" in str(found)
  c = config_base.load_config_file('mel_2bar:cpu')
  assert family.get(c).capabilities(c)['export_magentajs']
