"""HierarchicalEncoder: per-segment independence, segment lengths, and the
same numbers as a plain per-segment BidirectionalEncoder and a NumPy LSTM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax.models.encoders import BidirectionalEncoder
from musicvae_jax.models.hier_encoder import (HierarchicalEncoder,
                                              segment_lengths, to_segments)
from musicvae_jax.models.inputs import TokenSpec

SPEC = TokenSpec((6, 3))


def _sigmoid(x):
  return 1. / (1. + np.exp(-x))


def _np_lstm(x, length, p, reverse):
  """TF LSTMBlockCell over x[:length] ([T, D]); outputs [T, H] (0 past length)."""
  units = p['bias'].shape[0] // 4
  h, c = np.zeros(units), np.zeros(units)
  out = np.zeros((x.shape[0], units))
  order = range(length - 1, -1, -1) if reverse else range(length)
  for t in order:
    g = x[t] @ p['input_kernel'] + h @ p['recurrent_kernel'] + p['bias']
    i, j, f, o = np.split(g, 4)
    c = c * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
    h = np.tanh(c) * _sigmoid(o)
    out[t] = h
  return h, out


def _np_bidirectional(x, length, stack):
  """Stacked bidirectional run, Magenta's code: concat(final fw h, final bw h)."""
  for k in range(len(stack)):
    layer = stack[f'layer_{k}']
    h_fw, o_fw = _np_lstm(x, length, layer['fw'], False)
    h_bw, o_bw = _np_lstm(x, length, layer['bw'], True)
    x = np.concatenate([o_fw, o_bw], -1)
  return np.concatenate([h_fw, h_bw])


def _one_hot(tokens, depths):
  return np.concatenate([np.eye(d)[tokens[..., k]] for k, d in enumerate(depths)], -1)


def _np_hierarchical(params, x, seg_lengths, levels):
  """x [B, T, D] float, seg_lengths [B, S0] -> code [B, 2H], level by level."""
  codes = []
  for b in range(x.shape[0]):
    seq, lengths = x[b], seg_lengths[b]
    for i, seg in enumerate(levels):
      n = seq.shape[0] // seg
      seq = np.stack([
          _np_bidirectional(seq[s * seg:(s + 1) * seg],
                            int(lengths[s]) if i == 0 else seg,
                            params[f'level_{i}'])
          for s in range(n)])
    codes.append(seq[0])
  return np.stack(codes)


def _apply(model, params, *args, method=None):
  """`model.apply` under jit (one compilation instead of op-by-op dispatch)."""
  return jax.jit(lambda p, *a: model.apply({'params': p}, *a, method=method))(params, *args)


def _params(model, tokens, lengths, controls=None):
  args = (tokens, lengths) if controls is None else (tokens, lengths, controls)
  params = jax.jit(model.init)(jax.random.key(0), *args)['params']
  # Non-zero biases so that the checks see them.
  return jax.tree.map(lambda p: p + 0.1 * jnp.sin(jnp.arange(p.size).reshape(p.shape)),
                      params)


def _data(levels, batch=3, seed=0):
  rng = np.random.default_rng(seed)
  steps = int(np.prod(levels))
  tokens = np.stack([rng.integers(0, d, (steps, batch)) for d in SPEC.part_depths],
                    -1).astype(np.int32)                      # [T, B, K]
  n = steps // levels[0]
  seg_len = rng.integers(0, levels[0] + 1, (batch, n)).astype(np.int32)
  seg_len[0] = levels[0]       # one full example
  seg_len[1, 1] = 0            # an empty segment
  return tokens, seg_len


def test_segment_lengths_and_to_segments():
  got = segment_lengths(jnp.array([0, 8, 5, 16]), 4, 4)
  np.testing.assert_array_equal(got, [[0, 0, 0, 0], [4, 4, 0, 0], [4, 1, 0, 0],
                                      [4, 4, 4, 4]])
  explicit = jnp.array([[1, 2]])
  assert segment_lengths(explicit, 2, 4) is explicit
  with pytest.raises(ValueError, match='3 segments'):
    segment_lengths(explicit, 3, 4)
  x = jnp.arange(12).reshape(6, 2)          # [T=6, B=2]
  np.testing.assert_array_equal(to_segments(x, 3),
                                [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]])


@pytest.mark.parametrize('levels,sizes', [((4, 3), (5, 4)), ((2, 2, 3), (4,))])
def test_matches_numpy_reference(levels, sizes):
  tokens, seg_len = _data(levels)
  model = HierarchicalEncoder(SPEC, levels, sizes, z_size=3)
  params = _params(model, tokens, seg_len)
  code = _apply(model, params, tokens, seg_len, method=HierarchicalEncoder.code)
  np_params = jax.tree.map(np.asarray, params)
  x = _one_hot(np.swapaxes(tokens, 0, 1), SPEC.part_depths)
  want = _np_hierarchical(np_params, x, seg_len, levels)
  np.testing.assert_allclose(code, want, atol=1e-5)
  mu, sigma = _apply(model, params, tokens, seg_len)
  np.testing.assert_allclose(mu, want @ np_params['mu']['kernel'] + np_params['mu']['bias'],
                             atol=1e-5)
  assert (np.asarray(sigma) > 0).all()
  # Dense inputs [T, B, D] (the concatenated one-hots) give the same code.
  dense = _apply(model, params, np.swapaxes(x, 0, 1).astype(np.float32), seg_len,
                 method=HierarchicalEncoder.code)
  np.testing.assert_allclose(dense, want, atol=1e-5)


