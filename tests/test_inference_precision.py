"""Inference paths against plain references (issue 27).

* The encoder's precomputed input projections (one matmul over all steps,
  then `h @ recurrent_kernel` per step) and the decoder's step equal a plain
  LSTM that multiplies `[x, h] @ [input_kernel; recurrent_kernel]` at every
  step: mu, logits and greedy tokens.
* Stored LSTM kernels (`models/weight_storage.py`, `TrainedModel(weights=)`):
  exact conversions, the block-by-block matmul equals the plain one, XLA
  keeps no float32 copy of a stored kernel, and bfloat16 / int8 agree with
  float32 within the tolerances stated here (also on Magenta's checkpoints).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musicvae_jax.models import MusicVAE, TokenSpec
from musicvae_jax.models import cpu_kernels
from musicvae_jax.models import weight_storage as ws

import magenta_fixtures

DEPTH = 11


def _model(**kw):
  base = dict(spec=TokenSpec((DEPTH,)), seq_len=16, z_size=6, enc_rnn_sizes=(8, 8),
              dec_rnn_sizes=(7, 7), use_hier=True, n_subsequences=2,
              conductor_rnn_sizes=(5, 5))
  base.update(kw)
  return MusicVAE(**base)


def _params(model, seed=0, std=0.5):
  """Random parameters of `std` (larger than the init's, whose encoder heads
  of std 0.001 would hide errors), output bias zero (decodes that move)."""
  tokens = jnp.zeros((2, model.seq_len, 1), jnp.int32)
  shapes = jax.eval_shape(lambda: model.init(
      {'params': jax.random.key(seed), 'z': jax.random.key(1)},
      tokens, jnp.full((2,), model.seq_len))['params'])
  leaves, tree = jax.tree.flatten(shapes)
  keys = jax.random.split(jax.random.key(seed + 7), len(leaves))
  params = jax.tree.unflatten(tree, [std * jax.random.normal(k, x.shape)
                                     for k, x in zip(keys, leaves)])
  out = params['core_decoder']['output_projection']
  out['bias'] = jnp.zeros_like(out['bias'])
  return params


def _tokens(batch, steps, seed=0):
  return np.random.RandomState(seed).randint(0, DEPTH, (batch, steps, 1)).astype(np.int32)


# --------------------------------------------------------- plain reference --
def _plain_step(p, carry, x):
  """One LSTM step the plain way: `[x, h] @ [input_kernel; recurrent_kernel]`."""
  c, h = carry
  kernel = jnp.concatenate([p['input_kernel'], p['recurrent_kernel']], 0)
  gates = jnp.concatenate([x, h], -1) @ kernel + p['bias']
  i, j, f, o = jnp.split(gates, 4, -1)
  c = c * jax.nn.sigmoid(f + 1.0) + jax.nn.sigmoid(i) * jnp.tanh(j)
  return c, jnp.tanh(c) * jax.nn.sigmoid(o)


def _plain_run(p, xs, keep, reverse):
  """xs [T, B, I], keep bool [T, B] -> (final h [B, H], outputs [T, B, H])."""
  size = p['recurrent_kernel'].shape[0]
  zero = jnp.zeros((xs.shape[1], size))

  def step(carry, inputs):
    x, k = inputs
    new = _plain_step(p, carry, x)
    new = tuple(jnp.where(k[:, None], n, o) for n, o in zip(new, carry))
    return new, new[1]

  (_, h), out = jax.lax.scan(step, (zero, zero), (xs, keep), reverse=reverse)
  return h, out


def _plain_encode(p, tokens, lengths):
  """tokens int [B, T, 1] -> mu [B, Z], one-hot inputs, every step [x, h] @ W."""
  x = jnp.swapaxes(jax.nn.one_hot(tokens[..., 0], DEPTH), 0, 1)
  keep = jnp.arange(x.shape[0])[:, None] < lengths[None, :]
  for k in range(len([n for n in p if n.startswith('layer_')])):
    layer = p[f'layer_{k}']
    h_fw, out_fw = _plain_run(layer['fw'], x, keep, reverse=False)
    h_bw, out_bw = _plain_run(layer['bw'], x, keep, reverse=True)
    x = jnp.concatenate([out_fw, out_bw], -1)
  code = jnp.concatenate([h_fw, h_bw], -1)
  return code @ p['mu']['kernel'] + p['mu']['bias']


def _initial(dense, z, sizes):
  flat = jnp.tanh(z @ dense['kernel'] + dense['bias'])
  out, at = [], 0
  for s in sizes:
    out.append((flat[:, at:at + s], flat[:, at + s:at + 2 * s]))
    at += 2 * s
  return out


def _plain_greedy(p, z, n_bars, bar_steps, sizes, conductor_sizes):
  """Greedy tokens [B, n_bars * bar_steps] and logits of the hierarchical
  decoder, stepped the plain way (Python loops, one-hot inputs)."""
  cond = p['conductor']
  carries = _initial(cond['z_to_initial_state'], z, conductor_sizes)
  embeddings = []
  for _ in range(n_bars):
    x = jnp.zeros((z.shape[0], 1))
    for k, size in enumerate(conductor_sizes):
      carries[k] = _plain_step(cond['lstm'][f'layer_{k}'], carries[k], x)
      x = carries[k][1]
    embeddings.append(x)
  core = p['core_decoder']
  last = jnp.zeros((z.shape[0], DEPTH))
  tokens, logits = [], []
  for e in embeddings:
    carries = _initial(core['z_to_initial_state'], e, sizes)
    for _ in range(bar_steps):
      x = jnp.concatenate([last, e], -1)
      for k in range(len(sizes)):
        carries[k] = _plain_step(core['lstm'][f'layer_{k}'], carries[k], x)
        x = carries[k][1]
      out = x @ core['output_projection']['kernel'] + core['output_projection']['bias']
      token = jnp.argmax(out, -1)
      tokens.append(token)
      logits.append(out)
      last = jax.nn.one_hot(token, DEPTH)
  return jnp.stack(tokens, 1), jnp.stack(logits, 1)


def test_precomputed_input_projections_equal_plain_lstm():
  """Encoder (one input-projection matmul over all steps, per-step
  `h @ recurrent_kernel`, token rows gathered) and greedy decoder against
  the plain `[x, h] @ [W_in; W_rec]` LSTM: float32 tolerance, same tokens."""
  model = _model()
  params = _params(model, seed=1, std=1.5)
  tokens = _tokens(3, 16)
  lengths = jnp.asarray([16, 11, 5])
  mu, _ = jax.jit(lambda p: model.apply({'params': p}, tokens, lengths,
                                        method=MusicVAE.encode))(params)
  ref = jax.jit(_plain_encode)(params['encoder'], tokens, lengths)
  np.testing.assert_allclose(mu, ref, rtol=1e-5, atol=1e-5)

  z = jax.random.normal(jax.random.key(3), (3, 6))
  greedy, logits = jax.jit(lambda p: model.apply(
      {'params': p}, z, 1e-5, rngs={'sample': jax.random.key(0)},
      method=MusicVAE.sample))(params)
  ref_tokens, ref_logits = _plain_greedy(params, z, 2, 8, (7, 7), (5, 5))   # eager
  np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(np.asarray(greedy)[..., 0], ref_tokens)
  assert len(np.unique(ref_tokens)) > 3      # a decode that moves, not one note


# ------------------------------------------------------------ stored kernels --
def test_conversions_are_exact_and_int8_error_is_bounded():
  w = jax.random.normal(jax.random.key(0), (40, 24)).at[:, 3].set(0.)
  bf = ws.store(w, 'bfloat16')
  assert bf.values.dtype == jnp.uint16 and bf.format == 'bfloat16'
  np.testing.assert_array_equal(ws.dense(bf), w.astype(jnp.bfloat16).astype(jnp.float32))
  np.testing.assert_array_equal(bf.bfloat16_values(), w.astype(jnp.bfloat16))
  q = ws.store(w, 'int8')
  assert q.values.dtype == jnp.int8 and q.format == 'int8'
  err = np.abs(ws.dense(q) - w)
  assert np.all(err <= q.scale / 2 + 1e-7)              # half a step per column
  assert np.all(ws.dense(q)[:, 3] == 0)                 # an all-zero column
  assert ws.store(w, 'float32') is w
  with pytest.raises(ValueError, match='weights=.float16.'):
    ws.check_format('float16')


@pytest.mark.parametrize('fmt', ['bfloat16', 'int8'])
def test_blocked_matmul_equals_plain_matmul_in_a_time_loop(fmt):
  """The block-by-block conversion (a step's few rows) equals converting the
  whole kernel, inside a scan as in a decoder; XLA keeps no float32 [K, N]
  copy of the stored kernel (it would read float32 at every step)."""
  k, n = 48, 64
  kernel = ws.store(jax.random.normal(jax.random.key(0), (k, n)), fmt)
  xs = jax.random.normal(jax.random.key(1), (5, 2, k))

  def loop(kernel, xs, block_bytes):
    def step(h, x):
      y = ws.matmul(x + h[:, :k], kernel, block_bytes=block_bytes)
      return jnp.tanh(y), y
    return jax.lax.scan(step, jnp.zeros((2, n)), xs)[1]

  assert ws.block_rows(k, n, 16 * 4 * n) == 16
  assert ws.block_rows(k, n, 100 * 4 * n) == k
  blocked = jax.jit(lambda kn, x: loop(kn, x, 16 * 4 * n))
  plain = jax.jit(lambda kn, x: loop(kn, x, 10 ** 9))
  np.testing.assert_allclose(blocked(kernel, xs), plain(kernel, xs), rtol=1e-5, atol=1e-5)
  text = blocked.lower(kernel, xs).compile().as_text()
  assert f'f32[{k},{n}]' not in text and f'f32[3,16,{n}]' not in text
  # Many rows: converted once, one matmul; same numbers.
  wide = jax.random.normal(jax.random.key(2), (ws.STEP_ROWS + 1, k))
  no_host = ws.StoredKernel(kernel.values, kernel.scale)
  np.testing.assert_allclose(ws.matmul(wide, no_host), wide @ ws.dense(kernel),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not cpu_kernels.available() or jax.default_backend() != 'cpu',
                    reason='int8 host values exist on the CPU backend with numba')
def test_int8_many_rows_quantise_rows_and_stay_close():
  """Many rows of an int8 kernel on CPU (whole-sequence projections): rows
  quantised per row, exact int32 products, within 2 % of the float32 product
  of the stored kernel (relative to its largest value)."""
  k, n = 40, 24
  kernel = ws.store(jax.random.normal(jax.random.key(0), (k, n)), 'int8')
  x = jnp.tanh(jax.random.normal(jax.random.key(1), (3, ws.STEP_ROWS, k)))
  out = ws.matmul(x, kernel)
  peak = np.abs(np.asarray(x)).max(-1, keepdims=True) / 127.
  xq = np.clip(np.round(np.asarray(x) / peak), -127, 127).astype(np.int64)
  exact = (xq @ np.asarray(kernel.values, np.int64)) * peak * np.asarray(kernel.scale)
  np.testing.assert_allclose(out, exact, rtol=1e-5, atol=1e-5)
  ref = x @ ws.dense(kernel)
  assert float(jnp.abs(out - ref).max()) < 0.02 * float(jnp.abs(ref).max())


@pytest.mark.skipif(not cpu_kernels.available(), reason='numba is not installed')
def test_cpu_int8_kernel_matches_numpy():
  rs = np.random.RandomState(0)
  for m, k, n in ((1, 37, 24), (3, 64, 40)):              # K not a multiple of 4 too
    q = rs.randint(-127, 128, (k, n)).astype(np.int8)
    scale = rs.uniform(0.01, 1., n).astype(np.float32)
    x = rs.standard_normal((m, k)).astype(np.float32)
    np.testing.assert_allclose(cpu_kernels.matmul_host(x, q, scale),
                               (x.astype(np.float64) @ q) * scale, rtol=1e-5, atol=1e-5)
  with pytest.raises(TypeError, match='int8'):
    cpu_kernels.matmul_host(x, q.astype(np.int16), scale)


@pytest.mark.skipif(not cpu_kernels.available() or jax.default_backend() != 'cpu',
                    reason='the numba kernel runs on the CPU backend with numba')
def test_cpu_int8_path_in_a_time_loop_equals_xla_path(monkeypatch):
  """int8 steps on the numba kernel (a callback whose only operand is the
  step's input: the kernel is not copied per call) equal the XLA path and
  the dense float32 product; so does the one callback for [x, h] @ [W_in;
  W_rec]."""
  k, n = 24, 32
  monkeypatch.setattr(ws, 'CPU_KERNEL_MIN_WEIGHTS', k * n)
  w_in = ws.store(jax.random.normal(jax.random.key(0), (k, n)), 'int8')
  w_rec = ws.store(jax.random.normal(jax.random.key(1), (k, n)), 'int8')
  assert w_in.host is not None and ws.rows(w_in, 0, 8).host.shape == (8, n)
  xla = [ws.StoredKernel(w.values, w.scale) for w in (w_in, w_rec)]    # no host
  xs = jax.random.normal(jax.random.key(2), (6, 2, k))

  def loop(w_in, w_rec, xs):
    def step(h, x):
      y = ws.concat_matmul((x, h[:, :k]), (w_in, w_rec)) + ws.matmul(x, w_rec)
      return jnp.tanh(y), y
    return jax.lax.scan(step, jnp.zeros((2, n)), xs)[1]

  def dense(h, x):
    y = x @ ws.dense(w_in) + h[:, :k] @ ws.dense(w_rec) + x @ ws.dense(w_rec)
    return jnp.tanh(y), y

  fast = jax.jit(loop)
  np.testing.assert_allclose(fast(w_in, w_rec, xs), jax.jit(loop)(*xla, xs),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(fast(w_in, w_rec, xs),
                             jax.lax.scan(dense, jnp.zeros((2, n)), xs)[1],
                             rtol=1e-5, atol=1e-5)
  text = fast.lower(w_in, w_rec, xs).compile().as_text()
  calls = [line for line in text.splitlines() if 'custom-call(' in line]
  assert len(calls) == 2 and not any('s8[' in line for line in calls)
  assert f'f32[{k},{n}]' not in text


@pytest.mark.skipif(not cpu_kernels.available() or jax.default_backend() != 'cpu',
                    reason='the numba kernel runs on the CPU backend with numba')
def test_cpu_int8_recurrence_equals_xla_recurrence(monkeypatch):
  """Whole-sequence int8 runs on the numba kernel (both directions in one
  callback, held steps, a non-zero initial state) equal `run_layer`'s XLA
  loop over the same stored kernel."""
  from musicvae_jax.models.lstm import LSTMLayer, run_layer, run_stored_layers
  monkeypatch.setattr(ws, 'CPU_KERNEL_MIN_WEIGHTS', 1)
  layer = LSTMLayer(features=6, input_features=5, forget_bias=0.7)
  params = layer.init(jax.random.key(0), (jnp.zeros((3, 6)),) * 2, jnp.zeros((3, 5)))
  params = jax.tree.map(lambda x: x + 0.3 * jax.random.normal(jax.random.key(1), x.shape),
                        params)
  stored = ws.store_params(params, 'int8')
  kernel = stored['params']['recurrent_kernel']
  no_host = {'params': {**stored['params'],
                        'recurrent_kernel': ws.StoredKernel(kernel.values, kernel.scale)}}
  gates = jax.random.normal(jax.random.key(2), (9, 3, 24))
  keep = jnp.arange(9)[:, None] < jnp.asarray([9, 5, 1])[None, :]
  carry = (0.5 * jnp.ones((3, 6)), -0.2 * jnp.ones((3, 6)))

  def xla(reverse):
    return layer.apply(no_host, method=lambda m: run_layer(m, carry, gates, keep, reverse))

  fast = layer.apply(stored, method=lambda m: run_stored_layers(
      [(m, carry, gates, keep, False), (m, carry, gates, None, True)]))
  for (final, out), ref in zip(fast, (xla(False), layer.apply(
      no_host, method=lambda m: run_layer(m, carry, gates, None, True)))):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
                 (final, out), ref)
  # run_layer itself takes the numba path for a kernel with host values.
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               layer.apply(stored, method=lambda m: run_layer(m, carry, gates, keep, True)),
               xla(True))


@pytest.mark.skipif(not cpu_kernels.available() or jax.default_backend() != 'cpu',
                    reason='the numba kernel runs on the CPU backend with numba')
def test_cpu_int8_stack_step_equals_xla_step(monkeypatch):
  """A decoder step through stacked int8 layers in one callback equals the
  layer-by-layer XLA step over the same stored kernels."""
  from musicvae_jax.models.lstm import StackedLSTM
  stack = StackedLSTM(sizes=(8, 6, 6), input_features=5, forget_bias=0.5)
  carries = [(jax.random.normal(jax.random.key(k), (2, h)),) * 2
             for k, h in enumerate((8, 6, 6))]
  gates0 = jax.random.normal(jax.random.key(9), (2, 32))
  params = stack.init(jax.random.key(0), carries, gates0, method=StackedLSTM.step)
  params = jax.tree.map(lambda x: x + 0.2, params)
  stored = ws.store_params(params, 'int8')
  xla = {'params': {name: {key: (ws.StoredKernel(v.values, v.scale) if ws.is_stored(v) else v)
                           for key, v in layer.items()}
                    for name, layer in stored['params'].items()}}   # no host values
  run = jax.jit(lambda p: stack.apply(p, carries, gates0, method=StackedLSTM.step))
  monkeypatch.setattr(ws, 'CPU_KERNEL_MIN_WEIGHTS', 1)
  fast = run(stored)
  assert 'custom-call' in run.lower(stored).compile().as_text()
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               fast, run(xla))


def _without_host(tree):
  """`tree` with every int8 kernel's host values dropped (the XLA paths)."""
  if isinstance(tree, dict):
    return {k: _without_host(v) for k, v in tree.items()}
  if ws.is_stored(tree):
    return ws.StoredKernel(tree.values, tree.scale)
  return tree


@pytest.mark.skipif(not cpu_kernels.available() or jax.default_backend() != 'cpu',
                    reason='the numba kernel runs on the CPU backend with numba')
def test_cpu_int8_decode_loop_equals_xla_loop(monkeypatch):
  """The free-running decode as one numba loop (two token parts, chord-like
  controls, temperature 1 with its Gumbel noise, bars resetting the state)
  samples the same tokens as the XLA loop over the same int8 kernels, logits
  to float tolerance."""
  monkeypatch.setattr(ws, 'CPU_KERNEL_MIN_WEIGHTS', 1)
  model = _model(spec=TokenSpec((5, 6), control_depths=(4,)))
  tokens = jnp.zeros((2, 16, 2), jnp.int32)
  controls = jnp.asarray(np.random.RandomState(0).randint(0, 4, (2, 16, 1)))
  shapes = jax.eval_shape(lambda: model.init(
      {'params': jax.random.key(0), 'z': jax.random.key(1)}, tokens,
      jnp.full((2,), 16), None, controls)['params'])
  leaves, tree = jax.tree.flatten(shapes)
  keys = jax.random.split(jax.random.key(5), len(leaves))
  params = jax.tree.unflatten(tree, [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
  stored = ws.store_params(params, 'int8')
  z = jax.random.normal(jax.random.key(3), (2, 6))
  run = jax.jit(lambda p: model.apply({'params': p}, z, 1.0, None, controls,
                                      rngs={'sample': jax.random.key(0)},
                                      method=MusicVAE.sample))
  fast_tokens, fast_logits = run(stored)
  assert 'custom-call' in run.lower(stored).compile().as_text()
  ref_tokens, ref_logits = run(_without_host(stored))
  np.testing.assert_array_equal(fast_tokens, ref_tokens)
  np.testing.assert_allclose(fast_logits, ref_logits, rtol=1e-4, atol=1e-4)
  assert len(np.unique(np.asarray(ref_tokens))) > 3


# Stated tolerances (random parameters of std 0.5, layers of 5-8 units):
# max |mu error| / max |mu| below 1 % (bfloat16) and 3 % (int8); greedy
# tokens equal to float32's at >= 90 % of steps.
RELATIVE_MU_ERROR = {'bfloat16': 0.01, 'int8': 0.03}


def test_stored_kernels_agree_with_float32(monkeypatch):
  monkeypatch.setattr(ws, 'BLOCK_BYTES', 4 * 4 * 32)     # blocks of 4 rows here
  model = _model()
  params = _params(model, seed=2)
  tokens, lengths = _tokens(4, 16, seed=3), jnp.asarray([16, 16, 11, 5])
  z = jax.random.normal(jax.random.key(4), (4, 6))

  @jax.jit
  def run(p):
    mu, _ = model.apply({'params': p}, tokens, lengths, method=MusicVAE.encode)
    greedy, _ = model.apply({'params': p}, z, 1e-5, rngs={'sample': jax.random.key(0)},
                            method=MusicVAE.sample)
    return mu, greedy

  mu32, greedy32 = run(params)
  for fmt in ('bfloat16', 'int8'):
    stored = ws.store_params(params, fmt)
    mu, greedy = run(stored)
    rel = float(jnp.abs(mu - mu32).max() / jnp.abs(mu32).max())
    assert 0 < rel < RELATIVE_MU_ERROR[fmt], fmt
    assert np.mean(np.asarray(greedy) == np.asarray(greedy32)) >= 0.9, fmt
    assert ws.nbytes(stored) < (0.6 if fmt == 'bfloat16' else 0.5) * ws.nbytes(params)
    assert stored['encoder']['mu']['kernel'] is params['encoder']['mu']['kernel']


FIXTURES = magenta_fixtures.FIXTURES


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f'no Magenta fixtures at {FIXTURES}')
@pytest.mark.parametrize('name', ['cat-mel_2bar_small', 'hierdec-mel_16bar'])
def test_stored_kernels_on_magenta_checkpoints(name):
  """Magenta's checkpoints, stored kernels against float32: mu within 1e-2
  (max |mu| 2.6-3.4; measured 3.5e-3 bfloat16 / 6.2e-3 int8 at worst),
  teacher-forced logits within 5e-3 (bfloat16) / 2e-2 (int8) (measured
  1.4e-3 / 9.9e-3 at worst; max |logit| 4.6-6.2), greedy decodes identical
  to float32's and Magenta's (these barely trained models decode silence:
  the logits bound is the informative one)."""
  model, params, golden, tokens = magenta_fixtures.load(name)
  run = jax.jit(lambda p: (
      model.apply({'params': p}, tokens, golden['lengths'], method=MusicVAE.encode)[0],
      model.apply({'params': p}, golden['mu'], tokens, method=MusicVAE.decode_logits),
      model.apply({'params': p}, jnp.asarray(golden['mu']), 1e-5,
                  rngs={'sample': jax.random.key(0)}, method=MusicVAE.sample)[0]))
  mu32, logits32, greedy32 = run(params)
  np.testing.assert_array_equal(np.asarray(greedy32)[..., 0], golden['greedy_tokens'])
  for fmt, logits_tol in (('bfloat16', 5e-3), ('int8', 2e-2)):
    mu, logits, greedy = run(ws.store_params(params, fmt))
    assert float(jnp.abs(mu - mu32).max()) < 1e-2, fmt
    assert float(jnp.abs(logits - logits32).max()) < logits_tol, fmt
    np.testing.assert_array_equal(greedy, greedy32)


def test_trained_model_weights_option():
  from musicvae_jax import config_base
  from musicvae_jax.trained_model import TrainedModel
  config = config_base.load_config_file('mel_2bar.py:tiny')
  base = TrainedModel(config, None)
  params = jax.tree.map(lambda s: 0.3 * jax.random.normal(jax.random.key(0), s.shape),
                        base._abstract_state().params)
  with pytest.raises(ValueError, match='weights='):
    TrainedModel(config, params, weights='int4')
  f32 = TrainedModel(config, params)
  assert f32.weights == 'float32' and f32.inference_params is params
  q = TrainedModel(config, params, weights='int8')
  assert q.params is params                                   # exports stay float32
  layer = q.inference_params['decoder']['lstm']['layer_0']
  assert ws.is_stored(layer['recurrent_kernel']) and ws.is_stored(layer['input_kernel'])
  tokens = _tokens(3, q.seq_len)
  _, mu32, _ = f32.encode_tensors(tokens)
  _, mu8, _ = q.encode_tensors(tokens)
  assert float(np.abs(mu8 - mu32).max()) < 0.03 * float(np.abs(mu32).max())
  z = np.random.RandomState(0).standard_normal((3, config.z_size)).astype(np.float32)
  assert q.decode_to_tensors(z, temperature=1e-5).shape == (3, q.seq_len, 1)
  q.params = jax.tree.map(lambda x: 2 * x, params)           # new params: re-stored
  assert not np.array_equal(q.inference_params['decoder']['lstm']['layer_0']['bias'],
                            layer['bias'])


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f'no Magenta fixtures at {FIXTURES}')
def test_model_source_loads_with_weights(tmp_path):
  """What generate / studio --weights=int8 do: model_source.load(..., weights=)."""
  from musicvae_jax import model_source
  from musicvae_jax.magenta import convert
  assert model_source.WEIGHT_FORMATS == ws.FORMATS
  name = 'cat-mel_2bar_small'
  folder = FIXTURES / name
  prefix = folder / (folder / 'checkpoint_name.txt').read_text().strip()
  workdir = convert.convert_checkpoint(name, str(prefix), str(tmp_path / 'run'),
                                       hparams='z_size=32')
  model = model_source.load(workdir, weights='int8')
  assert model.weights == 'int8' and model.step > 0
  assert ws.is_stored(model.inference_params['decoder']['lstm']['layer_0']['recurrent_kernel'])
  golden = dict(np.load(folder / 'golden.npz'))
  _, mu, _ = model.encode_tensors(golden['inputs_onehot'], golden['lengths'])
  assert float(np.abs(mu - golden['mu']).max()) < 1e-2
