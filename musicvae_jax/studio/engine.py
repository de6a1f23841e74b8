"""What the studio does, without the web: one `TrainedModel`, a store of results.

Every result is an `Item`: a NoteSequence plus the latent(s) and the recipe
that reproduce it (`reproduce.replay`). The server turns requests into calls
here and items into JSON and bytes; nothing here knows about HTTP.

Shapes stay fixed: single decodes (mix, attributes, map, reconstruction) are
batches of one; samples, walks, map chunks and GrooVAE performances are
padded to TrainedModel's batch buckets (powers of two). `warmup` compiles
every bucket these can reach (`warmup_plan`: the page's default sample
batch first), so no action compiles afterwards (a GrooVAE performance of
more than 64 windows aside); the command line runs it in the background
while the page is served.

One lock guards the model and the results, held for one request's work at a
time. Building a latent map is a background job (`start_map`): it reads and
converts files outside the lock and takes the lock only to encode a chunk
of windows, so sampling and downloads stay quick while it runs, and it can
be cancelled.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import shlex
import tempfile
import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from musicvae_jax import attributes
from musicvae_jax.studio import bars as bars_lib
from musicvae_jax.studio import arrange, controls, datasets, jobs, latent, media, projection
from musicvae_jax.studio.errors import BusyError, ForbiddenError, StudioError
from musicvae_jax.studio.map_roots import MapRoots
from musicvae_jax.studio.media_cache import MediaCache

__all__ = ['Studio', 'StudioError', 'ForbiddenError', 'BusyError', 'Item', 'bar_seconds']

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_WALK_POINTS = 33
MAX_SAMPLES = 16
MAX_MAP_WINDOWS = 2000
MAX_MAP_FILES = 2000
MAX_UPLOADS = 200
MEDIA_CACHE_BYTES = 64 * 1024 * 1024
ENCODE_CHUNK = 64          # windows encoded per hold of the lock while mapping
DEFAULT_SAMPLES = 4        # the page's sample count before it is changed (warmed first)
PERFORMED = {'humanize': 'humanized', 'drumify': 'drumified'}


@dataclasses.dataclass
class Item:
  """One thing the page shows: a piece of music and how it was made."""
  id: str
  title: str
  kind: str                    # sample, input, reconstruction, mix, walk, map, attribute
  ns: object                   # note_seq NoteSequence
  z: np.ndarray | None         # [Z] (one window) or [n, Z] (a walk); None if none
  recipe: dict                 # JSON-ready; see reproduce.replay


@dataclasses.dataclass(frozen=True)
class Over:
  """What a decode plays over: nothing, a chord model's chords, or a
  multicontrol model's controls (controls.py)."""
  decode: dict                 # keyword arguments of TrainedModel.decode
  recipe: dict                 # what the recipe records: {'chords': ...} or {'controls': ...}
  name: str                    # what a title says of it ('': nothing)


NOTHING = Over({}, {}, '')


@dataclasses.dataclass
class Upload:
  id: str
  name: str
  ns: object
  bars: bars_lib.Layout        # bars as the converter counts them


@dataclasses.dataclass
class MapData:
  source: str
  windows: np.ndarray          # int16 [N, T, K]
  labels: list[str]            # file of each window
  mu: np.ndarray               # [N, Z]
  values: dict                 # attribute name -> [N]
  projection: projection.Projection | None = None