def test_segments_are_independent_and_respect_their_lengths():
  levels = (4, 3)
  tokens, seg_len = _data(levels)
  model = HierarchicalEncoder(SPEC, levels, (5,), z_size=3)
  params = _params(model, tokens, seg_len)
  embed = jax.jit(lambda t, l: model.apply(
      {'params': params}, t, l, method=HierarchicalEncoder.segment_embeddings))
  base = np.asarray(embed(tokens, seg_len))                  # [S, B, 2H]
  # Change segment 1 of example 0 (full length): only that embedding moves.
  changed = tokens.copy()
  changed[4:8, 0] = (changed[4:8, 0] + 1) % 3
  moved = np.asarray(embed(changed, seg_len))
  diff = np.abs(moved - base).max(-1)                        # [S, B]
  assert diff[1, 0] > 1e-4
  diff[1, 0] = 0
  assert diff.max() == 0
  # Steps past a segment's length are never read.
  short = seg_len.copy()
  short[2] = [2, 1, 3]
  padded = tokens.copy()
  for s, length in enumerate(short[2]):
    padded[s * 4 + length:(s + 1) * 4, 2] = 0
  np.testing.assert_array_equal(embed(tokens, short)[:, 2], embed(padded, short)[:, 2])
  # An empty segment encodes to zeros (no step read in either direction).
  np.testing.assert_array_equal(base[1, 1], 0)


def test_level_zero_is_a_per_segment_bidirectional_encoder():
  levels = (4, 3)
  tokens, seg_len = _data(levels)
  model = HierarchicalEncoder(SPEC, levels, (5, 4), z_size=3)
  params = _params(model, tokens, seg_len)
  embeds = _apply(model, params, tokens, seg_len,
                  method=HierarchicalEncoder.segment_embeddings)
  # A BidirectionalEncoder with level 0's layers and mu = identity returns
  # its code as mu.
  flat = BidirectionalEncoder(SPEC, (5, 4), z_size=8)
  flat_params = dict(params['level_0'])
  flat_params['mu'] = {'kernel': jnp.eye(8), 'bias': jnp.zeros(8)}
  flat_params['sigma'] = flat_params['mu']
  flat_apply = jax.jit(lambda t, l: flat.apply({'params': flat_params}, t, l))
  for s in range(3):
    mu, _ = flat_apply(tokens[4 * s:4 * (s + 1)], seg_len[:, s])
    np.testing.assert_allclose(embeds[s], mu, atol=1e-6)


def test_total_lengths_split_like_magenta_and_controls_join_level_zero():
  levels = (4, 3)
  tokens, _ = _data(levels)
  model = HierarchicalEncoder(SPEC, levels, (5,), z_size=3)
  params = _params(model, tokens, jnp.full((3,), 12))
  full = _apply(model, params, tokens, jnp.array([12, 12, 0]))
  split = _apply(model, params, tokens, jnp.array([[4] * 3, [4] * 3, [0] * 3]))
  np.testing.assert_allclose(full[0], split[0], atol=0)
  # Controls: kernel rows after the token block, as Magenta's concat(inputs, controls).
  controls = np.random.default_rng(1).normal(size=(12, 3, 2)).astype(np.float32)
  seg_len = np.full((3, 3), 4, np.int32)
  with_controls = HierarchicalEncoder(SPEC, levels, (5,), z_size=3, control_depth=2)
  params = _params(with_controls, tokens, seg_len, controls)
  assert params['level_0']['layer_0']['fw']['input_kernel'].shape == (9 + 2, 20)
  code = _apply(with_controls, params, tokens, seg_len, controls,
                method=HierarchicalEncoder.code)
  x = np.concatenate([_one_hot(np.swapaxes(tokens, 0, 1), SPEC.part_depths),
                      np.swapaxes(controls, 0, 1)], -1)
  want = _np_hierarchical(jax.tree.map(np.asarray, params), x, seg_len, levels)
  np.testing.assert_allclose(code, want, atol=1e-5)


def test_bad_window_length_is_one_clear_error():
  model = HierarchicalEncoder(SPEC, (4, 3), (5,), z_size=3)
  tokens = jnp.zeros((10, 2, 2), jnp.int32)
  with pytest.raises(ValueError, match=r'multiply to 12'):
    model.init(jax.random.key(0), tokens, jnp.full((2,), 10))


@pytest.mark.parametrize('spec', ['hier_mel_16bar.py', 'hier_trio_16bar.py'])
def test_configs_select_the_hierarchical_encoder(spec):
  from musicvae_jax import config_base
  for variant in ('full', 'cpu', 'tiny'):
    config = config_base.load_config_file(f'{spec}:{variant}')
    config_base.validate(config)
    assert tuple(config.encoder_levels) == (16, 16) and config.use_hier
  config.encoder_levels = (16, 8)
  with pytest.raises(ValueError, match=r'config.encoder_levels=.*window length 256'):
    config_base.validate(config)
  with pytest.raises(ValueError, match="no variant 'big'"):
    config_base.load_config_file(f'{spec}:big')
