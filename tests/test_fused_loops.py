"""The fused LSTM loops (issue 17) give today's per-layer results.

`lstm_loops.grouped_run` (the encoder's two directions in one loop),
`lstm_loops.wavefront_run` (a stack as a wavefront) and `save='states'`
(recompute the gates in the backward pass) against the plain path: the
layer-by-layer `run_layer` with its hand-written backward, itself tested
against autodiff in test_optimised_paths.py. Values and every gradient.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax import config_base
from musicvae_jax.models import MusicVAE, TokenSpec
from musicvae_jax.models import lstm_loops
from musicvae_jax.models.encoders import BidirectionalLayer, FeatureEncoder
from musicvae_jax.models.hier_encoder import HierarchicalEncoder
from musicvae_jax.models.lstm import LoopChoice, StackedLSTM

SPEC = TokenSpec((90,))
CHOICES = {
    'wavefront': LoopChoice(wavefront=True),
    'fused_bidirectional': LoopChoice(fused_bidirectional=True),
    'states': LoopChoice(save='states'),
    'all': LoopChoice(wavefront=True, fused_bidirectional=True, save='states'),
}


def _close(a, b, tol=1e-5):
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=tol, atol=tol),
               a, b)


def _value_and_grads(fn, *args):
  return jax.jit(jax.value_and_grad(fn, argnums=tuple(range(len(args)))))(*args)


# ------------------------------------------------------------- pure loops --
@pytest.mark.parametrize('save', lstm_loops.SAVE_MODES)
@pytest.mark.parametrize('masked', [False, True])
def test_bidirectional_layer_fused_matches_two_loops(save, masked):
  """`BidirectionalLayer.run`: fused (one loop, G = 2) or states-saving
  against two `run_layer` loops, reversed direction and lengths included."""
  steps, batch, hidden, fan_in = 6, 4, 5, 3
  keys = jax.random.split(jax.random.key(0), 4)
  x = jax.random.normal(keys[0], (steps, batch, fan_in))
  keep = (jnp.arange(steps)[:, None] < jnp.array([6, 2, 4, 1])[None]
          if masked else None)
  weights = jax.random.normal(keys[1], (steps, batch, 2 * hidden))

  def loss(layer, params, x):
    bound = layer.bind(params)

    def gates():
      return tuple(d.project(x) for d in (bound.fw, bound.bw))
    h_fw, h_bw, out = bound.run(gates, keep)
    return jnp.sum(out * weights) + jnp.sum(h_fw ** 2) + jnp.sum(jnp.sin(h_bw))

  plain = BidirectionalLayer(hidden, fan_in)
  params = plain.init(keys[2], x,
                      method=lambda m, a: (m.fw.project(a), m.bw.project(a)))
  params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero biases
  want = _value_and_grads(functools.partial(loss, plain), params, x)
  for fused in (False, True):
    layer = BidirectionalLayer(hidden, fan_in,
                               loops=LoopChoice(fused_bidirectional=fused, save=save))
    got = _value_and_grads(functools.partial(loss, layer), params, x)
    _close(got, want)


@pytest.mark.parametrize('save', lstm_loops.SAVE_MODES)
@pytest.mark.parametrize('layers', [2, 3])
def test_wavefront_matches_layer_by_layer(save, layers):
  """`StackedLSTM.run` as a wavefront against the layer-by-layer run: final
  carries of every layer, all outputs, gradients of parameters, initial
  carries and the layer-0 input."""
  steps, batch, hidden, fan_in = 7, 3, 4, 5
  keys = jax.random.split(jax.random.key(1), 6)
  x = jax.random.normal(keys[0], (steps, batch, fan_in))
  carries = [(jax.random.normal(jax.random.fold_in(keys[1], k), (batch, hidden)),
              jax.random.normal(jax.random.fold_in(keys[2], k), (batch, hidden)))
             for k in range(layers)]
  weights = jax.random.normal(keys[3], (steps, batch, hidden))

  def loss(stack, params, x, carries):
    bound = stack.bind(params)
    finals, out = bound.run(carries, lambda: bound.layers[0].project(x))
    return (jnp.sum(out * weights)
            + sum(jnp.sum(c ** 2) + jnp.sum(jnp.sin(h)) for c, h in finals))

  plain = StackedLSTM((hidden,) * layers, fan_in)
  params = plain.init(keys[4], carries, jnp.zeros((steps, batch, 4 * hidden)),
                      method=StackedLSTM.run)
  params = jax.tree.map(lambda p: p + 0.05, params)
  want = _value_and_grads(functools.partial(loss, plain), params, x, carries)
  wave = StackedLSTM((hidden,) * layers, fan_in,
                     loops=LoopChoice(wavefront=True, save=save))
  assert wave.wavefront_applies
  _close(_value_and_grads(functools.partial(loss, wave), params, x, carries), want)


def test_wavefront_needs_equal_widths():
  assert not StackedLSTM((8, 7), 3, loops=LoopChoice(wavefront=True)).wavefront_applies
  assert not StackedLSTM((8,), 3, loops=LoopChoice(wavefront=True)).wavefront_applies


def test_bfloat16_saved_activations_close_to_float32():
  """With bfloat16 compute the saved activations are bfloat16 (half the
  memory); gradients stay close to the float32 ones."""
  steps, batch, hidden = 6, 4, 8
  keys = jax.random.split(jax.random.key(2), 4)
  gates = jax.random.normal(keys[0], (steps, 2, batch, 4 * hidden))
  kernels = jax.random.normal(keys[1], (2, hidden, 4 * hidden)) * 0.3
  zero = jnp.zeros((2, batch, hidden))

  def loss(dtype, gates, kernels):
    opts = lstm_loops.LoopOptions(dtype=dtype)
    (c, h), out = lstm_loops.grouped_run(lambda g: g, (gates,), kernels,
                                         (zero, zero), None, opts)
    return jnp.sum(out ** 2) + jnp.sum(c)

  fwd = jax.jit(lambda g, k: lstm_loops._grouped_fwd(
      lambda x: x, lstm_loops.LoopOptions(dtype=jnp.bfloat16), (g,), k,
      (zero, zero), None)[1])
  assert fwd(gates, kernels)[-1][1].dtype == jnp.bfloat16
  v32, g32 = _value_and_grads(functools.partial(loss, jnp.float32), gates, kernels)
  v16, g16 = _value_and_grads(functools.partial(loss, jnp.bfloat16), gates, kernels)
  np.testing.assert_allclose(v16, v32, rtol=3e-2)
  for a, b in zip(g16, g32):
    cos = jnp.vdot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
    assert cos > 0.99


# ------------------------------------------------------------ whole models --
def _model(hier, loops, **kw):
  return MusicVAE(spec=SPEC, seq_len=8, z_size=6, enc_rnn_sizes=(10, 10),
                  dec_rnn_sizes=(8, 8), use_hier=hier,
                  n_subsequences=2 if hier else 1, conductor_rnn_sizes=(9, 9),
                  loops=loops, **kw)


@pytest.mark.parametrize('hier', [False, True])
def test_music_vae_loss_and_grads_unchanged(hier):
  """Teacher-forced training loss and every gradient with every fused loop
  on, flat and hierarchical (encoder, conductor and decoder stacks all of
  one width; each option alone is tested above)."""
  choice = 'all'
  tokens = jnp.asarray(np.random.RandomState(0).randint(0, 90, (3, 8, 1)))
  lengths = jnp.array([8, 5, 3])
  rngs = {'z': jax.random.key(1), 'sample': jax.random.key(2)}

  def loss(model, p):
    out = model.apply({'params': p}, tokens, lengths, None, rngs=rngs)
    logp = jax.nn.log_softmax(out['logits'])
    nll = -jnp.take_along_axis(logp, tokens, axis=-1)
    return jnp.mean(nll) + 0.1 * jnp.mean(out['mu'] ** 2 + out['sigma'])

  base = _model(hier, LoopChoice())
  params = base.init({'params': jax.random.key(0), **rngs}, tokens,
                     jnp.full((3,), 8))['params']
  want = _value_and_grads(functools.partial(loss, base), params)
  fused = _model(hier, CHOICES[choice])
  _close(_value_and_grads(functools.partial(loss, fused), params), want)
  # The fused loops really ran: 2 encoder layers in grouped loops, the
  # decoder (and the conductor) as wavefronts.
  jaxpr = str(jax.make_jaxpr(functools.partial(loss, fused))(params))
  assert jaxpr.count('_grouped_primal') == 2
  assert jaxpr.count('_wavefront_primal') == (2 if hier else 1)


def test_hierarchical_and_feature_encoders_unchanged():
  """The other bidirectional users: Magenta's hierarchical encoder (token
  and dense levels) and the feature encoder of GrooVAE and the NADE."""
  tokens = jnp.asarray(np.random.RandomState(1).randint(0, 90, (8, 2, 1)))
  lengths = jnp.array([8, 5])
  feats = jax.random.normal(jax.random.key(3), (8, 2, 6))
  for make, args in (
      (lambda lc: HierarchicalEncoder(SPEC, (4, 2), (6, 6), 3, loops=lc),
       (tokens, lengths)),
      (lambda lc: FeatureEncoder(TokenSpec((6,)), (6, 6), 3, loops=lc),
       (feats, lengths))):
    base = make(LoopChoice())
    params = base.init(jax.random.key(0), *args)

    def loss(model, p):
      mu, sigma = model.apply(p, *args)
      return jnp.sum(mu ** 2) + jnp.sum(sigma)

    want = _value_and_grads(functools.partial(loss, base), params)
    got = _value_and_grads(functools.partial(loss, make(CHOICES['all'])), params)
    _close(got, want)


def test_config_fields_reach_the_model():
  config = config_base.load_config_file('hier.py:tiny')
  with config.unlocked():
    config.lstm_wavefront = True
    config.lstm_fused_bidirectional = True
    config.lstm_save = 'states'
  model = MusicVAE.from_config(config, SPEC)
  assert model.loops == CHOICES['all']
  with config.unlocked():
    config.lstm_save = 'everything'
  with pytest.raises(ValueError, match='lstm_save'):
    config_base.validate(config)
