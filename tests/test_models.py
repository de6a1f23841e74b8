"""Model structure: shapes, TF LSTM math, hierarchical independence of bars,
scheduled sampling, and gradient paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import losses
from musicvae_jax.models import MusicVAE, TokenSpec
from musicvae_jax.models.lstm import LSTMLayer

SPEC = TokenSpec((90,))


def make_model(hier: bool, **kw):
  args = dict(spec=SPEC, seq_len=64 if hier else 32, z_size=8,
              enc_rnn_sizes=(16, 12), dec_rnn_sizes=(12, 10), use_hier=hier,
              n_subsequences=4 if hier else 1, conductor_rnn_sizes=(10, 14))
  args.update(kw)
  return MusicVAE(**args)


def random_tokens(batch, steps, seed=0, parts=1, depth=90):
  return jnp.asarray(np.random.RandomState(seed).randint(0, depth, (batch, steps, parts)))


def init(model, batch=3):
  tokens = random_tokens(batch, model.seq_len)
  lengths = jnp.full((batch,), model.seq_len)
  rngs = {'params': jax.random.key(0), 'z': jax.random.key(1), 'sample': jax.random.key(2)}
  return model.init(rngs, tokens, lengths)['params'], tokens, lengths


def test_lstm_layer_matches_tf_block_cell_formula():
  layer = LSTMLayer(features=5, input_features=3, forget_bias=1.0)
  x = jax.random.normal(jax.random.key(0), (2, 3))
  c = jax.random.normal(jax.random.key(1), (2, 5))
  h = jax.random.normal(jax.random.key(2), (2, 5))
  params = layer.init(jax.random.key(3), (c, h), x)['params']
  params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero bias
  (new_c, new_h), _ = layer.apply({'params': params}, (c, h), x)
  # TF LSTMBlockCell: [x, h] @ kernel + bias, gates i, j, f, o.
  kernel = np.concatenate([params['input_kernel'], params['recurrent_kernel']], 0)
  gates = np.concatenate([x, h], 1) @ kernel + params['bias']
  i, j, f, o = np.split(gates, 4, axis=1)
  sig = lambda v: 1 / (1 + np.exp(-v))
  want_c = np.asarray(c) * sig(f + 1.0) + sig(i) * np.tanh(j)
  want_h = np.tanh(want_c) * sig(o)
  np.testing.assert_allclose(new_c, want_c, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(new_h, want_h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('hier', [False, True])
def test_output_shapes_and_parameter_names(hier):
  model = make_model(hier)
  params, tokens, lengths = init(model)
  out = model.apply({'params': params}, tokens, lengths, rngs={'z': jax.random.key(1)})
  assert out['logits'].shape == (3, model.seq_len, 90)
  assert out['mu'].shape == out['sigma'].shape == out['z'].shape == (3, 8)
  assert bool(jnp.all(out['sigma'] > 0))
  assert set(params['encoder']) == {'layer_0', 'layer_1', 'mu', 'sigma'}
  assert params['encoder']['layer_1']['fw']['input_kernel'].shape == (32, 48)
  if hier:
    assert params['conductor']['lstm']['layer_0']['input_kernel'].shape == (1, 40)
    # core decoder input: previous token one-hot + conductor output
    assert params['core_decoder']['lstm']['layer_0']['input_kernel'].shape == (90 + 14, 48)
    assert params['core_decoder']['z_to_initial_state']['kernel'].shape == (14, 2 * (12 + 10))
  else:
    assert params['decoder']['lstm']['layer_0']['input_kernel'].shape == (90 + 8, 48)
    assert params['decoder']['z_to_initial_state']['kernel'].shape == (8, 2 * (12 + 10))
  tokens_out, logits = model.apply({'params': params}, out['z'], 1.0,
                                   rngs={'sample': jax.random.key(5)}, method=model.sample)
  assert tokens_out.shape == (3, model.seq_len, 1) and logits.shape == (3, model.seq_len, 90)
  assert int(tokens_out.min()) >= 0 and int(tokens_out.max()) < 90


def _decode(model, params, z, tokens, p=None, key=7):
  return model.apply({'params': params}, z, tokens, p, rngs={'sample': jax.random.key(key)},
                     method=model.decode_logits)


def test_hierarchical_decoder_carries_no_state_across_bars():
  model = make_model(True)
  params, tokens, _ = init(model)
  z = jax.random.normal(jax.random.key(3), (3, 8))
  base = _decode(model, params, z, tokens)
  bar, steps = 1, 16
  # Change bar 1's targets except its last step (which is bar 2's first input).
  changed = tokens.at[:, bar * steps:(bar + 1) * steps - 1].set((tokens[:, bar * steps:(bar + 1) * steps - 1] + 7) % 90)
  other = _decode(model, params, z, changed)
  diff = np.abs(np.asarray(other - base)).reshape(3, 4, steps, 90).max(axis=(0, 2, 3))
  assert diff[bar] > 1e-4
  np.testing.assert_array_equal(diff[[0, 2, 3]], 0.0)


def test_flat_decoder_does_carry_state():
  model = make_model(False)
  params, tokens, _ = init(model)
  z = jax.random.normal(jax.random.key(3), (3, 8))
  base = _decode(model, params, z, tokens)
  changed = tokens.at[:, 2].set((tokens[:, 2] + 7) % 90)
  other = _decode(model, params, z, changed)
  assert float(jnp.abs(other - base)[:, 20:].max()) > 1e-5


@pytest.mark.parametrize('hier', [False, True])
def test_sampling_probability_zero_is_teacher_forcing(hier):
  model = make_model(hier)
  params, tokens, _ = init(model)
  z = jax.random.normal(jax.random.key(3), (3, 8))
  np.testing.assert_allclose(_decode(model, params, z, tokens, 0.0),
                             _decode(model, params, z, tokens), atol=1e-5)


def test_sampling_probability_one_feeds_samples_not_targets():
  model = make_model(False)
  params, tokens, _ = init(model)
  z = jax.random.normal(jax.random.key(3), (3, 8))
  a = _decode(model, params, z, tokens, 1.0)
  b = _decode(model, params, z, random_tokens(3, 32, seed=9), 1.0)
  # With probability 1 every input after the first is the model's own sample:
  # the targets are never read.
  np.testing.assert_allclose(a, b, atol=1e-6)
  assert float(jnp.abs(a - _decode(model, params, z, tokens)).max()) > 1e-4
  # and the samples are drawn, not argmaxed: another key, other logits.
  c = _decode(model, params, z, tokens, 1.0, key=8)
  assert float(jnp.abs(a - c).max()) > 1e-6


def test_encoder_respects_lengths():
  model = make_model(False)
  params, tokens, _ = init(model)
  lengths = jnp.array([20, 32, 5])
  other = tokens.at[0, 20:].set(3).at[2, 5:].set(4)
  mu_a, _ = model.apply({'params': params}, tokens, lengths, method=model.encode)
  mu_b, _ = model.apply({'params': params}, other, lengths, method=model.encode)
  np.testing.assert_allclose(mu_a, mu_b, atol=1e-6)
  # the backward direction reads up to the true length, so the first step matters
  changed = tokens.at[0, 0].set((tokens[0, 0] + 1) % 90)
  mu_c, _ = model.apply({'params': params}, changed, lengths, method=model.encode)
  assert float(jnp.abs(mu_c - mu_a)[0].max()) > 0


@pytest.mark.parametrize('hier', [False, True])
def test_reconstruction_gradient_reaches_encoder_through_z(hier):
  model = make_model(hier)
  params, tokens, lengths = init(model)

  def r_loss(p):
    out = model.apply({'params': p}, tokens, lengths, rngs={'z': jax.random.key(1)})
    return losses.reconstruction_loss(out['logits'], tokens, jnp.ones(tokens.shape[:2]), (90,)).mean()

  grads = jax.grad(r_loss)(params)
  assert float(jnp.abs(grads['encoder']['mu']['kernel']).max()) > 0
  assert float(jnp.abs(grads['encoder']['layer_0']['fw']['recurrent_kernel']).max()) > 0
  if hier:
    assert float(jnp.abs(grads['conductor']['lstm']['layer_1']['recurrent_kernel']).max()) > 0


def test_multi_part_tokens():
  spec = TokenSpec((5, 7))
  model = MusicVAE(spec=spec, seq_len=8, z_size=4, enc_rnn_sizes=(6,), dec_rnn_sizes=(6,))
  tokens = jnp.stack([jnp.arange(8) % 5, jnp.arange(8) % 7], -1)[None].repeat(2, 0)
  params = model.init({'params': jax.random.key(0), 'z': jax.random.key(1)}, tokens,
                      jnp.full((2,), 8))['params']
  assert params['encoder']['layer_0']['fw']['input_kernel'].shape == (12, 24)
  out = model.apply({'params': params}, tokens, jnp.full((2,), 8), rngs={'z': jax.random.key(1)})
  assert out['logits'].shape == (2, 8, 12)
  sampled, _ = model.apply({'params': params}, out['z'], rngs={'sample': jax.random.key(2)},
                           method=model.sample)
  assert sampled.shape == (2, 8, 2)
  assert int(sampled[..., 0].max()) < 5 and int(sampled[..., 1].max()) < 7


def test_embedding_inputs():
  model = make_model(False, encoder_embed_size=6, decoder_embed_size=5)
  params, tokens, lengths = init(model)
  assert params['encoder']['embedder']['embed_0'].shape == (90, 6)
  assert params['decoder']['lstm']['layer_0']['input_kernel'].shape == (5 + 8, 48)
  out = model.apply({'params': params}, tokens, lengths, rngs={'z': jax.random.key(1)})
  assert out['logits'].shape == (3, 32, 90)
