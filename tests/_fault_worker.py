"""One training run with an optional planned SIGKILL (used by test_faults.py).

  python tests/_fault_worker.py WORKDIR DATA CACHE NUM_STEPS [PLAN]

PLAN
  save:N:DELAY  SIGKILL itself DELAY seconds after the N-th checkpoint save of
                this process was started (orbax writes it in the background,
                so the kill lands inside the save)
  step:N        SIGKILL itself just before training step N

A run that ends prints `FINAL <step> <sha256>`: the hash of every array of
the newest checkpoint (parameters, optimizer, PRNG key, step) and of the
data iterator position, for bit-identity checks.
"""

import hashlib
import json
import os
import signal
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp

from musicvae_jax import checkpoints, config_base, steps, trainer


def tiny_config(data, cache, num_steps):
  config = config_base.load_config_file('configs/mel_2bar.py:tiny')
  config.train_dir, config.cache_dir = str(data), str(cache)
  config.num_workers = 1
  config.eval_fraction = 0.25
  config.num_steps = num_steps
  config_base.set_intervals(config, log=2, evaluate=4, checkpoint=2, advanced=10_000)
  config.keep_latest = 10
  return config


def _die() -> None:
  sys.stdout.flush()
  os.kill(os.getpid(), signal.SIGKILL)


def plan_kill(plan: str) -> None:
  kind, *args = plan.split(':')
  if kind == 'save':
    nth, delay = int(args[0]), float(args[1])
    real_save = checkpoints.Checkpointer.save
    count = [0]

    def save(self, *a, **kw):
      result = real_save(self, *a, **kw)
      count[0] += 1
      if count[0] == nth:
        time.sleep(delay)
        _die()
      return result
    checkpoints.Checkpointer.save = save
  elif kind == 'step':
    target = int(args[0])
    # The trainer runs the train step that also returns gradients
    # (`steps.jit_steps(..., with_grads=True)`).
    real_jit = steps.jit_steps

    def jit_steps(*a, **kw):
      train, *rest = real_jit(*a, **kw)

      def train_or_die(state, batch):
        if int(state.step) + 1 == target:
          _die()
        return train(state, batch)
      return (train_or_die, *rest)
    steps.jit_steps = jit_steps
  else:
    raise SystemExit(f'unknown plan {plan!r}')


def final_hash(workdir) -> tuple[int, str]:
  ckpt = checkpoints.Checkpointer(workdir, read_only=True, async_save=False)
  step = ckpt.latest_step()
  restored = ckpt.manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(), data=ocp.args.JsonRestore()))
  ckpt.close()
  digest = hashlib.sha256()
  leaves = jax.tree_util.tree_flatten_with_path(restored.state)[0]
  for path, leaf in sorted(leaves, key=lambda kv: jax.tree_util.keystr(kv[0])):
    if jax.dtypes.issubdtype(getattr(leaf, 'dtype', None), jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    array = np.asarray(leaf)
    digest.update(jax.tree_util.keystr(path).encode())
    digest.update(str(array.dtype).encode() + array.tobytes())
  digest.update(json.dumps(restored.data, sort_keys=True).encode())
  return step, digest.hexdigest()


def main(argv):
  workdir, data, cache, num_steps = argv[1:5]
  if len(argv) > 5:
    plan_kill(argv[5])
  trainer.train_and_evaluate(tiny_config(data, cache, int(num_steps)), workdir)
  step, digest = final_hash(workdir)
  print(f'FINAL {step} {digest}', flush=True)


if __name__ == '__main__':
  main(sys.argv)
