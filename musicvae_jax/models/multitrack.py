"""Free-running decoding of variable-length slots (Magenta's core decoder
sampling with an end token, inside `HierarchicalLstmDecoder`), as used by
the multitrack model (hier-multiperf_*): one slot per instrument, each slot
decoded until it samples the end token.

Per slot s (state reset from the conductor's embedding s, as in training):
  * an example stops at its first end token (that token is kept); its later
    steps are padding (-1), as Magenta outputs zero rows after `finished`;
  * the first input of slot s > 0 is row `max_b len_b - 1` of slot s - 1's
    (padded) output, Magenta's `all_samples[-1][:, -1]`: the last sample of
    the examples that ran longest, zeros (-1) for the others.

Time-major: conditioning `[n_slots, B, C]`, tokens `[n_slots * L, B, K]`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from musicvae_jax.models.decoders import gumbel_noise, sample_with_noise


def mask_after_end(tokens: jax.Array, slot_steps: int, end_token: int) -> jax.Array:
  """Batch-major tokens `[B, n * L, K]` -> the same with every step after a
  slot's first end token (part 0) set to -1 (padding)."""
  batch, steps = tokens.shape[:2]
  slots = tokens.reshape((batch, steps // slot_steps, slot_steps) + tokens.shape[2:])
  is_end = slots[..., 0] == end_token
  ended_before = (jnp.cumsum(is_end, axis=-1) - is_end) > 0
  return jnp.where(ended_before[..., None], -1, slots).reshape(tokens.shape)


def generate_slots(core, conds: jax.Array, slot_steps: int, key: jax.Array,
                   temperature, end_token: int):
  """Samples every slot (see the module docstring).

  Args:
    core: a bound `CoreDecoder`.
    conds: [n_slots, B, C] conductor embeddings.
    slot_steps: steps per slot (L).
    key: PRNG key (the same noise per step as `CoreDecoder.generate`).
    temperature: softmax temperature.
    end_token: class of part 0 that ends a slot.

  Returns:
    (tokens int32 [n_slots * L, B, K] with -1 after each slot's end,
     logits [n_slots * L, B, V]).
  """
  n_slots, batch = conds.shape[:2]
  flat = conds.reshape((n_slots * batch, -1))
  init = jax.tree.map(lambda x: x.reshape((n_slots, batch) + x.shape[1:]),
                      core.initial_carries(flat))
  cond_g = core.cond_gates(flat).reshape((n_slots, batch, -1))
  steps = n_slots * slot_steps
  part_depths = core.spec.part_depths
  noise = gumbel_noise(jax.random.split(key, steps), batch, part_depths)
  parts = len(part_depths)

  def body(mdl, carry, xs, init, cond_g):
    carries, last, done, length, buf = carry
    t, step_noise = xs
    slot, pos = t // slot_steps, t % slot_steps
    start = pos == 0
    longest = jnp.max(length)
    first = jnp.where(longest > 0, buf[jnp.maximum(longest - 1, 0)], -1)
    inputs = jnp.where(start, first, last)
    carries = jax.tree.map(lambda new, old: jnp.where(start, new, old),
                           jax.tree.map(lambda x: x[slot], init), carries)
    done = jnp.where(start, False, done)
    length = jnp.where(start, 0, length)
    buf = jnp.where(start, -1, buf)
    carries, h = mdl.lstm.step(carries, mdl.token_gates(inputs) + cond_g[slot])
    logits = mdl.logits(h)
    sample = sample_with_noise(logits, step_noise, part_depths, temperature)
    out = jnp.where(done[:, None], -1, sample)
    length = length + (~done).astype(jnp.int32)
    done = done | (sample[:, 0] == end_token)
    buf = buf.at[pos].set(out)
    return (carries, sample, done, length, buf), (out, logits)

  scan = nn.scan(body, variable_broadcast='params', split_rngs={'params': False},
                 in_axes=(0, nn.broadcast, nn.broadcast), out_axes=0)
  carry0 = (jax.tree.map(lambda x: x[0], init),
            jnp.full((batch, parts), -1, jnp.int32),
            jnp.zeros((batch,), bool), jnp.zeros((batch,), jnp.int32),
            jnp.full((slot_steps, batch, parts), -1, jnp.int32))
  _, (tokens, logits) = scan(core, carry0, (jnp.arange(steps), noise), init, cond_g)
  return tokens, logits
