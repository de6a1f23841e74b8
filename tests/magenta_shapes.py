"""Tiny Magenta MusicVAE checkpoints of a given shape, for tests that only
exercise a conversion path (download, magenta.js folders).

`magenta_variables(shape)` returns `{Magenta TF variable name: array}` with
random weights, named and shaped as Magenta's `lstm_models` names them:

  encoder/cell_k/bidirectional_rnn/{fw,bw}/multi_rnn_cell/cell_0/lstm_cell/*
      (flat BidirectionalLstmEncoder), or
  encoder/hierarchical_level_i/cell_k/bidirectional_rnn/...  (HierarchicalLstmEncoder)
  encoder/{mu,sigma}/{kernel,bias}
  decoder/multi_rnn_cell/cell_k/lstm_cell/*, decoder/{z_to_initial_state,output_projection}/*
      (flat decoder), or
  decoder/hierarchical_level_0/cell_k/lstm_cell/*, decoder/hierarchical_level_0/initial_state/*
      (conductor) with core_decoder/decoder/... or core_decoder/core_decoder_i/decoder/...
  decoder/nade/{w_enc, w_dec_t}  (MultiLabelRnnNadeDecoder)

An LSTM kernel is [input + units, 4 units]. Encoder layer 0 reads
[input one-hot | controls]; a flat decoder's first layer reads [previous
target | z | controls], a core decoder's [previous target | conductor output |
controls]; the conductor reads one zero per step. `tests/test_download_magenta.py`
checks these shapes against every Magenta-written fixture in
../shared/fixtures/magenta.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Shape:
  """What a Magenta config's weights depend on (not its lengths)."""

  input_depth: int                       # encoder input per step, without controls
  parts: tuple[tuple[int, int], ...]     # per core decoder: (previous-target depth, output depth)
  control_depth: int = 0                 # chords (49), GrooVAE hits (9)
  hier_encoder: bool = False             # two-level HierarchicalLstmEncoder
  conductor: bool = False                # hierarchical decoder
  nade_hidden: int = 0                   # NADE decoder: output = [b_enc (H) | b_dec (D)]


MELODY = Shape(90, ((90, 90),))
MELODY_CHORDS = Shape(90, ((90, 90),), control_depth=49)
DRUMS = Shape(10, ((512, 512),))                    # roll input (9 + "no hit"), one-hot output
NADE_REDUCED = Shape(10, ((9, 9),), nade_hidden=32)
NADE_FULL = Shape(62, ((61, 61),), nade_hidden=32)
GROOVE = Shape(27, ((27, 27),))
GROOVE_HITS_CONTROL = Shape(27, ((27, 27),), control_depth=9)
TRIO = ((90, 90), (90, 90), (512, 512))
HIERDEC_MEL = Shape(90, ((90, 90),), conductor=True)
HIER_MEL = Shape(90, ((90, 90),), hier_encoder=True, conductor=True)
HIERDEC_TRIO = Shape(692, TRIO, conductor=True)
HIER_TRIO = Shape(692, TRIO, hier_encoder=True, conductor=True)
MULTIPERF = Shape(490, ((490, 490),), hier_encoder=True, conductor=True)
MULTIPERF_CHORDS = Shape(490, ((490, 490),), control_depth=49, hier_encoder=True,
                         conductor=True)


def magenta_variables(shape: Shape, z: int = 4, enc: tuple[int, ...] = (8,),
                      dec: tuple[int, ...] = (8,), conductor: tuple[int, ...] = (8,),
                      seed: int = 0, global_step: int = 7) -> dict[str, np.ndarray]:
  """Random float32 weights of `shape` with these sizes, Magenta's names."""
  rng = np.random.default_rng(seed)
  out: dict[str, np.ndarray] = {}

  def lstm(prefix: str, inputs: int, units: int) -> None:
    out[f'{prefix}/kernel'] = rng.normal(0, 0.1, (inputs + units, 4 * units)).astype(np.float32)
    out[f'{prefix}/bias'] = rng.normal(0, 0.1, (4 * units,)).astype(np.float32)

  def dense(prefix: str, inputs: int, units: int) -> None:
    out[f'{prefix}/kernel'] = rng.normal(0, 0.1, (inputs, units)).astype(np.float32)
    out[f'{prefix}/bias'] = rng.normal(0, 0.1, (units,)).astype(np.float32)

  def bidirectional(scope: str, inputs: int) -> int:
    for k, units in enumerate(enc):
      for direction in ('fw', 'bw'):
        lstm(f'{scope}/cell_{k}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0/lstm_cell',
             inputs if k == 0 else 2 * enc[k - 1], units)
    return 2 * enc[-1]

  def stack(fmt: str, inputs: int, sizes: tuple[int, ...]) -> None:
    for k, units in enumerate(sizes):
      lstm(fmt.format(k), inputs if k == 0 else sizes[k - 1], units)

  def core(scope: str, previous: int, output: int, context: int) -> None:
    stack(scope + '/multi_rnn_cell/cell_{}/lstm_cell', previous + context + shape.control_depth,
          dec)
    dense(f'{scope}/z_to_initial_state', context, 2 * sum(dec))
    projection = output + shape.nade_hidden if shape.nade_hidden else output
    dense(f'{scope}/output_projection', dec[-1], projection)

  encoder_input = shape.input_depth + shape.control_depth
  if shape.hier_encoder:
    embedding = bidirectional('encoder/hierarchical_level_0', encoder_input)
    embedding = bidirectional('encoder/hierarchical_level_1', embedding)
  else:
    embedding = bidirectional('encoder', encoder_input)
  dense('encoder/mu', embedding, z)
  dense('encoder/sigma', embedding, z)
  if shape.conductor:
    stack('decoder/hierarchical_level_0/cell_{}/lstm_cell', 1, conductor)
    dense('decoder/hierarchical_level_0/initial_state', z, 2 * sum(conductor))
    if len(shape.parts) > 1:
      for i, (previous, output) in enumerate(shape.parts):
        core(f'core_decoder/core_decoder_{i}/decoder', previous, output, conductor[-1])
    else:
      core('core_decoder/decoder', *shape.parts[0], conductor[-1])
  else:
    (previous, output), = shape.parts
    core('decoder', previous, output, z)
  if shape.nade_hidden:
    dims, hidden = shape.parts[0][1], shape.nade_hidden
    out['decoder/nade/w_enc'] = rng.normal(0, 0.1, (dims, 1, hidden)).astype(np.float32)
    out['decoder/nade/w_dec_t'] = rng.normal(0, 0.1, (dims, hidden, 1)).astype(np.float32)
  out['global_step'] = np.asarray(global_step, np.int64)
  return out
