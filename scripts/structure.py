"""Measures the package's import structure: modules, floors, circles,
imports that run back up, function-local imports of the package's own code.

    python scripts/structure.py [PACKAGE_DIR]     (default: musicvae_jax)

Floors: the package's modules laid in the layers of LAYERS (lowest first); an
import from a module to one on a higher floor "runs back up" (e.g. data
importing a family, models importing inference). Circles: groups of modules
that import each other (every import counts, function-local ones too), as
../shared/tools/import_circles.py lists them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# Floor of each module (longest matching prefix), lowest first: what may import what.
LAYERS = [
    ('errors config_files config_base meters data.errors losses schedules metrics attributes '
     'parallel startup workdir_lock paths config_check cli_errors step_profile '
     'batch_buckets compile_cache compile_events lazy_notebook '
     'magenta.params magenta.tf_bundle magenta.js_limits'),
    'data',
    'models',
    'objectives steps input_pipeline checkpoints groove_config pretrained control_sources '
    'control_adherence',
    'family',
    'trained_model',
    'families nade_family groove_model',
    'render',
    'evaluate trainer eval_mode config_flag magenta model_source attribute_effects studio.latent '
    'studio.media studio.projection studio.engine studio.errors studio.jobs studio.controls '
    'studio.media_cache studio.map_roots studio.bars studio.datasets studio.security studio.arrange '
    'pretrained.stats pretrained.precision pretrained.run_record pretrained.card',
    'train generate preprocess convert_dir_to_note_sequences convert_magenta '
    'export_magentajs download_magenta studio.server studio.cli studio.reproduce studio.session '
    'studio.__main__ studio',
    '__init__',
]


def module_name(path: Path, root: Path) -> str:
  parts = list(path.relative_to(root).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts) or '__init__'


def floor_of(name: str) -> int:
  best, floor = -1, len(LAYERS) - 1
  for i, layer in enumerate(LAYERS):
    for prefix in layer.split():
      if (name == prefix or name.startswith(prefix + '.')) and len(prefix) > best:
        best, floor = len(prefix), i
  return floor


def imports(path: Path, name: str, known: set[str], package: str):
  """(imported module, is function-local) for each import of the package's own."""
  tree = ast.parse(path.read_text(encoding='utf-8'))
  top_level = {id(n) for n in tree.body}
  found = []

  def resolve(target):
    if not target.startswith(package + '.'):
      return None
    t = target[len(package) + 1:]
    while t and t not in known:
      t = t.rpartition('.')[0]
    return t if t and t != name and not name.startswith(t + '.') else None

  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      hits = [resolve(a.name) for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        up = (name.split('.') if path.name == '__init__.py' else name.split('.')[:-1])
        up = up[:len(up) - (node.level - 1)] if node.level > 1 else up
        base = '.'.join([package] + up + ([base] if base else []))
      # `from pkg.mod import name` counts pkg.mod; `from pkg import a, b` counts a and b.
      hits = [resolve(f'{base}.{a.name}') for a in node.names] or [resolve(base)]
    else:
      continue
    local = id(node) not in top_level
    found += [(t, local) for t in dict.fromkeys(h for h in hits if h)]
  return found


def _circles(graph: dict[str, set[str]]) -> int:
  """Strongly connected groups of more than one module (Tarjan)."""
  index, low, stack, on, count = {}, {}, [], set(), [0]
  sys.setrecursionlimit(10000)

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in graph.get(v, ()):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      size = 0
      while True:
        w = stack.pop()
        on.discard(w)
        size += 1
        if w == v:
          break
      count[0] += size > 1

  for v in graph:
    if v not in index:
      visit(v)
  return count[0]


def measure(root: Path) -> dict:
  package = root.name
  files = {module_name(p, root): p for p in root.rglob('*.py')}
  known = set(files)
  graph, local = {}, 0
  for name, path in files.items():
    found = imports(path, name, known, package)
    graph[name] = {t for t, _ in found}
    local += sum(1 for _, is_local in found if is_local)
  circles = _circles(graph)
  back_up = sorted((a, b) for a, targets in graph.items() for b in targets
                   if floor_of(b) > floor_of(a))
  used_floors = sorted({floor_of(n) for n in files})
  return {'modules': len(files), 'floors': len(used_floors),
          'circles': circles,
          'back_up_imports': back_up, 'function_local_imports': local}


def main(argv):
  root = Path(argv[1] if len(argv) > 1 else 'musicvae_jax').resolve()
  found = measure(root)
  print(f"modules {found['modules']}, floors {found['floors']}, circles {found['circles']}, "
        f"imports that run back up {len(found['back_up_imports'])}, "
        f"function-local imports of the package {found['function_local_imports']}")
  for a, b in found['back_up_imports']:
    print(f'  back up: {a} -> {b}')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
