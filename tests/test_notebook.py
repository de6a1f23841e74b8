"""examples/quickstart.ipynb runs top to bottom (nbclient) on a tiny model
trained in the test, and is committed without outputs."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / 'examples' / 'quickstart.ipynb'


def test_committed_notebook_has_no_outputs():
  nbformat = pytest.importorskip('nbformat')
  nb = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(nb)
  for cell in nb.cells:
    if cell.cell_type == 'code':
      assert cell.outputs == [] and cell.execution_count is None


def test_quickstart_notebook_runs(tiny_run, tmp_path, monkeypatch):
  nbformat = pytest.importorskip('nbformat')
  nbclient = pytest.importorskip('nbclient')
  pytest.importorskip('ipykernel')
  _, data, workdir = tiny_run
  monkeypatch.setenv('MUSICVAE_WORKDIR', str(workdir))
  monkeypatch.setenv('MUSICVAE_MIDI_A', str(data / 'm0_0.mid'))
  monkeypatch.setenv('MUSICVAE_MIDI_B', str(data / 'm1_0.mid'))
  monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
      [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
  nb = nbformat.read(NOTEBOOK, as_version=4)
  nbclient.NotebookClient(nb, timeout=300, kernel_name='python3',
                          resources={'metadata': {'path': str(tmp_path)}}).execute()
  outputs = [o for cell in nb.cells if cell.cell_type == 'code' for o in cell.outputs]
  assert not [o for o in outputs if o.output_type == 'error']
  text = ''.join(o.get('text', '') for o in outputs if o.output_type == 'stream')
  assert 'WARNING' not in text  # orbax's logging is off
  assert [l for l in text.splitlines() if l.startswith('platform ')][0].endswith('parameters; step 20')
  images = [o for o in outputs if 'image/png' in o.get('data', {})]
  audio = [o for o in outputs if '<audio' in o.get('data', {}).get('text/html', '')]
  assert len(images) == 3 + 1 and len(audio) == 3 + 1  # 3 samples, 1 interpolation
  assert (tmp_path / 'interpolation.png').exists()
  assert len(list((tmp_path / 'quickstart_out').glob('interp_*.mid'))) == 5
