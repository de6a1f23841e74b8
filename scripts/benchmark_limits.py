"""The ceiling of an LSTM time loop on this machine: one recurrent matmul per
step, chained (each step needs the previous step's result), nothing else.

  python scripts/benchmark_limits.py                 # the shapes of the issue-17 targets
  python scripts/benchmark_limits.py --shapes=64x512x2048,512x512x2048

For each `MxKxN` it times a `lax.scan` of `--steps` steps of
`h = (h @ W)[:, :K]` (tiled when N < K) (`h [M, K]`, `W [K, N]`) and reports GFLOP/s and the
fraction of the `[n, n] @ [n, n]` matmul peak measured in the same process
(`benchmark.matmul_peak`). A model whose FLOPs are mostly such per-step
matmuls cannot reach a larger fraction of the peak than its shapes reach
here: that is the "measured limit" quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import benchmark  # noqa: E402

# Per-step matmuls of the targets: cat-mel_2bar_small (encoder 512, decoder
# 256 x 2: layer 0 recurrent, layer 1 fused [x, h]) and configs/hier.py at
# size 512 (encoder / conductor at batch 64, decoder at 16 bars x 64 = 1024).
DEFAULT_SHAPES = ('64x512x2048', '64x2048x512', '64x256x1024', '64x512x1024',
                  '512x512x2048', '1024x512x2048', '1024x1024x2048')


def loop_rate(m: int, k: int, n: int, steps: int = 64, repeats: int = 5) -> float:
  """FLOP/s of a chained `steps`-step loop of `[m, k] @ [k, n]`."""
  w = jax.random.normal(jax.random.key(0), (k, n)) / k ** 0.5
  h0 = jax.random.normal(jax.random.key(1), (m, k))

  @jax.jit
  def loop(h, w):
    def step(h, _):
      out = jnp.dot(h, w)
      return jnp.concatenate([out] * -(-k // n), axis=1)[:, :k], None
    return jax.lax.scan(step, h, None, length=steps)[0]

  loop(h0, w).block_until_ready()
  times = benchmark.timed_windows(lambda: loop(h0, w).block_until_ready(), repeats)
  return 2.0 * m * k * n * steps / statistics.median(times)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--shapes', default=','.join(DEFAULT_SHAPES))
  parser.add_argument('--steps', type=int, default=64)
  parser.add_argument('--json', default='')
  args = parser.parse_args()
  peak = benchmark.matmul_peak('float32')['flops_per_second']
  rows = []
  for shape in args.shapes.split(','):
    m, k, n = (int(x) for x in shape.split('x'))
    rate = loop_rate(m, k, n, args.steps)
    rows.append({'shape': shape, 'flops_per_second': rate, 'fraction_of_peak': rate / peak})
    print(f'{shape:>16}  {rate / 1e9:7.1f} GFLOP/s  {100 * rate / peak:5.1f} % of '
          f'{peak / 1e9:.0f} GFLOP/s', flush=True)
  if args.json:
    Path(args.json).write_text(json.dumps({'peak': peak, 'rows': rows}, indent=2))


if __name__ == '__main__':
  main()
