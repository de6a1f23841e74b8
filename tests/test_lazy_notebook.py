"""lazy_notebook: `import note_seq` without bokeh / pandas, and the notebook
helpers still there (a fresh process: this one has imported note_seq)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r'''
import sys
from musicvae_jax import lazy_notebook
assert lazy_notebook.defer()
import note_seq
from note_seq import midi_io
assert 'bokeh' not in sys.modules and 'pandas' not in sys.modules, 'imported early'
assert not lazy_notebook.defer()                          # once only
assert note_seq.play_sequence.__name__ == 'play_sequence'
real = lazy_notebook._load_real()                         # what a first call does
assert real.__name__ == 'note_seq.notebook_utils' and 'bokeh' in sys.modules
assert sys.modules['note_seq.notebook_utils'] is real and note_seq.notebook_utils is real
assert lazy_notebook._load_real() is real
print('ok')
'''


def test_note_seq_imports_without_its_notebook_helpers():
  result = subprocess.run([sys.executable, '-W', 'ignore', '-c', _CHILD], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={'PYTHONPATH': str(REPO), 'PATH': '/usr/bin:/bin'})
  assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stderr[-2000:]
