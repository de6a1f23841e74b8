"""Model families: one protocol, one table from config to family.

A family is one folder, `musicvae_jax/families/<name>/`, holding what is its
own: converters (NoteSequence <-> windows) where the data package has none
for it, its Flax modules where they are its own, its objective (loss, metrics,
eval sums: `objectives.Objective`), its inference class (a `TrainedModel`
subclass), its Magenta config names and its magenta.js spec. Its `family.py`
defines one object, `FAMILY`, that satisfies `Family` below.

`config.output_family` names the family; `FAMILIES` maps that name to the
module holding `FAMILY`. This table is the only place a family is listed, and
the only lazy import: nothing registers itself when imported.

    parts = family.build(config)             # family, converter, spec, model, objective
    fam = family.get(config)                 # the Family object alone
    family.require(config, 'humanize')       # UnsupportedCapabilityError if not declared

What a family supports is declared by `capabilities(config)`, one `Support`
per name in `CAPABILITIES` (a few depend on the config: chord conditioning,
magenta.js export of an option magenta.js lacks), never found by `hasattr`.
The capability matrix test (tests/test_capability_matrix.py) walks every
config x capability and checks each declared cell, and
`scripts/capability_table.py` writes the table in docs/ and README from
these declarations.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Mapping, Protocol

from musicvae_jax import input_pipeline
from musicvae_jax.errors import UnsupportedCapabilityError

# capability -> what a passing cell shows (the README / docs table's legend).
CAPABILITIES: dict[str, str] = {
    'train': 'trains a few steps writing samples (MIDI, audio, piano rolls) and '
             'histograms, and resumes exactly',
    'evaluate': '`evaluate` scores held-out windows',
    'sample': '`generate --mode=sample`: decodes z ~ N(0, I)',
    'interpolate': '`generate --mode=interpolate` between two inputs',
    'reconstruct': '`generate --mode=reconstruct`: encodes and decodes inputs',
    'attribute': '`generate --mode=attribute`: moves z along an attribute vector',
    'humanize': '`generate --mode=humanize`: quantized drums in, a performance out',
    'drumify': '`generate --mode=drumify`: any rhythm in, a drum kit out',
    'chords': 'decodes over given chords (`--chords`)',
    'render': 'writes MIDI, WAV and a piano-roll PNG of its outputs',
    'studio': "the studio's engine serves its outputs (sample, mix, audio)",
    'export_magentajs': '`export_magentajs` writes a checkpoint @magenta/music '
                        'loads, and it converts back to the same parameters',
    'convert_magenta': '`convert_magenta` reads a Magenta TF checkpoint of its shape',
}

# The generate modes, in the order of `generate --mode`.
GENERATE_MODES = ('sample', 'interpolate', 'reconstruct', 'attribute',
                  'humanize', 'drumify')


@dataclasses.dataclass(frozen=True)
class Support:
  """One cell of the capability matrix: supported, or not and why."""

  supported: bool
  reason: str = ''

  def __bool__(self) -> bool:
    return self.supported


SUPPORTED = Support(True)


def unsupported(reason: str) -> Support:
  return Support(False, reason)


def declare(**cells: Support) -> dict[str, Support]:
  """One `Support` per capability, in `CAPABILITIES` order: those named in
  `cells` as given (a family names every "no", with its reason), the rest
  supported."""
  unknown = sorted(set(cells) - set(CAPABILITIES))
  if unknown:
    raise ValueError(f'unknown capabilities {unknown}; known: {", ".join(CAPABILITIES)}')
  return {cap: cells.get(cap, SUPPORTED) for cap in CAPABILITIES}


def support_if(problem: str) -> Support:
  """Supported when `problem` is empty, else unsupported for that reason."""
  return unsupported(problem) if problem else SUPPORTED


class Family(Protocol):
  """What every family declares and builds (`families/<name>/family.py`)."""

  name: str                       # config.output_family
  description: str                # one line for tables and errors
  encodings: tuple[str, ...]      # the config.encoding values its converters read
  # Magenta config name -> our config spec (`FILE.py:VARIANT`), for
  # `convert_magenta` and the download catalogue.
  magenta_configs: Mapping[str, str]
  # Its magenta.js module (`families/<name>/magentajs.py`): `to_spec(config)`,
  # `from_spec(spec)`, `CONVERTERS` (the dataConverter types it reads) and
  # `problem(config)` (why magenta.js cannot hold a config, or '').
  magentajs: Any

  def make_converter(self, config) -> Any:
    """The converter for `config`: NoteSequence -> windows, and back."""

  def build_model(self, config, spec) -> Any:
    """The Flax module (a description: cheap) for `config` and the
    converter's `TokenSpec`."""

  def objective(self, config, spec) -> Any:
    """The `objectives.Objective` that calls, scores and measures the model."""

  def trained_model_class(self) -> type:
    """The `TrainedModel` class that loads and plays this family's runs."""

  def capabilities(self, config) -> Mapping[str, Support]:
    """One `Support` per name in `CAPABILITIES`."""


# config.output_family -> module holding `FAMILY`. Adding a family is one line here.
FAMILIES: dict[str, str] = {
    'categorical': 'musicvae_jax.families.categorical.family',
    'groove': 'musicvae_jax.families.groove.family',
    'nade': 'musicvae_jax.families.nade.family',
}


def name_of(config) -> str:
  """The family `config` asks for ('categorical' when the field is unset)."""
  return config.get('output_family', 'categorical') or 'categorical'


def get(config_or_name) -> Family:
  """The family of a config (or of a family name); ValueError naming the
  config key for an unknown family, or an encoding the family does not read."""
  name = (config_or_name if isinstance(config_or_name, str)
          else name_of(config_or_name))
  if name not in FAMILIES:
    raise ValueError(f'config.output_family={name!r}: unknown (choose '
                     + ', '.join(repr(k) for k in FAMILIES) + ')')
  fam = importlib.import_module(FAMILIES[name]).FAMILY
  if not isinstance(config_or_name, str) and config_or_name.encoding not in fam.encodings:
    raise ValueError(f'config.encoding={config_or_name.encoding!r}: the {name} family '
                     f'(config.output_family={name!r}) reads '
                     + ', '.join(repr(e) for e in fam.encodings))
  return fam


@dataclasses.dataclass(frozen=True)
class Parts:
  """What a run or a loaded model is built from, made once per config."""

  family: Family
  converter: Any
  spec: Any                 # models.TokenSpec: the model's view of the windows
  model: Any                # the Flax module (a description)
  objective: Any            # objectives.Objective


def build(config) -> Parts:
  """The family of `config` and what it builds for it."""
  fam = get(config)
  converter = fam.make_converter(config)
  spec = input_pipeline.token_spec(converter)
  return Parts(fam, converter, spec, fam.build_model(config, spec),
               fam.objective(config, spec))


def support(config, capability: str) -> Support:
  """The family's declaration for one capability of `config`."""
  if capability not in CAPABILITIES:
    raise ValueError(f'unknown capability {capability!r}; known: '
                     + ', '.join(CAPABILITIES))
  return get(config).capabilities(config)[capability]


def require(config, capability: str) -> Family:
  """The family of `config`, or `UnsupportedCapabilityError` (one line naming
  the family, the config and the capability) when it does not declare it."""
  fam = get(config)
  found = fam.capabilities(config)[capability]
  if not found:
    raise UnsupportedCapabilityError(
        f'the {fam.name} family ({_config_name(config)}) does not support '
        f'{capability}: {found.reason}')
  return fam


def _config_name(config) -> str:
  return config.get('magenta_name', '') or config.get('encoding', '') or 'this config'
