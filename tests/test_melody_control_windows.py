"""A melody's rhythm and shape as windows (data/melody_control_windows.py),
the bit outputs the rhythm model decodes with (TokenSpec.bits: magenta.js'
BooleanDecoder), and the two configs; against hand-worked values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import config_base, family, losses
from musicvae_jax.data import converters, melody_controls
from musicvae_jax.data import melody_control_windows as mcw
from musicvae_jax.models import decoders, inputs

C4, D4, E4 = 2 + 39, 2 + 41, 2 + 43   # melody tokens of MIDI 60, 62, 64


# -- pure functions -----------------------------------------------------------------
def test_rhythm_bits_mark_the_onsets():
  tokens = [C4, 0, 1, D4, 0, C4, 0, 0]
  np.testing.assert_array_equal(mcw.rhythm_bits(tokens), [1, 0, 0, 1, 0, 1, 0, 0])
  assert mcw.rhythm_bits(tokens).dtype == np.int16


def test_shape_classes_are_parsons_codes_reaching_back_and_forward():
  # onsets 0 (C4), 3 (D4), 5 (C4): up over steps 0..3, down over 4..5, the
  # last direction repeated after the last onset.
  np.testing.assert_array_equal(mcw.shape_classes([C4, 0, 1, D4, 0, C4, 0, 0]),
                                [2, 2, 2, 2, 0, 0, 0, 0])
  np.testing.assert_array_equal(mcw.shape_classes([C4, 0, C4, 0]), [1, 1, 1, 1])
  np.testing.assert_array_equal(mcw.shape_classes([0] * 4), [1] * 4)   # no onset: same
  np.testing.assert_array_equal(mcw.shape_classes([C4, 0, 0, 0]), [1] * 4)


def test_a_lone_onset_on_the_last_step_has_no_shape():
  """magenta.js leaves every row zero there; the window has no class."""
  assert mcw.shape_classes([0, 0, 0, C4]) is None


def test_shape_pitches_start_at_javascripts_rounded_middle_and_clamp():
  # Math.round((21 + 108) / 2) = Math.round(64.5) = 65 (Python's round gives 64).
  np.testing.assert_array_equal(mcw.shape_pitches([1, 2, 2, 0, 1]), [65, 66, 67, 66, 66])
  np.testing.assert_array_equal(mcw.shape_pitches([2, 2, 0, 0, 0], 60, 61),
                                [61, 61, 60, 60, 60])


# -- converters ---------------------------------------------------------------------
def _melody_sequence(tokens):
  return converters.MelodyConverter(valid_programs=None).to_note_sequence(np.array(tokens))


QUARTERS = [C4, D4, E4, D4, C4, D4, E4, D4]   # one note a quarter, 2 bars


def _quarters():
  return [t for q in QUARTERS for t in (q, 0, 0, 0)]


def test_rhythm_converter_windows_a_melody_into_onset_bits():
  converter = mcw.MelodyRhythmConverter()
  windows = converter.to_windows(_melody_sequence(_quarters()))
  assert windows.shape[1:] == (32, 1) and windows.dtype == np.int16
  np.testing.assert_array_equal(windows[0, :, 0], [1, 0, 0, 0] * 8)
  assert converter.bits and converter.part_depths == (2,)


def test_shape_converter_windows_a_melody_into_parsons_classes():
  converter = mcw.MelodyShapeConverter()
  windows = converter.to_windows(_melody_sequence(_quarters()))
  # up, up, down, down, up, up, down between onsets 4 steps apart.
  want = [2] * 5 + [2] * 4 + [0] * 4 + [0] * 4 + [2] * 4 + [2] * 4 + [0] * 4 + [0] * 3
  np.testing.assert_array_equal(windows[0, :, 0], want)
  assert not converter.bits and converter.part_depths == (3,)


def test_fast_windows_are_the_note_sequence_windows():
  ns = _melody_sequence(_quarters() + [E4, 0, 0, 0] * 8)
  for converter in (mcw.MelodyRhythmConverter(), mcw.MelodyShapeConverter()):
    np.testing.assert_array_equal(converter.fast_windows(ns), converter.all_windows(ns))


def test_equal_signals_are_kept_once_and_shapeless_windows_skipped():
  lone_last = [0] * 31 + [C4]
  melodies = np.array([_quarters(), [E4 if t else 0 for t in _quarters()], lone_last])[..., None]
  rhythm = mcw.MelodyRhythmConverter().from_melody_windows(melodies)
  assert len(rhythm) == 2   # the first two share their onsets
  shape = mcw.MelodyShapeConverter().from_melody_windows(melodies)
  np.testing.assert_array_equal(shape[:, :, 0], [mcw.shape_classes(_quarters()), [1] * 32])
  assert mcw.MelodyShapeConverter().from_melody_windows(melodies[2:]).shape == (0, 32, 1)


def test_transposing_leaves_rhythm_and_shape_as_they_are():
  windows = np.zeros((2, 32, 1), np.int16)
  moved, valid = mcw.MelodyShapeConverter().transpose(windows, np.array([3, -2]))
  assert moved is windows and valid.all()


def test_rhythm_to_note_sequence_writes_snare_hits_at_the_onsets():
  ns = mcw.MelodyRhythmConverter().to_note_sequence(np.array([1, 0, 0, 1]), qpm=120)
  assert [(n.pitch, n.start_time, n.end_time, n.is_drum) for n in ns.notes] == [
      (38, 0.0, 0.125, True), (38, 0.375, 0.5, True)]
  assert ns.total_time == 0.5


def test_shape_to_note_sequence_writes_a_note_per_step():
  ns = mcw.MelodyShapeConverter().to_note_sequence(np.array([[2], [0], [0], [1]]), qpm=60)
  assert [(n.pitch, n.start_time, n.end_time) for n in ns.notes] == [
      (66, 0.0, 0.25), (65, 0.25, 0.5), (64, 0.5, 0.75), (64, 0.75, 1.0)]


# -- bit outputs (TokenSpec.bits) ---------------------------------------------------
def test_bit_cross_entropy_by_hand():
  logits = jnp.array([[[0.0], [2.0], [-30.0]]])
  targets = jnp.array([[[1], [0], [1]]])
  got = losses.step_bit_cross_entropy(logits, targets)
  np.testing.assert_allclose(got, [[np.log(2), np.log1p(np.exp(2.0)), 30.0]], rtol=1e-6)
  mask = jnp.array([[1.0, 1.0, 0.0]])
  np.testing.assert_allclose(losses.bit_reconstruction_loss(logits, targets, mask),
                             [np.log(2) + np.log1p(np.exp(2.0))], rtol=1e-6)
  np.testing.assert_array_equal(losses.bit_predictions(logits)[..., 0], [[1, 1, 0]])


def test_bit_samples_are_bernoulli_at_the_temperature_and_threshold_greedy():
  keys = jax.random.split(jax.random.key(0), 20000)
  noise = decoders.logistic_noise(keys, 1, 1)
  logits = jnp.array([[1.0]])
  draws = jax.vmap(lambda n: decoders.sample_bits_with_noise(logits, [n], 1.0))(noise[0])
  assert abs(float(draws.mean()) - float(jax.nn.sigmoid(1.0))) < 0.01
  hot = jax.vmap(lambda n: decoders.sample_bits_with_noise(logits, [n], 2.0))(noise[0])
  assert abs(float(hot.mean()) - float(jax.nn.sigmoid(0.5))) < 0.01
  greedy = decoders.sample_bits_with_noise(jnp.array([[0.3], [-0.3], [1e-6]]),
                                           [noise[0][:3, 0]], 1e-12)
  np.testing.assert_array_equal(greedy[:, 0], [1, 0, 1])


def test_bit_spec_reads_values_and_writes_one_logit_per_part():
  spec = inputs.TokenSpec((2,), bits=True)
  assert spec.input_width(0) == 1 and spec.output_depth == 1
  assert spec.one_hot_inputs().bits


def _tiny(name):
  config = config_base.load_config_file(name)
  model = family.get(config).trained_model_class()(config, None)
  rng = np.random.default_rng(0)
  model.params = jax.tree.map(lambda x: rng.normal(0.0, 0.5, x.shape).astype(np.float32),
                              model._abstract_state().params)
  return model


def test_a_zero_bit_is_an_all_zero_input_as_in_magentajs():
  """magenta.js feeds the rhythm tensor itself: bit 0 is the zero input (our
  padding token -1), bit 1 the input 1."""
  model = _tiny('mel_rhythm_2bar.py:tiny')
  bits = np.array([[1, 0, 0, 1] * 8])[..., None]
  _, mu, _ = model.encode_tensors(bits)
  _, padded, _ = model.encode_tensors(np.where(bits == 0, -1, bits))
  _, ones, _ = model.encode_tensors(np.ones_like(bits))
  np.testing.assert_allclose(mu, padded, atol=1e-6)
  assert not np.allclose(mu, ones, atol=1e-3)


@pytest.mark.parametrize('name, depth', [('mel_rhythm_2bar.py:tiny', 1),
                                         ('mel_shape_2bar.py:tiny', 3)])
def test_tiny_models_decode_tokens_the_converter_reads(name, depth):
  model = _tiny(name)
  assert model.model.spec.output_depth == depth
  z = np.random.default_rng(1).standard_normal((3, model.config.z_size)).astype(np.float32)
  tokens = model.decode_to_tensors(z, temperature=0.5)
  assert tokens.shape == (3, 32, 1)
  assert set(np.unique(tokens)) <= set(range(model.spec.part_depths[0]))
  logits = model.teacher_forced_logits(z, tokens)
  assert logits.shape == (3, 32, depth)
  greedy = model.decode_to_tensors(z, temperature=1e-12)
  if depth == 1:   # the greedy bit of a step is logit >= 0 given the steps before it
    np.testing.assert_array_equal(greedy, model.teacher_forced_logits(z, greedy) >= 0)
  assert len(model.decode(z[:1])) == 1


def test_objective_scores_bits_with_sigmoid_cross_entropy_and_shape_events_on_every_step():
  rhythm = _tiny('mel_rhythm_2bar.py:tiny').objective
  shape = _tiny('mel_shape_2bar.py:tiny').objective
  assert rhythm.bits and rhythm.no_event_class == 0
  assert not shape.bits and shape.no_event_class is None
  batch = {'tokens': jnp.array([[[1], [0]]]), 'lengths': jnp.array([2])}
  out = {'logits': jnp.array([[[0.0], [2.0]]])}
  mask = rhythm.mask(batch)
  np.testing.assert_allclose(rhythm.reconstruction_loss(out, batch, mask),
                             [np.log(2) + np.log1p(np.exp(2.0))], rtol=1e-6)
  metrics = rhythm.train_metrics(out, batch, mask)
  assert float(metrics['accuracy']) == 0.5 and float(metrics['event_accuracy']) == 1.0


def test_controls_meter_and_hierarchy_are_refused_naming_the_key():
  from musicvae_jax.families.categorical import magentajs
  config = config_base.load_config_file('mel_rhythm_2bar.py:tiny')
  config.controls = 'triad_chords'
  with pytest.raises(ValueError, match=r"config.controls='triad_chords': a melody_rhythm"):
    family.build(config)
  config = config_base.load_config_file('mel_shape_2bar.py:tiny')
  config.meter = '3/4'
  with pytest.raises(ValueError, match=r"config.meter='3/4'"):
    family.build(config)
  config = config_base.load_config_file('mel_shape_2bar.py:tiny')
  config.use_hier = True
  assert magentajs.problem(config).startswith('config.use_hier=True')


def test_a_rhythm_and_shape_written_as_generate_choices_are_the_melodys_own_controls():
  """docs/models.md's recipe: the rhythm as x/. and the shape class at each
  onset after the first as u/r/d give a multicontrol model exactly the
  rhythm and shape columns of the melody they came from."""
  from musicvae_jax.data import control_choices
  tokens = np.array([50, 0, 1, 0, 48, 0, 0, 0, 46, 0, 46, 0, 53, 0, 0, 0,
                     41, 0, 0, 0, 0, 0, 0, 0, 48, 0, 1, 0, 0, 0, 55, 0])
  rhythm, shape = mcw.rhythm_bits(tokens), mcw.shape_classes(tokens)
  pattern = ''.join('x' if bit else '.' for bit in rhythm)
  code = ''.join('dru'[c] for c in shape[np.flatnonzero(rhythm)[1:]])
  assert (pattern, code) == ('x...x...x.x.x...x.......x.....x.', 'ddruduu')
  columns, _ = control_choices.build(32, rhythm=pattern, contour=code)
  own = melody_controls.melody_control_classes(tokens[None])[0]
  np.testing.assert_array_equal(columns[:, 1:3], own[:, :2])