class Studio:
  """The studio's state around one TrainedModel (thread-safe: one lock).

  `workdir` names a run in the page and the recipes; a pretrained model
  (`model.pretrained`, no workdir) is named by `--model=NAME` instead, and
  its latent map and attribute sliders read its own eval tunes only where
  they ship (the built-in folk corpus), else a folder given on the page.
  `map_roots`: folders (besides the run's own data folders) the map may
  read; `map_max_files`: the most music files a mapped folder may hold;
  `max_map_windows`: the most windows a map shows (a larger set is
  subsampled, seeded);
  `media_cache_bytes`: the budget of rendered WAV / PNG / MIDI bytes kept.
  """

  def __init__(self, model, workdir: str = '', qpm: float = 120.0,
               max_items: int = 1000, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               map_roots: Sequence[str] = (), map_max_files: int = MAX_MAP_FILES,
               media_cache_bytes: int = MEDIA_CACHE_BYTES,
               max_map_windows: int = MAX_MAP_WINDOWS):
    self.model = model
    self.workdir = str(workdir)
    self.qpm = float(qpm)
    self.max_items = max_items
    self.max_upload_bytes = max_upload_bytes
    self.items: collections.OrderedDict[str, Item] = collections.OrderedDict()
    self.uploads: dict[str, Upload] = {}
    self.map: MapData | None = None
    self._vectors: dict[str, np.ndarray] = {}
    self._ids = itertools.count(1)
    self.lock = threading.RLock()
    self.roots = MapRoots.for_run(model.config, map_roots)
    self.map_max_files = int(map_max_files)
    self.max_map_windows = int(max_map_windows)
    self.map_job = jobs.Slot('a map')
    self.media_cache = MediaCache(media_cache_bytes)
    config = model.config
    self.z_size = int(config.z_size)
    self.slice_bars = int(config.slice_bars)
    self.steps_per_quarter = int(config.get('steps_per_quarter', 4))
    self.window_seconds = model.seq_len * 60.0 / self.qpm / model.converter.steps_per_quarter
    # What the page offers is what the family declares (family.py).
    self.capabilities = model.family.capabilities(config)
    self.melodic = bool(self.capabilities['attribute'])
    # Chord-conditioned models: every decode reads a chord per step.
    self.takes_chords = bool(self.capabilities['chords'])
    # Multicontrol models: every decode reads chords, rhythm, contour and
    # register (controls.py), chosen on the page's Controls panel.
    self.multicontrol = controls.applies(config)
    # GrooVAE: float drum windows; uploads can be humanized / drumified.
    self.groove = bool(self.capabilities['humanize'])

  # -- bookkeeping -------------------------------------------------------------
  def _new_id(self, prefix: str) -> str:
    return f'{prefix}{next(self._ids)}'

  def _add(self, title, kind, ns, z, recipe) -> Item:
    item = Item(self._new_id('i'), title, kind, ns, z, recipe)
    self.items[item.id] = item
    while len(self.items) > self.max_items:
      dropped, _ = self.items.popitem(last=False)
      self.media_cache.drop(lambda key: key[0] == dropped)
    return item

  def item(self, item_id: str) -> Item:
    try:
      return self.items[item_id]
    except KeyError:
      raise StudioError(f'no result {item_id!r} (the studio keeps the last '
                        f'{self.max_items}; it may have been dropped)') from None

  def info(self) -> dict:
    config = self.model.config
    return {
        'workdir': self.workdir,
        'pretrained': self.model.pretrained,
        'model': config.get('magenta_name', ''),
        'encoding': config.encoding,
        'slice_bars': self.slice_bars,
        'meter': self.model.converter.meter or '4/4',
        'z_size': self.z_size,
        'step': int(self.model.step or 0),   # the checkpoint's (Magenta's global step when converted)
        'window_seconds': self.window_seconds,
        'qpm': self.qpm,
        'attributes': sorted(attributes.ATTRIBUTES) if self.melodic else [],
        'projections': projection.available(),
        'max_upload_bytes': self.max_upload_bytes,
        'max_samples': MAX_SAMPLES,
        'max_walk_points': MAX_WALK_POINTS,
        'chords': self.takes_chords and not self.multicontrol,   # the Chords field
        'controls': config.get('controls', ''),
        'control_choices': controls.page_info(self.model) if self.multicontrol else None,
        'groove': self.groove,
        'eval_set': datasets.eval_set_problem(self.model, self.workdir),  # '' when mappable
        'map_roots': self.roots.describe(),
        'map_max_files': self.map_max_files,
        'max_audio_seconds': media.MAX_AUDIO_SECONDS,
    }

  def warmup_plan(self) -> list[tuple[str, int]]:
    """What `warmup` compiles, in order: ('decode' | 'encode', padded batch
    size) for every bucket that samples (1..MAX_SAMPLES), walks
    (..MAX_WALK_POINTS) and encodes (single windows, map chunks of
    ENCODE_CHUNK) reach; the page's default samples, then single rows, first."""
    decode = self.model.compiled_batch_sizes(max(MAX_SAMPLES, MAX_WALK_POINTS))
    encode = self.model.compiled_batch_sizes(ENCODE_CHUNK)
    first = [('decode', self.model.compiled_batch_sizes(DEFAULT_SAMPLES)[-1]),
             ('decode', 1), ('encode', 1)]
    rest = [('decode', size) for size in decode] + [('encode', size) for size in encode]
    return list(dict.fromkeys(first + rest))

  def warmup(self, plan: Sequence[tuple[str, int]] | None = None) -> int:
    """Compiles each shape of `plan` (default `warmup_plan()`), taking the
    lock for one shape at a time (requests run in between); returns how many
    shapes it ran."""
    plan = self.warmup_plan() if plan is None else plan
    for what, size in plan:
      with self.lock:
        if what == 'decode':
          self.model.decode_to_tensors(np.zeros((size, self.z_size), np.float32),
                                       temperature=0.5)
        elif what == 'encode':
          self.model.encode_tensors(self.model.example_inputs(size))
        else:
          raise ValueError(f'warm-up step {what!r}: decode or encode')
    return len(plan)

  # -- decoding ----------------------------------------------------------------
  def _encode(self, windows: np.ndarray):
    """(z, mu, sigma) `[N, Z]` of converter windows `[N, T, ...]` (each
    family's TrainedModel reads its own windows: GrooVAE transforms them as
    the config's encoder reads them)."""
    return self.model.encode_windows(np.asarray(windows))

  def _chords(self, chords) -> str | list | None:
    """The chords a chord model's decode reads: None (no chords given, or a
    model without chords: its decodes ignore them), else `chords` once checked."""
    if not self.takes_chords or not chords or (isinstance(chords, str) and not chords.strip()):
      return None
    try:
      self.model.chord_controls(chords)
    except ValueError as error:  # ChordSymbolError: one line naming the symbol
      raise StudioError(str(error)) from None
    return chords.strip() if isinstance(chords, str) else list(chords)

  def _over(self, chords='', choices: Mapping[str, str] | None = None) -> Over:
    """What a decode of new music plays over: a multicontrol model's controls
    (`chords` and `choices`: rhythm / contour / register, as controls.py
    reads them; unchosen: the defaults), a chord model's `chords`, else
    nothing. StudioError (one line) for a bad choice."""
    choices = {k: v for k, v in (choices or {}).items() if v is not None and str(v).strip()}
    unknown = set(choices) - set(controls.NAMES[1:])
    if unknown:
      raise StudioError(f'unknown control {sorted(unknown)[0]!r}: rhythm, contour or register')
    if self.multicontrol:
      chosen = controls.choose(self.model, {'chords': chords, **choices}, self._control_window)
      return Over({'controls': chosen.columns}, {'controls': chosen.record}, chosen.name())
    if choices:
      raise StudioError(f'{sorted(choices)[0]}: only a multicontrol model takes a rhythm, '
                        'contour or register (this one has config.controls='
                        f'{self.model.config.get("controls", "")!r})')
    chords = self._chords(chords)
    if chords is None:
      return NOTHING
    return Over({'chords': chords}, {'chords': chords},
                chords if isinstance(chords, str) else 'its own chords')

  def _own_over(self, upload: Upload, start_bar: int, window: np.ndarray) -> Over:
    """What an upload's window is reconstructed over: its own chords (chord
    models) or its own controls (multicontrol models); nothing otherwise."""
    own = self.model.split_windows(window[None])[1]
    if self.multicontrol:
      chosen = controls.own(self.model, upload.name, start_bar, own[0])
      return Over({'controls': chosen.columns}, {'controls': chosen.record}, chosen.name())
    if self.takes_chords:   # an upload reconstructs over its own (inferred) chords
      from musicvae_jax.data import chords as chords_lib
      return self._over([chords_lib.chord_symbol(c) for c in own[0][:, 0]])
    return NOTHING

  def _decode(self, z: np.ndarray, temperature: float, seed: int, over: Over = NOTHING) -> list:
    """`TrainedModel.decode` at the studio's tempo, over `over` (a chord
    model without chords: "no chord" on every step; a multicontrol model
    without controls: the converter's neutral ones)."""
    seqs = self.model.decode(np.asarray(z, np.float32), temperature=float(temperature),
                             seed=int(seed), qpm=self.qpm, **over.decode)
    for ns in seqs:  # a window lasts its whole length, trailing rests included
      ns.total_time = max(ns.total_time, self.window_seconds)
    return seqs

  def _decode_one(self, z, title, kind, temperature, seed, extra=None,
                  over: Over = NOTHING) -> Item:
    z = np.asarray(z, np.float32).reshape(1, self.z_size)
    (ns,) = self._decode(z, temperature, seed, over)
    recipe = {'method': 'decode', 'z': z.tolist(), 'temperature': float(temperature),
              'seed': int(seed), 'qpm': self.qpm, **(extra or {}), **over.recipe}
    if over.name:
      title = f'{title} over {over.name}'
    return self._add(title, kind, ns, z[0], recipe)

  @staticmethod
  def _check_temperature(temperature: float) -> float:
    temperature = float(temperature)
    if not (math.isfinite(temperature) and 1e-5 <= temperature <= 5.0):
      raise StudioError(f'temperature {temperature}: use a value from 0.00001 to 5')
    return temperature

  # -- 1. sample ---------------------------------------------------------------
  def sample(self, n: int, temperature: float, seed: int, chords: str = '',
             controls: Mapping[str, str] | None = None) -> list[Item]:
    """`n` samples, exactly `TrainedModel.sample(n, temperature=temperature,
    seed=seed, chords=chords)` (a multicontrol model: its decode of the same
    z under the chosen `chords` and `controls`, see `_over`)."""
    n, seed = int(n), int(seed)
    temperature = self._check_temperature(temperature)
    if not 1 <= n <= MAX_SAMPLES:
      raise StudioError(f'{n} samples: choose 1 to {MAX_SAMPLES}')
    over = self._over(chords, controls)
    said = f', {over.name}' if over.name else ''
    with self.lock:
      z = np.random.default_rng(seed).standard_normal((n, self.z_size)).astype(np.float32)
      seqs = self._decode(z, temperature, seed, over)
      return [self._add(f'Sample {i + 1} (seed {seed}, T={temperature:g}{said})', 'sample', ns,
                        z[i], {'method': 'sample', 'n': n, 'index': i,
                               'temperature': temperature, 'seed': seed, 'qpm': self.qpm,
                               **over.recipe})
              for i, ns in enumerate(seqs)]

  # -- 2. uploads --------------------------------------------------------------
  def upload(self, name: str, data: bytes) -> dict:
    """Reads an uploaded file; returns its id, bar count and first usable bar."""
    from musicvae_jax.data import midi_io
    from musicvae_jax.data.errors import BadInputError
    name = Path(name or 'upload.mid').name[:120] or 'upload.mid'
    if len(data) > self.max_upload_bytes:
      raise StudioError(f'{name}: {len(data) / 1e6:.1f} MB is over the limit of '
                        f'{self.max_upload_bytes / 1e6:.1f} MB')
    if not data:
      raise StudioError(f'{name}: the file is empty')
    suffix = Path(name).suffix.lower()
    suffix = suffix if suffix in midi_io.SUFFIXES else '.mid'
    try:
      with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f'upload{suffix}'
        path.write_bytes(data)
        ns = midi_io.load_note_sequence(path)
      layout = bars_lib.layout(ns)
    except BadInputError as error:
      raise StudioError(f'{name}: {error}') from None
    except Exception as error:  # a reader choking on odd bytes is still bad input
      raise StudioError(f'{name}: unreadable ({type(error).__name__})') from None
    # Reading and scanning need no model: outside the lock.
    first = bars_lib.first_window_bar(self.model.converter, layout, self.slice_bars,
                                      self.steps_per_quarter)
    if first is None:
      raise StudioError(
          f'{name}: no {self.slice_bars}-bar {self.model.config.encoding} window '
          f'anywhere in its {len(layout)} bars (the model reads '
          f'{self.model.converter.meter or "4/4"} time and notes its converter keeps)')
    with self.lock:
      upload = Upload(self._new_id('u'), name, ns, layout)
      self.uploads[upload.id] = upload
      while len(self.uploads) > MAX_UPLOADS:  # keep the newest
        del self.uploads[next(iter(self.uploads))]
    return {'upload': upload.id, 'name': name, 'bars': len(layout), 'first_bar': first + 1,
            'slice_bars': self.slice_bars}

  def _window_at(self, upload: Upload, start_bar: int) -> np.ndarray | None:
    """The converter's window at bar `start_bar` (0-based) of an upload."""
    return bars_lib.window_at(self.model.converter, upload.bars, start_bar,
                              self.slice_bars, self.steps_per_quarter)

  def use_window(self, upload_id: str, start_bar: int, temperature: float,
                 seed: int) -> tuple[Item, Item]:
    """(input window, its reconstruction) for bars start_bar.. (1-based)."""
    temperature = self._check_temperature(temperature)
    with self.lock:
      upload, window = self._upload_window(upload_id, start_bar)
      start_bar = int(start_bar)
      _, mu, _ = self._encode(window[None])
      label = f'{upload.name}, bars {start_bar}-{start_bar + self.slice_bars - 1}'
      source = self._add(label, 'input',
                         self.model.converter.to_note_sequence(window, qpm=self.qpm),
                         mu[0], {'method': 'window', 'file': upload.name,
                                 'start_bar': start_bar, 'qpm': self.qpm})
      recon = self._decode_one(mu, f'Reconstruction of {label}', 'reconstruction',
                               temperature, seed, over=self._own_over(upload, start_bar, window))
      return source, recon

  def _upload_window(self, upload_id: str, start_bar: int) -> tuple[Upload, np.ndarray]:
    """(upload, its converter window `[T, K + C]` at bar `start_bar`, 1-based);
    StudioError naming the file when there is none."""
    with self.lock:
      upload = self.uploads.get(upload_id)
    if upload is None:
      raise StudioError(f'no upload {upload_id!r}: upload the file again')
    start_bar = int(start_bar)
    if not 1 <= start_bar <= len(upload.bars):
      raise StudioError(f'{upload.name}: bar {start_bar} is outside 1..{len(upload.bars)}')
    window = self._window_at(upload, start_bar - 1)
    if window is None:
      raise StudioError(
          f'{upload.name}: bars {start_bar}-{start_bar + self.slice_bars - 1} give no '
          f'{self.slice_bars}-bar window (a rest at the start, too few notes, too '
          'few bars left before a change of meter or tempo, or not '
          f'{self.model.converter.meter or "4/4"}); try another bar')
    return upload, window

  def _control_window(self, upload_id: str, start_bar: int) -> tuple[str, np.ndarray]:
    """(file name, control columns `[T, 4]`) of an upload's window at bar
    `start_bar` (1-based): a multicontrol control taken from it."""
    upload, window = self._upload_window(upload_id, start_bar)
    return upload.name, self.model.split_windows(window[None])[1][0]

  def perform(self, upload_id: str, how: str, temperature: float, seed: int) -> Item:
    """GrooVAE: the whole uploaded beat through `model.humanize` (velocities
    and micro-timing) or `model.drumify` (any rhythm -> a full kit)."""
    temperature = self._check_temperature(temperature)
    if how not in ('humanize', 'drumify'):
      raise StudioError(f'unknown performance {how!r}: humanize or drumify')
    if not self.capabilities[how]:
      raise StudioError(f'{how}: {self.capabilities[how].reason}')
    with self.lock:
      upload = self.uploads.get(upload_id)
      if upload is None:
        raise StudioError(f'no upload {upload_id!r}: upload the file again')
      try:
        perform = {'humanize': self.model.humanize, 'drumify': self.model.drumify}[how]
        ns = perform(upload.ns, temperature, int(seed))
      except ValueError as error:
        raise StudioError(f'{upload.name}: {error}') from None
      ns.total_time = max(ns.total_time, upload.ns.total_time)  # the input's length
      return self._add(f'{upload.name}, {PERFORMED[how]} (T={temperature:g}, seed {int(seed)})',
                       how, ns, None, {'method': how, 'file': upload.name,
                                       'temperature': temperature, 'seed': int(seed),
                                       'qpm': self.qpm})

  # -- 3. mix ------------------------------------------------------------------
  def _latents(self, item_ids: Sequence[str]) -> np.ndarray:
    zs = []
    for item_id in item_ids:
      item = self.item(item_id)
      if item.z is None or np.ndim(item.z) != 1:
        raise StudioError(f'{item.title} has no single latent (a walk cannot be mixed)')
      zs.append(item.z)
    return np.stack(zs)

  def mix(self, item_ids: Sequence[str], x: float, y: float, temperature: float,
          seed: int, chords: str = '', controls: Mapping[str, str] | None = None) -> Item:
    temperature = self._check_temperature(temperature)
    over = self._over(chords, controls)
    with self.lock:
      if not 2 <= len(item_ids) <= 4:
        raise StudioError(f'a mix takes 2 to 4 melodies; {len(item_ids)} chosen')
      if not (math.isfinite(float(x)) and math.isfinite(float(y))):
        raise StudioError(f'mix point ({x}, {y}) is not a pair of numbers')
      weights = latent.mix_weights(x, y, len(item_ids))
      z = latent.blend(self._latents(item_ids), weights)
      text = ' + '.join(f'{w:.2f}' for w in weights)
      return self._decode_one(z, f'Mix ({text})', 'mix', temperature, seed,
                              {'weights': weights.tolist()}, over=over)

  # -- 4. walk -----------------------------------------------------------------
  def walk(self, item_ids: Sequence[str], steps_between: int, temperature: float,
           seed: int, random_anchors: int = 0, chords: str = '',
           controls: Mapping[str, str] | None = None) -> Item:
    """One continuous piece through the latents of `item_ids` (in order), or
    through `random_anchors` random latents when no items are given."""
    temperature = self._check_temperature(temperature)
    steps_between = int(steps_between)
    over = self._over(chords, controls)
    with self.lock:
      if item_ids:
        if len(item_ids) < 2:
          raise StudioError('a walk between melodies needs at least 2 of them')
        anchors = self._latents(item_ids)
        title = f'Walk through {len(item_ids)} melodies'
      else:
        if not 2 <= random_anchors <= 8:
          raise StudioError(f'a random walk takes 2 to 8 anchors, not {random_anchors}')
        anchors = latent.random_anchors(random_anchors, self.z_size, seed)
        title = f'Random walk (seed {seed})'
      if not 0 <= steps_between <= 16:
        raise StudioError(f'{steps_between} steps between: choose 0 to 16')
      z = latent.walk_path(anchors, steps_between)
      if len(z) > MAX_WALK_POINTS:
        raise StudioError(f'the walk has {len(z)} windows; at most {MAX_WALK_POINTS} '
                          '(fewer steps or anchors)')
      ns = latent.join_sequences(self._decode(z, temperature, seed, over),
                                 self.window_seconds)
      recipe = {'method': 'walk', 'z': z.tolist(), 'temperature': temperature,
                'seed': int(seed), 'qpm': self.qpm, 'seconds_each': self.window_seconds,
                **over.recipe}
      if over.name:
        title = f'{title} over {over.name}'
      return self._add(f'{title}, {len(z)} windows', 'walk', ns, z, recipe)

  # -- 5. latent map (a background job) ------------------------------------------
  SOURCES = ('eval', 'folder', 'uploads')

  def _map_source(self, source: str, folder: str):
    """A function `job -> datasets.Dataset` for the map's data, checked now
    (a folder outside the roots is refused before anything is read)."""
    if source not in self.SOURCES:
      raise StudioError(f'map source {source!r}: choose one of {", ".join(self.SOURCES)}')
    if source == 'folder':
      path = self.roots.resolve(folder)
      return lambda job: datasets.folder(self.model, path, self.map_max_files, job)
    if source == 'uploads':
      with self.lock:
        chosen = [(u.name, u.ns) for u in self.uploads.values()]
      return lambda job: datasets.uploads(self.model, chosen, job)
    problem = datasets.eval_set_problem(self.model, self.workdir)
    if problem:
      raise StudioError(f'{problem}: map a folder of MIDI files instead')
    return lambda job: datasets.eval_set(self.model, self.workdir, job)

  def start_map(self, source: str = 'eval', folder: str = '', method: str = 'pca',
                seed: int = 0, limit: int | None = None) -> dict:
    """Starts building a map in the background; its status (`map_status`).
    BusyError while another map is being built. `limit`: the most windows
    (default `max_map_windows`)."""
    limit = self.max_map_windows if limit is None else int(limit)
    try:
      projection.check(method)
    except ValueError as error:
      raise StudioError(str(error)) from None
    read = self._map_source(source, folder)
    seed = int(seed)
    job = self.map_job.start('map', lambda job: self._build_map(job, read, method, seed, limit))
    return job.status()

  def _build_map(self, job, read, method: str, seed: int, limit: int) -> dict:
    """The map job: read the data, encode it a chunk at a time, project it."""
    data = read(job)
    windows, labels, source = data.windows, data.labels, data.source
    if len(windows) == 0:
      raise StudioError(f'{source}: no windows')
    if len(windows) > limit:
      keep = np.sort(np.random.default_rng(seed).choice(len(windows), limit, replace=False))
      windows, labels = windows[keep], [labels[i] for i in keep]
    mus = []
    for start in range(0, len(windows), ENCODE_CHUNK):
      job.report('encoding', start, len(windows))
      with self.lock:  # one chunk at a time: other requests run in between
        mus.append(self._encode(windows[start:start + ENCODE_CHUNK])[1])
    mu = np.concatenate(mus)
    job.report('projecting', len(windows), len(windows))
    tokens = self.model.split_windows(windows)[0]  # without a chord model's chords
    values = ({name: attributes.compute(name, tokens) for name in attributes.ATTRIBUTES}
              if self.melodic else {})
    try:
      proj = projection.fit(mu, method, seed, poll=job.check)
    except ValueError as error:
      raise StudioError(str(error)) from None
    job.check()
    with self.lock:
      self.map = MapData(source, windows, labels, mu, values, proj)
      self._vectors = {}
    return {
        'source': source, 'method': method, 'count': int(len(windows)),
        'points': proj.coords.tolist(), 'labels': labels,
        'values': {k: [None if np.isnan(v) else round(float(v), 4) for v in vals]
                   for k, vals in values.items()},
    }

  def map_status(self) -> dict:
    """The map job's status; with the map itself once it is done."""
    job = self.map_job.job
    if job is None:
      return {'job': 'map', 'state': 'none'}
    status = job.status()
    if status['state'] == jobs.DONE:
      status['map'] = job.result
    return status

  def cancel_map(self) -> dict:
    """Asks the running map job to stop (it stops at its next step)."""
    job = self.map_job.cancel()
    return {'job': 'map', 'state': 'none'} if job is None else job.status()

  def build_map(self, folder: str = '', method: str = 'pca', seed: int = 0,
                limit: int | None = None, source: str | None = None,
                timeout: float | None = None) -> dict:
    """`start_map` and wait: the map's JSON (StudioError with the job's
    message when it fails). `source` defaults to 'folder' when a folder is
    given, else 'eval'."""
    self.start_map(source or ('folder' if folder else 'eval'), folder, method, seed, limit)
    job = self.map_job.job
    job.wait(timeout)
    if job.state == jobs.DONE:
      return job.result
    raise StudioError(job.error or f'the map was {job.state}')

  def close(self) -> None:
    """Stops background work (the server is shutting down)."""
    self.map_job.cancel()

  def map_window(self, index: int) -> Item:
    """The dataset window behind a map point (as it is; z = its mu)."""
    with self.lock:
      if self.map is None:
        raise StudioError('build the map first')
      index = int(index)
      if not 0 <= index < len(self.map.windows):
        raise StudioError(f'no map point {index}')
      ns = self.model.converter.to_note_sequence(self.map.windows[index], qpm=self.qpm)
      return self._add(f'{self.map.labels[index]} (map point {index + 1})', 'map', ns,
                       self.map.mu[index], {'method': 'map_window', 'index': index,
                                            'file': self.map.labels[index], 'qpm': self.qpm})

  def map_decode(self, x: float, y: float, temperature: float, seed: int,
                 chords: str = '', controls: Mapping[str, str] | None = None) -> Item:
    temperature = self._check_temperature(temperature)
    over = self._over(chords, controls)
    with self.lock:
      if self.map is None:
        raise StudioError('build the map first')
      if not (math.isfinite(float(x)) and math.isfinite(float(y))):
        raise StudioError(f'map point ({x}, {y}) is not a pair of numbers')
      z = self.map.projection.inverse([float(x), float(y)])
      return self._decode_one(z, f'Map at ({x:.2f}, {y:.2f})', 'map', temperature, seed,
                              over=over)

  # -- 6. attributes ---------------------------------------------------------------
  def attribute_vectors(self) -> dict[str, np.ndarray]:
    """Attribute name -> vector [Z], from the map's windows. Without a map,
    a map of the run's eval set starts building (BusyError until it is done)."""
    with self.lock:
      if not self.melodic:
        raise StudioError('attribute sliders need a melody or trio model')
      if not self._vectors:
        if self.map is None:
          self._start_attribute_map()
        for name, values in self.map.values.items():
          try:
            self._vectors[name] = attributes.attribute_vector(self.map.mu, values)
          except ValueError:
            pass
        if not self._vectors:
          raise StudioError(f'{self.map.source}: too few windows for attribute vectors')
      return self._vectors

  def _start_attribute_map(self) -> None:
    """Raises BusyError after starting (or while building) the map the
    attribute vectors need; StudioError when the eval set cannot be mapped."""
    job = self.map_job.job
    if job is None or not job.running:
      problem = datasets.eval_set_problem(self.model, self.workdir)
      if problem:
        raise StudioError(f'the attribute sliders need a map: build one of a folder '
                          f'first (Map tab); {problem}')
      read = lambda j: datasets.eval_set(self.model, self.workdir, j)
      try:
        job = self.map_job.start('map', lambda j: self._build_map(
            j, read, 'pca', 0, self.max_map_windows))
      except BusyError:
        job = self.map_job.job
    raise BusyError('the attribute vectors come from a map: building one of the '
                    f"run's eval set now ({job.phase}); move the slider again when it "
                    'is done')

  def attribute(self, base_id: str, amounts: dict, temperature: float, seed: int,
                chords: str = '', controls: Mapping[str, str] | None = None) -> Item:
    """Decodes z + sum(amount * vector) (z of `base_id`, or z = 0 if empty)."""
    temperature = self._check_temperature(temperature)
    over = self._over(chords, controls)
    with self.lock:
      vectors = self.attribute_vectors()
      z = self._latents([base_id])[0] if base_id else np.zeros(self.z_size, np.float32)
      used = {}
      for name, amount in amounts.items():
        if name not in vectors:
          raise StudioError(f'unknown attribute {name!r}')
        amount = float(amount)
        if not math.isfinite(amount) or abs(amount) > 10:
          raise StudioError(f'{name}: amount {amount} outside -10..10')
        if amount:
          z = z + amount * vectors[name]
          used[name] = amount
      text = ', '.join(f'{k} {v:+.2f}' for k, v in used.items()) or 'no change'
      base = self.item(base_id).title if base_id else 'z = 0'
      return self._decode_one(z, f'{base}: {text}', 'attribute', temperature, seed,
                              {'amounts': used}, over=over)

  # -- 7. saving -------------------------------------------------------------------
  MEDIA_TYPES = {'wav': 'audio/wav', 'mid': 'audio/midi', 'png': 'image/png',
                 'json': 'application/json', 'npy': 'application/octet-stream'}

  def media(self, item_id: str, kind: str,
            arrangement: arrange.Arrangement = arrange.PLAIN) -> tuple[bytes, str, str]:
    """(bytes, content type, file name) of an item as wav / mid / png / json / npy
    (rendered outside the lock; kept in the byte-bounded media cache), played
    at `arrangement`'s tempo and transpose (arrange.py; the recipe names it)."""
    if kind not in self.MEDIA_TYPES:
      raise StudioError(f'unknown download {kind!r}')
    with self.lock:
      item = self.item(item_id)
    stem = f'{item.kind}_{item.id}'
    if arrangement.bpm is not None:
      stem += f'_{arrangement.bpm:g}bpm'
    if arrangement.transpose:
      stem += f'_{arrangement.transpose:+d}'
    key = (item.id, kind) + arrangement.key()
    data = self.media_cache.get(key)
    if data is None:
      ns = arrange.apply(item.ns, arrangement) if kind in ('wav', 'mid', 'png') else item.ns
      if kind == 'wav':
        data = media.wav_bytes(ns)
      elif kind == 'mid':
        data = media.midi_bytes(ns)
      elif kind == 'png':
        data = media.png_bytes(ns, title=item.title)
      elif kind == 'json':
        recipe = self.recipe(item)
        if not arrangement.plain:
          recipe['playback'] = arrangement.as_json()
        data = media.json_bytes(recipe)
      else:
        if item.z is None:
          raise StudioError(f'{item.title} has no latent')
        data = media.npy_bytes(item.z)
      self.media_cache.put(key, data)
    return data, self.MEDIA_TYPES[kind], f'{stem}.{kind}'

  def recipe(self, item: Item) -> dict:
    """The item's recipe with the workdir (or pretrained model) and commands
    that reproduce it."""
    out = {'title': item.title, 'workdir': self.workdir, **item.recipe}
    name = self.model.pretrained
    if name:
      out['pretrained'] = name
    q = shlex.quote   # names and files come from the person: quoted for the shell
    flag = f'--model={q(name)}' if name else f'--workdir={q(self.workdir)}'
    load = (f"TrainedModel.from_pretrained({name!r})" if name
            else 'TrainedModel.from_workdir(WORKDIR)')
    if item.z is not None and 'z' not in out:
      out['z'] = np.asarray(item.z, np.float32).reshape(-1, self.z_size).tolist()
    method = item.recipe['method']
    control_flags = controls.cli_flags(out['controls']) if out.get('controls') else ''
    if method == 'sample' and control_flags is not None:
      # --max_batch_size: rows past generate's default chunk (8) draw their
      # noise with the next chunk's key; the studio's chunk is max_batch.
      out['cli'] = (f'python -m musicvae_jax.generate {flag} --mode=sample '
                    f'--num_outputs={out["n"]} --temperature={out["temperature"]} '
                    f'--seed={out["seed"]} --max_batch_size={self.model.max_batch} '
                    + (f'--chords={q(out["chords"])} ' if out.get('chords') else '')
                    + control_flags
                    + f'--output_dir=out  # sample_{out["index"]:02d}.mid')
    elif method in ('humanize', 'drumify'):
      out['cli'] = (f'python -m musicvae_jax.generate {flag} --mode={method} '
                    f'--input_midi_1={q(out["file"])} --temperature={out["temperature"]} '
                    f'--seed={out["seed"]} --output_dir=out')
    elif method in ('sample', 'decode', 'walk'):   # (a sample under an upload's controls)
      out['cli'] = (f'python -m musicvae_jax.studio.reproduce {flag} '
                    f'--recipe=THIS_FILE.json --output_dir=out')
    out['python'] = ('from musicvae_jax.studio import reproduce; '
                     f'ns = reproduce.replay({load}, recipe)'
                     if method in ('sample', 'decode', 'walk') else
                     f'model.{method}(note_seq.midi_file_to_note_sequence(FILE), '
                     f'{out["temperature"]}, {out["seed"]})'
                     if method in ('humanize', 'drumify') else
                     'the MIDI file is the window itself; z is its encoding (mu)')
    return out

  def item_json(self, item: Item) -> dict:
    return {'id': item.id, 'title': item.title, 'kind': item.kind,
            'notes': media.notes_json(item.ns),
            'duration': round(media.end_time(item.ns), 4),
            'audio_seconds': round(media.audio_seconds(item.ns), 4),  # the WAV's length
            **bars_lib.grid(item.ns),   # meter, bar_seconds, beats_per_bar
            'qpm': arrange.first_qpm(item.ns),   # what the page's tempo control scales
            'mixable': item.z is not None and np.ndim(item.z) == 1}
