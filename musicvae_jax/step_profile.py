"""Where a jitted step's wall time goes on XLA:CPU (issue 27 point 4).

Two inputs, both from one compiled executable:

* the optimized HLO text (`compiled.as_text()`), read by `parse_hlo` into
  one `Instr` per instruction: opcode, shape, the computation it lives in,
  the while loop around it (with its trip count), a category and, for
  matmuls, the FLOPs and an `M x K x N` shape;
* a profiler trace (`jax.profiler.trace`): XLA:CPU's thunk runtime
  (jax 0.10.2) records one event per executed thunk, named after its HLO
  instruction (`args.hlo_op`), with `args.run_id` telling executions apart.
  A while loop is a thunk whose body thunks are nested events in it.

`attribute` lays every execution's events on one time line and shares each
instant among the leaf thunks running at that instant (two threads running
two thunks: half each), so the categories add up to the execution's wall
time exactly: time when only a while thunk is active (condition, body
dispatch, waiting) is `loop overhead`, time with no thunk active at all is
`gaps` (thunk scheduling between top-level thunks). The categories:

  matmul        a dot, or a fusion containing one (YNNPACK `ynn_fusion`s)
  optimizer     outside the model (no `MusicVAE` in the op name), shaped like
                a parameter: Adam, the update, the global norms
  copy          copy, transpose, concatenate, broadcast, slice, pad, gather,
                (dynamic-)update-slice, or a fusion made only of these
                (stacking per-step states, zero-filling scan buffers)
  reduction     a reduce or a scatter (the gradient of a row gather: token
                inputs), or a fusion containing one
  elementwise   other fusions and element-wise ops (LSTM gates, softmax)
  loop overhead, gaps   as above
  other         anything else (rng, custom calls without a dot, sort)

Nothing here runs a model: `scripts/profile_step.py` builds the step, takes
the trace and prints `format_report`.
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import json
import math
import os
import re
from collections import defaultdict
from typing import Any, Iterable

CATEGORIES = ('matmul', 'elementwise', 'copy', 'reduction', 'optimizer',
              'loop overhead', 'gaps', 'other')
CONTROL = {'while', 'conditional', 'call'}
NO_THUNK = {'parameter', 'get-tuple-element', 'tuple', 'bitcast', 'constant',
            'after-all', 'opt-barrier'}
COPY_OPS = {'copy', 'transpose', 'concatenate', 'broadcast', 'slice', 'pad',
            'gather', 'dynamic-slice', 'dynamic-update-slice', 'reshape',
            'reverse', 'bitcast', 'parameter', 'constant', 'tuple',
            'get-tuple-element', 'iota'}

_COMP = re.compile(r'^(ENTRY )?%([\w.\-]+) ')
_INSTR = re.compile(r'^\s+(ROOT )?%([\w.\-]+) = ')
_SHAPE = re.compile(r'^(\w+)\[([\d,]*)\]')


@dataclasses.dataclass
class Instr:
  """One HLO instruction of the optimized module.

  name: the instruction's (module-unique) name, as the trace names its thunk.
  opcode: e.g. 'fusion', 'dot', 'copy', 'while'.
  shape: output dims (() for scalars and tuples); dtype: e.g. 'f32'.
  computation: the computation holding it; loop: the innermost while whose
    body holds it ('' outside loops); category: one of CATEGORIES.
  flops: 2 * multiply-adds of its dot (0 otherwise); mkn: (M, K, N) of that
    dot with batch dims folded into M.
  op_name: the metadata op_name (the JAX source path of the op).
  calls: computations it calls (fused computation, while body and condition,
    branches); operands: its operands' names; trip_count: a while's known
    trip count (0 if unknown or not a while).
  fused_ops: opcodes inside a fusion (empty for other instructions).
  """

  name: str
  opcode: str
  shape: tuple[int, ...]
  dtype: str
  computation: str
  op_name: str = ''
  calls: tuple[str, ...] = ()
  operands: tuple[str, ...] = ()
  trip_count: int = 0
  loop: str = ''
  category: str = 'other'
  flops: float = 0.0
  mkn: tuple[int, int, int] | None = None
  fused_ops: tuple[str, ...] = ()


@dataclasses.dataclass
class Hlo:
  """The parsed module: instructions by name (`instrs`), each computation's
  instruction names in order (`computations`), the entry computation's name
  (`entry`) and the while instruction whose body each body computation is
  (`body_of`)."""

  instrs: dict[str, Instr]
  computations: dict[str, list[str]]
  entry: str
  body_of: dict[str, str]


def _shape(text: str) -> tuple[str, tuple[int, ...]]:
  m = _SHAPE.match(text)
  if not m:
    return '', ()
  dims = tuple(int(d) for d in m.group(2).split(',') if d)
  return m.group(1), dims


def _split_shape(rest: str) -> tuple[str, str]:
  """'f32[2]{0} dot(...)' -> ('f32[2]{0}', 'dot(...)'); tuple shapes too."""
  if rest.startswith('('):
    depth = 0
    for i, ch in enumerate(rest):
      depth += (ch == '(') - (ch == ')')
      if depth == 0:
        return rest[:i + 1], rest[i + 1:].lstrip()
  shape, _, tail = rest.partition(' ')
  return shape, tail


def _dot_mkn(instr: Instr, line: str, shapes: dict[str, tuple[int, ...]]):
  """(flops, (M, K, N)) of a dot from its line and its operands' shapes."""
  lhs = shapes.get(instr.operands[0], ()) if instr.operands else ()
  rhs = shapes.get(instr.operands[1], ()) if len(instr.operands) > 1 else ()

  def dims(key):
    m = re.search(key + r'=\{([\d,]*)\}', line)
    return [int(d) for d in m.group(1).split(',') if d] if m else []

  k = math.prod(lhs[d] for d in dims('lhs_contracting_dims')) if lhs else 1
  out = math.prod(instr.shape) if instr.shape else 1
  rhs_free = [d for d in range(len(rhs))
              if d not in dims('rhs_contracting_dims') + dims('rhs_batch_dims')]
  n = math.prod(rhs[d] for d in rhs_free) if rhs else 1
  return 2.0 * out * k, (out // max(n, 1), k, n)


def parse_hlo(text: str) -> Hlo:
  """Reads `compiled.as_text()` (see `Instr` for what each entry holds)."""
  instrs: dict[str, Instr] = {}
  lines: dict[str, str] = {}
  computations: dict[str, list[str]] = {}
  entry, current = '', ''
  for line in text.splitlines():
    m = _COMP.match(line)
    if m and line.rstrip().endswith('{'):
      current = m.group(2)
      computations[current] = []
      if m.group(1):
        entry = current
      continue
    m = _INSTR.match(line)
    if not m or not current:
      continue
    name = m.group(2)
    shape_text, rest = _split_shape(line[m.end():])
    opcode = rest.split('(', 1)[0].strip()
    dtype, dims = _shape(shape_text)
    args = rest[len(opcode) + 1:]
    depth, end = 1, 0
    for i, ch in enumerate(args):
      depth += (ch == '(') - (ch == ')')
      if depth == 0:
        end = i
        break
    operands = tuple(re.findall(r'%([\w.\-]+)', args[:end]))
    attrs = args[end:]
    calls = tuple(re.findall(r'(?:calls|body|condition|to_apply|true_computation|'
                             r'false_computation)=%([\w.\-]+)', attrs))
    branches = re.search(r'branch_computations=\{([^}]*)\}', attrs)
    if branches:
      calls += tuple(re.findall(r'%([\w.\-]+)', branches.group(1)))
    op_name = re.search(r'op_name="([^"]*)"', attrs)
    trip = re.search(r'"known_trip_count":\{"n":"(\d+)"\}', attrs)
    instrs[name] = Instr(name, opcode, dims, dtype, current,
                         op_name.group(1) if op_name else '', calls, operands,
                         int(trip.group(1)) if trip else 0)
    lines[name] = attrs
    computations[current].append(name)
  shapes = {n: i.shape for n, i in instrs.items()}
  for name, instr in instrs.items():
    if instr.opcode == 'dot':
      instr.flops, instr.mkn = _dot_mkn(instr, lines[name], shapes)
  body_of = {}
  for instr in instrs.values():
    if instr.opcode == 'while':
      body = re.search(r'body=%([\w.\-]+)', lines[instr.name])
      if body:
        body_of[body.group(1)] = instr.name
  hlo = Hlo(instrs, computations, entry, body_of)
  _assign_loops(hlo)
  _categorise(hlo)
  return hlo


def _assign_loops(hlo: Hlo) -> None:
  """Sets `Instr.loop` (the innermost enclosing while) of every thunk."""
  owner: dict[str, str] = {}  # computation -> enclosing while ('' at top)

  def visit(comp: str, loop: str) -> None:
    if comp in owner:
      return
    owner[comp] = loop
    for name in hlo.computations.get(comp, ()):
      instr = hlo.instrs[name]
      instr.loop = loop
      if instr.opcode in CONTROL:
        for c in instr.calls:
          visit(c, name if instr.opcode == 'while' else loop)

  visit(hlo.entry, '')


def _fused(hlo: Hlo, instr: Instr) -> list[Instr]:
  out = []
  for comp in instr.calls:
    for name in hlo.computations.get(comp, ()):
      inner = hlo.instrs[name]
      out.append(inner)
      if inner.opcode == 'fusion':
        out += _fused(hlo, inner)
  return out


def _categorise(hlo: Hlo) -> None:
  params = {hlo.instrs[n].shape for n in hlo.computations.get(hlo.entry, ())
            if hlo.instrs[n].opcode == 'parameter'
            and 'params' in hlo.instrs[n].op_name and hlo.instrs[n].shape}
  for instr in hlo.instrs.values():
    inner = _fused(hlo, instr) if instr.opcode == 'fusion' else []
    instr.fused_ops = tuple(i.opcode for i in inner)
    ops = {instr.opcode} if instr.opcode != 'fusion' else set(instr.fused_ops)
    dots = [i for i in inner if i.opcode == 'dot'] or (
        [instr] if instr.opcode == 'dot' else [])
    if instr.opcode in CONTROL:
      instr.category = 'loop overhead'
    elif dots:
      instr.category = 'matmul'
      instr.flops = sum(d.flops for d in dots)
      instr.mkn = dots[0].mkn
    elif (instr.computation == hlo.entry and 'MusicVAE' not in instr.op_name
          and not instr.loop and (instr.shape in params or any(
              hlo.instrs[o].shape in params for o in instr.operands
              if o in hlo.instrs))):
      instr.category = 'optimizer'
    elif ops & {'reduce', 'reduce-window', 'scatter'}:
      instr.category = 'reduction'
    elif ops <= COPY_OPS:
      instr.category = 'copy'
    elif instr.opcode in ('fusion',) or ops <= _ELEMENTWISE:
      instr.category = 'elementwise'
    else:
      instr.category = 'other'


_ELEMENTWISE = {'add', 'subtract', 'multiply', 'divide', 'maximum', 'minimum',
                'exponential', 'log', 'tanh', 'logistic', 'sqrt', 'rsqrt',
                'select', 'compare', 'convert', 'negate', 'abs', 'power', 'and',
                'or', 'not', 'xor', 'clamp', 'sign', 'exponential-minus-one',
                'log-plus-one', 'floor', 'ceil', 'shift-left',
                'shift-right-logical', 'shift-right-arithmetic', 'is-finite'}


# ------------------------------------------------------------- the trace --
def load_trace(folder: str) -> list[dict[str, Any]]:
  """The thunk events (`args.hlo_op` set) of the newest trace under `folder`
  (`jax.profiler.trace(folder)`): `*.trace.json.gz`, else perfetto's JSON."""
  files = sorted(glob.glob(os.path.join(folder, '**', '*.trace.json.gz'),
                           recursive=True), key=os.path.getmtime)
  files = files or sorted(glob.glob(os.path.join(folder, '**', 'perfetto_trace.json.gz'),
                                    recursive=True), key=os.path.getmtime)
  if not files:
    raise FileNotFoundError(f'no trace under {folder}')
  with gzip.open(files[-1]) as f:
    data = json.load(f)
  events = data['traceEvents'] if isinstance(data, dict) else data
  return [e for e in events if e.get('ph') == 'X' and 'hlo_op' in e.get('args', {})]


def executions(events: Iterable[dict[str, Any]], module: str) -> dict[str, list]:
  """Thunk events of each execution (`run_id`) of HLO module `module` (the
  trace's `hlo_module`, e.g. 'jit_train_step')."""
  runs: dict[str, list] = defaultdict(list)
  for e in events:
    if e['args'].get('hlo_module') == module:
      runs[e['args'].get('run_id', '')].append(e)
  return dict(runs)


def attribute(hlo: Hlo, events: list[dict[str, Any]]) -> dict[str, Any]:
  """One execution's wall time shared among its thunks (see the module doc).

  Args:
    hlo: the parsed module the events ran.
    events: that execution's thunk events (`executions(...)[run_id]`).

  Returns:
    {'wall_us': first start to last end, 'categories': {category: us},
     'ops': {hlo name: us (this op's share)}, 'calls': {hlo name: count}}.
    The categories sum to `wall_us`.
  """
  points = []
  for e in events:
    name = e['args']['hlo_op']
    start, end = float(e['ts']), float(e['ts']) + float(e['dur'])
    points.append((start, 1, name))
    points.append((end, -1, name))
  points.sort(key=lambda p: (p[0], p[1]))
  active: dict[str, int] = defaultdict(int)
  ops: dict[str, float] = defaultdict(float)
  cats = {c: 0.0 for c in CATEGORIES}
  calls: dict[str, int] = defaultdict(int)
  for e in events:
    calls[e['args']['hlo_op']] += 1
  prev = points[0][0] if points else 0.0
  for t, kind, name in points:
    span = t - prev
    if span > 0:
      running = [n for n, k in active.items() if k > 0]
      leaves = [n for n in running
                if hlo.instrs.get(n) is None or hlo.instrs[n].opcode not in CONTROL]
      if leaves:
        for n in leaves:
          ops[n] += span / len(leaves)
          cats[_category(hlo, n)] += span / len(leaves)
      elif running:
        for n in running:
          ops[n] += span / len(running)
        cats['loop overhead'] += span
      else:
        cats['gaps'] += span
    active[name] += kind
    prev = t
  wall = (points[-1][0] - points[0][0]) if points else 0.0
  return {'wall_us': wall, 'categories': cats, 'ops': dict(ops), 'calls': dict(calls)}


def _category(hlo: Hlo, name: str) -> str:
  instr = hlo.instrs.get(name)
  return instr.category if instr else 'other'


def average(results: list[dict[str, Any]]) -> dict[str, Any]:
  """The mean of `attribute` results of several executions."""
  n = len(results)
  out = {'wall_us': sum(r['wall_us'] for r in results) / n,
         'categories': {c: sum(r['categories'][c] for r in results) / n
                        for c in CATEGORIES},
         'ops': defaultdict(float), 'calls': defaultdict(float)}
  for r in results:
    for k, v in r['ops'].items():
      out['ops'][k] += v / n
    for k, v in r['calls'].items():
      out['calls'][k] += v / n
  out['ops'], out['calls'] = dict(out['ops']), dict(out['calls'])
  return out


# -------------------------------------------------------------- summaries --
def matmul_shapes(hlo: Hlo, profile: dict[str, Any]) -> list[dict[str, Any]]:
  """Matmul time by (M, K, N) and whether inside a loop: FLOPs per step,
  us per step, GFLOP/s, calls per step; largest time first."""
  rows: dict[tuple, dict[str, Any]] = {}
  for name, us in profile['ops'].items():
    instr = hlo.instrs.get(name)
    if not instr or instr.category != 'matmul':
      continue
    calls = profile['calls'].get(name, 0)
    key = (instr.mkn, bool(instr.loop))
    row = rows.setdefault(key, {'mkn': instr.mkn, 'in_loop': bool(instr.loop),
                                'us': 0.0, 'flops': 0.0, 'calls': 0.0, 'ops': []})
    row['us'] += us
    row['flops'] += instr.flops * calls
    row['calls'] += calls
    row['ops'].append(name)
  out = sorted(rows.values(), key=lambda r: -r['us'])
  for r in out:
    r['gflops_per_s'] = r['flops'] / r['us'] / 1e3 if r['us'] else 0.0
  return out


def loops(hlo: Hlo, profile: dict[str, Any]) -> list[dict[str, Any]]:
  """Per while loop: trip count, where it is (op_name), thunks per iteration
  by category, the copies it runs each iteration (name, opcode, shape), and
  its traced time per step (the loop thunk and everything inside it)."""
  inside: dict[str, list[Instr]] = defaultdict(list)
  for instr in hlo.instrs.values():
    if instr.loop and instr.opcode not in NO_THUNK:
      inside[instr.loop].append(instr)
  out = []
  for name, instr in hlo.instrs.items():
    if instr.opcode != 'while':
      continue
    body = [i for i in inside.get(name, ())]
    counts: dict[str, int] = defaultdict(int)
    for i in body:
      counts[i.category] += 1
    subtree = _subtree(hlo, name)
    us = sum(profile['ops'].get(n, 0.0) for n in subtree)
    if not us:
      continue
    out.append({
        'name': name, 'trip_count': instr.trip_count,
        'where': _short(instr.op_name), 'thunks_per_iteration': dict(counts),
        'copies': [(i.name, i.opcode if i.opcode != 'fusion' else
                    'fusion(' + ','.join(sorted(set(i.fused_ops) - NO_THUNK)) + ')',
                    i.shape) for i in body if i.category == 'copy'],
        'us': us, 'overhead_us': profile['ops'].get(name, 0.0),
        'by_category': _by_category(hlo, profile, subtree)})
  return sorted(out, key=lambda r: -r['us'])


def _subtree(hlo: Hlo, loop: str) -> list[str]:
  names, frontier = [loop], [loop]
  while frontier:
    current = frontier.pop()
    for i in hlo.instrs.values():
      if i.loop == current and i.name not in names:
        names.append(i.name)
        if i.opcode == 'while':
          frontier.append(i.name)
  return names


def _by_category(hlo: Hlo, profile, names) -> dict[str, float]:
  out: dict[str, float] = defaultdict(float)
  for n in names:
    us = profile['ops'].get(n, 0.0)
    if us:
      out[_category(hlo, n) if hlo.instrs[n].opcode not in CONTROL
          else 'loop overhead'] += us
  return dict(out)


def _short(op_name: str) -> str:
  for prefix in ('jit(train_step)/', 'jvp(MusicVAE)/', 'MusicVAE.'):
    op_name = op_name.replace(prefix, '')
  return op_name[:90]


def top_ops(hlo: Hlo, profile: dict[str, Any], n: int = 15):
  """The `n` thunks with the most time: (name, category, us, calls, shape,
  where)."""
  rows = sorted(profile['ops'].items(), key=lambda kv: -kv[1])[:n]
  return [(k, _category(hlo, k), us, profile['calls'].get(k, 0),
           hlo.instrs[k].shape if k in hlo.instrs else (),
           _short(hlo.instrs[k].op_name) if k in hlo.instrs else '')
          for k, us in rows]


def format_report(title: str, hlo: Hlo, profile: dict[str, Any], *,
                  step_seconds: float, flops_analytic: float | None,
                  peak: float | None, ceilings: dict | None = None,
                  top: int = 15, target_percents=(65, 72)) -> str:
  """The markdown report of one profiled step (see scripts/profile_step.py).

  Args:
    title: a heading.
    hlo, profile: `parse_hlo` and `average(attribute(...))`.
    step_seconds: the untraced step time (median of timed windows).
    flops_analytic: the analytic FLOPs per step (benchmark.analytic_flops).
    peak: the in-process `[n, n] @ [n, n]` matmul peak, FLOP/s.
    ceilings: {(M, K, N): FLOP/s of a chained loop of that matmul}.
    target_percents: fractions of the peak (issue 27's targets) whose step
      time is printed.
  """
  wall = profile['wall_us']
  cats = profile['categories']
  matmul_flops = sum(r['flops'] for r in matmul_shapes(hlo, profile))
  lines = [f'### {title}', '',
           f'- step, untraced (median of timed windows): {1e3 * step_seconds:.1f} ms'
           + (f"; analytic FLOPs {flops_analytic / 1e9:.2f} G -> "
              f"{flops_analytic / step_seconds / 1e9:.1f} GFLOP/s" if flops_analytic else '')
           + (f' = {100 * flops_analytic / step_seconds / peak:.1f} % of the in-process '
              f'matmul peak {peak / 1e9:.1f} GFLOP/s' if flops_analytic and peak else ''),
           f'- step, traced (first thunk start to last thunk end, mean of '
           f'{profile.get("runs", "?")} executions): {wall / 1e3:.1f} ms '
           f'(profiler overhead and dispatch: traced / untraced = '
           f'{wall / 1e6 / step_seconds:.2f})',
           f'- FLOPs of the traced dots: {matmul_flops / 1e9:.2f} G per step'] + ([
               '- untraced step needed for ' + ', '.join(
                   f'{pct} % of peak: {1e3 * flops_analytic / (pct / 100 * peak):.1f} ms'
                   for pct in target_percents)] if flops_analytic and peak else []) + ['',
           '| category | ms per step | % of traced step | note |', '|---|---:|---:|---|']
  notes = {'matmul': (f'{matmul_flops / (cats["matmul"] or 1) / 1e3:.1f} GFLOP/s achieved'
                      + (f' = {100 * matmul_flops / (cats["matmul"] or 1) * 1e6 / peak:.0f}'
                         ' % of peak' if peak else '')),
           'loop overhead': 'only a while thunk active: condition, body dispatch',
           'gaps': 'no thunk active: scheduling between top-level thunks'}
  for c in CATEGORIES:
    lines.append(f'| {c} | {cats[c] / 1e3:.2f} | {100 * cats[c] / wall if wall else 0:.1f} % '
                 f'| {notes.get(c, "")} |')
  lines.append(f'| **sum** | {sum(cats.values()) / 1e3:.2f} | '
               f'{100 * sum(cats.values()) / wall if wall else 0:.1f} % | |')
  shapes = matmul_shapes(hlo, profile)
  if peak:
    ideal = sum(r['flops'] / ((ceilings or {}).get(r['mkn']) if r['in_loop'] and (
        ceilings or {}).get(r['mkn']) else peak) for r in shapes) * 1e6
    rest = wall - cats['matmul']
    lines += ['', f'If every matmul ran at its shape\'s chained-loop ceiling (in loops, '
              f'where measured) or at the peak (elsewhere): {ideal / 1e3:.1f} ms instead '
              f'of {cats["matmul"] / 1e3:.1f} ms; with the other categories unchanged '
              f'({rest / 1e3:.1f} ms) the traced step would be {(ideal + rest) / 1e3:.1f} ms'
              + (f' = {100 * flops_analytic / ((ideal + rest) / 1e6) / peak:.1f} % of peak '
                 f'(the traced step itself: {100 * flops_analytic / (wall / 1e6) / peak:.1f} %)'
                 if flops_analytic and wall else '') + '.']
  lines += ['', 'Matmuls by shape (M x K x N, batch dims folded into M):', '',
            '| M x K x N | in loop | calls/step | ms/step | GFLOP/s | % of peak '
            '| chained-loop ceiling GFLOP/s | % of ceiling |', '|---|---|---:|---:|---:|---:|---:|---:|']
  for r in shapes[:12]:
    ceil = (ceilings or {}).get(r['mkn'])
    lines.append(
        f"| {'x'.join(map(str, r['mkn']))} | {'yes' if r['in_loop'] else 'no'} | "
        f"{r['calls']:.0f} | {r['us'] / 1e3:.2f} | {r['gflops_per_s']:.1f} | "
        + (f"{100 * r['gflops_per_s'] * 1e9 / peak:.0f} %" if peak else '') + ' | '
        + (f"{ceil / 1e9:.1f} | {100 * r['gflops_per_s'] * 1e9 / ceil:.0f} %" if ceil else ' | ')
        + ' |')
  lines += ['', 'While loops (thunks per iteration by category; the copies XLA runs '
            'every iteration):', '',
            '| loop | where | trips | ms/step | by category (ms) | thunks/iteration | copies per iteration |',
            '|---|---|---:|---:|---|---|---|']
  for r in loops(hlo, profile)[:12]:
    cat = ', '.join(f'{k} {v / 1e3:.2f}' for k, v in sorted(
        r['by_category'].items(), key=lambda kv: -kv[1]))
    th = ', '.join(f'{k} {v}' for k, v in sorted(r['thunks_per_iteration'].items()))
    cp = '; '.join(f"{n} {op} {list(s)}" for n, op, s in r['copies'][:6])
    lines.append(f"| {r['name']} | {r['where']} | {r['trip_count']} | {r['us'] / 1e3:.2f} "
                 f"| {cat} | {th} | {cp} |")
  lines += ['', f'Top {top} thunks:', '',
            '| thunk | category | ms/step | calls/step | shape | where |',
            '|---|---|---:|---:|---|---|']
  for name, cat, us, calls, shape, where in top_ops(hlo, profile, top):
    lines.append(f'| {name} | {cat} | {us / 1e3:.2f} | {calls:.0f} | {list(shape)} | {where} |')
  copies = sorted(((us, n) for n, us in profile['ops'].items()
                   if _category(hlo, n) == 'copy'), reverse=True)[:10]
  lines += ['', 'Largest copies (the candidates for removal; operands name what is copied):', '',
            '| thunk | ms/step | calls/step | in loop | shape | ops | operands | where |',
            '|---|---:|---:|---|---|---|---|---|']
  for us, n in copies:
    i = hlo.instrs[n]
    ops = ','.join(sorted(set(i.fused_ops) - NO_THUNK)) or i.opcode
    lines.append(f"| {n} | {us / 1e3:.2f} | {profile['calls'].get(n, 0):.0f} | "
                 f"{i.loop or 'no'} | {list(i.shape)} | {ops} | {', '.join(i.operands[:3])} "
                 f"| {_short(i.op_name)} |")
  return '\n'.join(lines) + '\n'
