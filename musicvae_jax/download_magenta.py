"""Download a Magenta MusicVAE checkpoint by name and convert it in one go.

  python -m musicvae_jax.download_magenta hierdec-mel_16bar --workdir=runs/hierdec_magenta
  python -m musicvae_jax.download_magenta mel_4bar_small_q2 --workdir=runs/mel4   # magenta.js
  python -m musicvae_jax.download_magenta --list    # also lists what is not readable yet, and why

The catalogue holds every MusicVAE checkpoint Magenta publishes whose model a
family here reads, under Magenta's own names and addresses:
  * the TF checkpoints (`.tar`) of magenta/models/music_vae/README.md (11),
  * the two multitrack TF checkpoints of the Multitrack MusicVAE colab
    (magenta-demos, loose `model_*.ckpt.*` files; Magenta publishes none for
    hier-multiperf_vel_1bar_big / _big_chords),
  * the MusicVAE entries of magenta-js' music/checkpoints/checkpoints.json
    (magenta.js folders: config.json, a weights manifest and shards).
A magenta.js id that is also a TF id gets `-js` (`groovae_4bar-js`).
Published MusicVAE checkpoints that no family here reads are in NOT_READABLE
with the reason (`--list` prints both tables).

Conversion: a TF checkpoint is converted as its Magenta config (layer sizes
read from the weights). A magenta.js folder whose model is exactly a Magenta
config (same data converter and length) is converted as that config too,
after checking that its config.json agrees (converter type, numSteps,
numSegments, chords); the others (4-bar melodies and drums, 4-bar trios,
1/3/4-bar tap2drum, the 16-bar XL trio) are described by their config.json
alone (magenta/tfjs.py `config_from_spec`).

Downloads go to `--cache_dir` (default `paths.cache_root()/magenta`), are
resumed where they stopped (HTTP Range), show a progress bar, and are checked
against the server's size and, where it sends one (Google Cloud Storage's
`x-goog-hash`), MD5, before conversion. `--base_url` (or
MUSICVAE_MAGENTA_BASE_URL) points at a mirror holding the same paths below
its root as https://storage.googleapis.com, bucket names included
(`magentadata/...`, `download.magenta.tensorflow.org/...`). A failure ends in
one line naming the checkpoint and its URL.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from absl import flags, logging

from musicvae_jax import paths

STORAGE = 'https://storage.googleapis.com'
MAGENTA_BASE = STORAGE  # the default --base_url
TF_PATH = 'magentadata/models/music_vae/checkpoints'
MULTITRACK_PATH = 'download.magenta.tensorflow.org/models/music_vae/multitrack'
JS_PATH = 'magentadata/js/checkpoints'

README = 'music_vae README'
COLAB = 'Multitrack MusicVAE colab'
JS = 'magenta-js checkpoints.json'


@dataclasses.dataclass(frozen=True)
class Entry:
  """One published checkpoint."""

  name: str
  kind: str                  # 'tar' (TF archive), 'ckpt' (loose TF files) or 'js' (magenta.js)
  path: str                  # below the storage root, bucket included
  magenta_config: str        # converted as this Magenta config ('': by its config.json)
  size_mb: float | None      # documented size, None where Magenta gives none
  description: str
  source: str                # where Magenta lists it
  like: str = ''             # config.json-described magenta.js entries: what it is

  def url(self, base: str = MAGENTA_BASE) -> str:
    return f'{base.rstrip("/")}/{self.path}'


def _tf(name, config, description):
  return Entry(name, 'tar', f'{TF_PATH}/{name}.tar', config, None, description, README)


def _ckpt(name, prefix, config, description):
  return Entry(name, 'ckpt', f'{MULTITRACK_PATH}/{prefix}', config, None, description, COLAB)


def _js(name, folder, size_mb, config, description, like=''):
  return Entry(name, 'js', f'{JS_PATH}/{folder}', config, size_mb, description, JS, like)


# Magenta's music_vae README (no sizes there; hierdec-trio_16bar is "2 GB"
# in its text), the Multitrack MusicVAE colab (magenta-demos; gsutil paths of
# gs://download.magenta.tensorflow.org) and magenta-js' checkpoints.json
# (size_mb as given there).
CATALOG: dict[str, Entry] = {e.name: e for e in (
    _tf('cat-mel_2bar_big', 'cat-mel_2bar_big', '2-bar melodies'),
    _tf('hierdec-mel_16bar', 'hierdec-mel_16bar', '16-bar melodies'),
    _tf('hierdec-trio_16bar', 'hierdec-trio_16bar',
        '16-bar trios (drums, melody, bass); about 2 GB'),
    _tf('cat-drums_2bar_small.lokl', 'cat-drums_2bar_small',
        '2-bar drums, 9 classes, for realistic sampling'),
    _tf('cat-drums_2bar_small.hikl', 'cat-drums_2bar_small',
        '2-bar drums, 9 classes, for reconstruction and interpolation'),
    _tf('nade-drums_2bar_full', 'nade-drums_2bar_full', '2-bar drums, 61 classes (NADE decoder)'),
    _tf('groovae_4bar', 'groovae_4bar', '4-bar groove autoencoder'),
    _tf('groovae_2bar_humanize', 'groovae_2bar_humanize',
        '2-bar: a quantized, constant-velocity drum pattern into a "humanized" groove'),
    _tf('groovae_2bar_tap_fixed_velocity', 'groovae_2bar_tap_fixed_velocity',
        '2-bar: a constant-velocity single-drum "tap" pattern into a groove'),
    _tf('groovae_2bar_add_closed_hh', 'groovae_2bar_add_closed_hh',
        '2-bar: adds (or replaces) the closed hi-hat of a groove'),
    _tf('groovae_2bar_hits_control', 'groovae_2bar_hits_control',
        '2-bar groove autoencoder, the input hits given to the decoder as controls'),
    _ckpt('hier-multiperf_vel_1bar_med', 'model_fb256.ckpt', 'hier-multiperf_vel_1bar_med',
          '1-bar multitrack (up to 8 instruments), 256 free bits'),
    _ckpt('hier-multiperf_vel_1bar_med_chords', 'model_chords_fb64.ckpt',
          'hier-multiperf_vel_1bar_med_chords',
          '1-bar multitrack, chord-conditioned, 64 free bits'),
    _js('mel_2bar_small', 'music_vae/mel_2bar_small', 17.7, 'cat-mel_2bar_small',
        '2-bar melodies'),
    _js('mel_4bar_small_q2', 'music_vae/mel_4bar_small_q2', 26.5, '',
        '4-bar melodies, 2-byte weights', '4-bar melody'),
    _js('mel_4bar_med_q2', 'music_vae/mel_4bar_med_q2', 65.4, '',
        '4-bar melodies, medium, 2-byte weights', '4-bar melody'),
    _js('mel_4bar_med_lokl_q2', 'music_vae/mel_4bar_med_lokl_q2', 65.4, '',
        '4-bar melodies, medium, low KL, 2-byte weights', '4-bar melody'),
    _js('mel_chords', 'music_vae/mel_chords', 17.6, 'cat-mel_2bar_med_chords',
        '2-bar melodies with chord conditioning, 2-byte weights'),
    _js('mel_16bar_small_q2', 'music_vae/mel_16bar_small_q2', 23.5, 'hier-mel_16bar',
        '16-bar melodies, 16-step conductor, 2-byte weights'),
    _js('drums_2bar_lokl_small', 'music_vae/drums_2bar_lokl_small', 18.5, 'cat-drums_2bar_small',
        '2-bar drums, low KL'),
    _js('drums_2bar_hikl_small', 'music_vae/drums_2bar_hikl_small', 18.5, 'cat-drums_2bar_small',
        '2-bar drums, high KL'),
    _js('drums_2bar_nade_9_q2', 'music_vae/drums_2bar_nade_9_q2', 27.6, 'nade-drums_2bar_reduced',
        '2-bar drums, 9 classes, NADE decoder, 2-byte weights'),
    _js('drums_4bar_med_q2', 'music_vae/drums_4bar_med_q2', 68.2, '',
        '4-bar drums, medium, 2-byte weights', '4-bar drums'),
    _js('drums_4bar_med_lokl_q2', 'music_vae/drums_4bar_med_lokl_q2', 68.2, '',
        '4-bar drums, medium, low KL, 2-byte weights', '4-bar drums'),
    _js('trio_4bar_lokl_small_q1', 'music_vae/trio_4bar', 17.6, '',
        '4-bar trios, 4-step conductor, low KL, 1-byte weights',
        'hier-trio over 4 bars'),
    _js('trio_16bar_xl', 'music_vae/trio_16bar', 1710.0, '',
        '16-bar trios, very large',
        'hier-trio, 16 bars (checkpoints.json: "4-step conductor")'),
    _js('multitrack', 'music_vae/multitrack', 26.4, 'hier-multiperf_vel_1bar_med',
        '1-bar multitrack, 64 free bits, 1-byte weights'),
    _js('multitrack_med', 'music_vae/multitrack_med', 95.9, 'hier-multiperf_vel_1bar_med',
        '1-bar multitrack, larger, 64 free bits, 1-byte weights'),
    _js('multitrack_med_fb256', 'music_vae/multitrack_med_fb256', 95.9,
        'hier-multiperf_vel_1bar_med', '1-bar multitrack, larger, 256 free bits, 1-byte weights'),
    _js('multitrack_chords', 'music_vae/multitrack_chords', 26.9,
        'hier-multiperf_vel_1bar_med_chords',
        '1-bar multitrack, chord-conditioned, 1-byte weights'),
    _js('multitrack_med_chords', 'music_vae/multitrack_med_chords', 96.9,
        'hier-multiperf_vel_1bar_med_chords',
        '1-bar multitrack, chord-conditioned, larger, 1-byte weights'),
    _js('multitrack_med_chords_fb256', 'music_vae/multitrack_med_chords_fb256', 96.9,
        'hier-multiperf_vel_1bar_med_chords',
        '1-bar multitrack, chord-conditioned, larger, 256 free bits, 1-byte weights'),
    _js('groovae_2bar_humanize-js', 'music_vae/groovae_2bar_humanize', 15.8,
        'groovae_2bar_humanize', '2-bar GrooVAE humanize'),
    _js('tap2drum_1bar', 'groovae/tap2drum_1bar', 15.6, '',
        '1-bar GrooVAE: a constant-velocity tap pattern into a groove', '1-bar tap2drum'),
    _js('tap2drum_2bar', 'groovae/tap2drum_2bar', 15.6, 'groovae_2bar_tap_fixed_velocity',
        '2-bar GrooVAE: a constant-velocity tap pattern into a groove'),
    _js('tap2drum_3bar', 'groovae/tap2drum_3bar', 15.6, '',
        '3-bar GrooVAE: a constant-velocity tap pattern into a groove', '3-bar tap2drum'),
    _js('tap2drum_4bar', 'groovae/tap2drum_4bar', 15.6, '',
        '4-bar GrooVAE: a constant-velocity tap pattern into a groove', '4-bar tap2drum'),
    _js('groovae_4bar-js', 'music_vae/groovae_4bar', 15.8, 'groovae_4bar',
        '4-bar GrooVAE autoencoder'),
)}


@dataclasses.dataclass(frozen=True)
class Unreadable:
  """A published MusicVAE checkpoint that no family here reads yet."""

  name: str
  path: str
  reason: str
  source: str

  def url(self, base: str = MAGENTA_BASE) -> str:
    return f'{base.rstrip("/")}/{self.path}'


_MULTICONTROL = f'{JS_PATH}/music_vae/mel_multicontrol'
# Added to checkpoints.json in magenta-js 04d89f7, reverted the next day (220e7af);
# the folders are still at these addresses.
_REVERTED = 'magenta-js checkpoints.json (reverted)'
_UNCHECKED = ('exist and match @magenta/music on our own exports, but were never checked on '
              'these checkpoints (not downloadable where this was written); convert_magenta '
              'on a downloaded folder may read them')
NOT_READABLE: tuple[Unreadable, ...] = tuple(
    [Unreadable(f'mel_2bar_multicontrol_tiny_fb{fb}',
                f'{_MULTICONTROL}/mel_2bar_multicontrol_tiny_fb{fb}',
                'melody conditioned on chord, rhythm, shape and register: the model '
                '(configs/mel_2bar_multicontrol.py with control_preprocessing_size) and '
                'its magenta.js format (triad chords, extraControls rhythm / shape / '
                'register) exist and match @magenta/music on our own exports, but were '
                'never checked on these checkpoints (not downloadable where this was '
                'written); convert_magenta on a downloaded folder may read them',
                _REVERTED) for fb in (0, 8, 16, 32)]
    + [Unreadable(f'mel_rhythm_2bar_tiny_fb{fb}', f'{_MULTICONTROL}/mel_rhythm_2bar_tiny_fb{fb}',
                  'MelodyRhythmConverter (a melody\'s onsets only, useBooleanDecoder): '
                  f'the model (configs/mel_rhythm_2bar.py) and its magenta.js format '
                  f'{_UNCHECKED}', _REVERTED) for fb in (0, 8, 16, 32)]
    + [Unreadable(f'mel_shape_2bar_tiny_fb{fb}', f'{_MULTICONTROL}/mel_shape_2bar_tiny_fb{fb}',
                  'MelodyShapeConverter (a melody\'s contour as a 3-class Parsons code): '
                  f'the model (configs/mel_shape_2bar.py) and its magenta.js format '
                  f'{_UNCHECKED}', _REVERTED) for fb in (0, 8, 16, 32)])


class DownloadError(OSError):
  """A download that failed or did not check out; one line."""


def _expected_md5(headers) -> str | None:
  """MD5 (hex) from Google Cloud Storage's `x-goog-hash: crc32c=..,md5=..`."""
  for part in (headers.get('x-goog-hash') or '').split(','):
    key, _, value = part.strip().partition('=')
    if key == 'md5' and value:
      return base64.b64decode(value).hex()
  return None


def _md5(path: Path) -> str:
  digest = hashlib.md5()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def fetch(url: str, target: Path, progress: bool = True, timeout: float = 60.0) -> Path:
  """Downloads `url` to `target`, resuming `target.part`; checks size (and
  MD5 where the server sends one). Raises DownloadError with one line."""
  from tqdm.auto import tqdm
  target = Path(target)
  if target.is_file():
    return target
  part = target.with_name(target.name + '.part')
  target.parent.mkdir(parents=True, exist_ok=True)
  have = part.stat().st_size if part.is_file() else 0
  request = urllib.request.Request(url, headers={'Range': f'bytes={have}-'} if have else {})
  try:
    response = urllib.request.urlopen(request, timeout=timeout)
  except urllib.error.HTTPError as error:
    if error.code == 416 and have:  # nothing left to fetch: check what we have
      part.rename(target)
      return target
    raise DownloadError(f'{url}: HTTP {error.code} {error.reason}') from None
  except (urllib.error.URLError, OSError) as error:
    reason = getattr(error, 'reason', error)
    raise DownloadError(f'cannot reach {url} ({reason}); offline? Download it by hand '
                        'and pass the file or folder to convert_magenta') from None
  with response:
    if response.status == 206:
      total = have + int(response.headers.get('Content-Length', 0))
      mode = 'ab'
    else:  # the server ignored the Range: start again
      have, mode = 0, 'wb'
      total = int(response.headers.get('Content-Length', 0))
    # GCS sends the whole object's hash with a ranged response too.
    md5 = _expected_md5(response.headers)
    bar = tqdm(total=total or None, initial=have, unit='B', unit_scale=True,
               desc=target.name, disable=not progress, mininterval=0.5)
    try:
      with open(part, mode) as f:
        while True:
          block = response.read(1 << 16)
          if not block:
            break
          f.write(block)
          bar.update(len(block))
    except OSError as error:
      raise DownloadError(f'{url}: download interrupted after {part.stat().st_size} '
                          f'bytes ({error}); run the command again to resume') from None
    finally:
      bar.close()
  size = part.stat().st_size
  if total and size != total:
    raise DownloadError(f'{url}: got {size} bytes of {total}; run the command again to resume')
  if md5 and _md5(part) != md5:
    part.unlink()
    raise DownloadError(f'{url}: MD5 mismatch (the server says {md5}); the partial '
                        'file was removed, run the command again')
  part.rename(target)
  return target


def download(entry: Entry, cache_dir: Path, base_url: str = MAGENTA_BASE,
             progress: bool = True) -> Path:
  """The downloaded checkpoint: a `.tar` file, a TF checkpoint prefix (its
  `.index` and data shards) or a magenta.js folder."""
  url = entry.url(base_url)
  if entry.kind == 'tar':
    return fetch(url, cache_dir / f'{entry.name}.tar', progress)
  folder = cache_dir / entry.name
  if entry.kind == 'ckpt':
    from musicvae_jax.magenta import tf_bundle
    prefix = folder / entry.path.rsplit('/', 1)[1]
    index = fetch(f'{url}.index', Path(f'{prefix}.index'), progress=False)
    try:
      with tf_bundle.BundleReader(index) as reader:
        shards = reader.header.num_shards
    except (tf_bundle.CheckpointError, OSError) as error:
      index.unlink()
      raise DownloadError(f'{url}.index does not read ({error})') from None
    for shard in range(shards):
      suffix = f'.data-{shard:05d}-of-{shards:05d}'
      fetch(f'{url}{suffix}', Path(f'{prefix}{suffix}'), progress)
    return prefix
  fetch(f'{url}/config.json', folder / 'config.json', progress=False)
  manifest = fetch(f'{url}/weights_manifest.json', folder / 'weights_manifest.json',
                   progress=False)
  try:
    groups = json.loads(manifest.read_text())
    shards = [path for group in groups for path in group['paths']]
  except (ValueError, KeyError, TypeError) as error:
    manifest.unlink()
    raise DownloadError(f'{url}/weights_manifest.json does not read ({error})') from None
  for shard in shards:
    if '/' in shard or shard.startswith('.'):
      raise DownloadError(f'{url}/weights_manifest.json names an odd shard path {shard!r}')
    fetch(f'{url}/{shard}', folder / shard, progress)
  return folder


# magenta.js data converter type of each of our encodings (magenta-js
# music/src/core/data.ts `converterFromSpec`).
JS_CONVERTERS = {'melody': ('MelodyConverter',), 'drums': ('DrumsConverter',),
                 'drum_roll': ('DrumRollConverter',), 'trio': ('TrioConverter',),
                 'multiperf': ('MultitrackConverter',), 'groove': ('GrooveConverter',)}


def check_config_json(entry: Entry, spec: dict) -> None:
  """Raises ValueError when a magenta.js folder's config.json does not
  describe the Magenta config the entry is converted as (converter type,
  numSteps, numSegments, chord conditioning); keys it leaves out pass."""
  from musicvae_jax import config_base
  from musicvae_jax.magenta import convert
  config = convert.config_for(entry.magenta_config)
  converter = spec.get('dataConverter') or {}
  args = converter.get('args') or {}
  expected = {
      'dataConverter type': (converter.get('type'), JS_CONVERTERS.get(config.encoding, ())),
      'numSteps': (args.get('numSteps'), (config_base.sequence_length(config),)),
      'numSegments': (args.get('numSegments'),
                      (config.n_subsequences,) if config.use_hier else (0, None)),
      'chordEncoder': (bool(spec.get('chordEncoder')), (bool(config.get('controls', '')),)),
  }
  for key, (found, allowed) in expected.items():
    if found is not None and found not in allowed:
      raise ValueError(f'config.json has {key} {found!r} but {entry.magenta_config} '
                       f'needs {" or ".join(map(repr, allowed))}')
  if spec.get('extraControls') or spec.get('conditionOnKey'):
    raise ValueError('config.json asks for extra controls or key conditioning, which '
                     f'{entry.magenta_config} does not have')


class ConversionError(ValueError):
  """A downloaded checkpoint that did not convert; one line."""


def download_and_convert(name: str, workdir: str | Path, cache_dir: str | Path | None = None,
                         base_url: str | None = None, progress: bool = True) -> Path:
  """Downloads Magenta's checkpoint `name` and converts it into `workdir`.

  Raises DownloadError or ConversionError with one line naming the entry and
  its URL."""
  from musicvae_jax.cli_errors import describe
  from musicvae_jax.magenta import convert
  if name not in CATALOG:
    unreadable = {u.name: u for u in NOT_READABLE}
    if name in unreadable:
      raise ValueError(f'{name} ({unreadable[name].url()}) is not readable here yet: '
                       f'{unreadable[name].reason}')
    raise ValueError(f'unknown checkpoint {name!r}; known: {", ".join(CATALOG)} '
                     '(--list shows them with sizes)')
  entry = CATALOG[name]
  cache_dir = Path(cache_dir or paths.cache_root() / 'magenta').expanduser()
  base_url = base_url or os.environ.get('MUSICVAE_MAGENTA_BASE_URL') or MAGENTA_BASE
  url = entry.url(base_url)
  workdir = Path(workdir).expanduser()
  if (workdir / 'checkpoints').is_dir():
    raise FileExistsError(f'{workdir} already holds a run; choose a new --workdir')
  try:
    source = download(entry, cache_dir, base_url, progress)
  except OSError as error:
    raise DownloadError(f'{name}: {describe(error)}') from error
  try:
    if entry.kind == 'js' and entry.magenta_config:
      from musicvae_jax.magenta import tfjs
      check_config_json(entry, tfjs.read_checkpoint(source)[1])
    return convert.convert_checkpoint(entry.magenta_config, str(source), str(workdir))
  except Exception as error:  # pylint: disable=broad-except
    raise ConversionError(f'{name}: converting {url} failed: {describe(error)}') from error


def _size(e: Entry) -> str:
  return f'{e.size_mb:g} MB' if e.size_mb else 'not documented'


def catalog_table() -> str:
  """docs/checkpoints.md's table of downloadable checkpoints (Markdown)."""
  rows = ['| name | listed in | format | converted as | size | URL |',
          '|---|---|---|---|---|---|']
  kinds = {'tar': 'TF .tar', 'ckpt': 'TF checkpoint', 'js': 'magenta.js'}
  for e in CATALOG.values():
    converted = f'`{e.magenta_config}`' if e.magenta_config else f'its config.json ({e.like})'
    url = e.url() + ('.index, .data-*' if e.kind == 'ckpt' else '')
    rows.append(f'| `{e.name}` | {e.source} | {kinds[e.kind]} | {converted} | {_size(e)} | '
                f'{url} |')
  return '\n'.join(rows)


def not_readable_table() -> str:
  """docs/checkpoints.md's table of published checkpoints not readable yet (Markdown)."""
  rows = ['| name | listed in | why not yet | URL |', '|---|---|---|---|']
  for u in NOT_READABLE:
    rows.append(f'| `{u.name}` | {u.source} | {u.reason} | {u.url()} |')
  return '\n'.join(rows)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined when run as a command only, so that importing this module (the
  # library functions above) never clashes with other commands' flags.
  flags.DEFINE_string('workdir', None, 'Where the converted run goes (must be new).')
  flags.DEFINE_string('cache_dir', '', 'Download folder (default <cache root>/magenta: '
                      '~/.cache/musicvae_jax/magenta on Linux, see paths.py).')
  flags.DEFINE_string('base_url', '', f'Server root holding Magenta\'s paths, bucket names '
                      f'included (default {MAGENTA_BASE}, or $MUSICVAE_MAGENTA_BASE_URL).')
  flags.DEFINE_bool('list', False, 'List the downloadable names with sizes and URLs, then the '
                    'published MusicVAE checkpoints not readable here yet and why, and exit.')
  flags.DEFINE_bool('progress', True, 'Show a progress bar.')


def main(argv):
  if FLAGS.list:
    print(catalog_table())
    print(f'\nPublished MusicVAE checkpoints not readable here yet ({len(NOT_READABLE)}):\n')
    print(not_readable_table())
    return
  if len(argv) != 2:
    sys.exit('usage: python -m musicvae_jax.download_magenta NAME --workdir=DIR '
             '(--list shows the names)')
  if not FLAGS.workdir:
    sys.exit('error: --workdir is needed')
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR)
  workdir = download_and_convert(argv[1], FLAGS.workdir, FLAGS.cache_dir or None,
                                 FLAGS.base_url or None, FLAGS.progress)
  print(f'downloaded {argv[1]} and converted it to {workdir}; try: python -m '
        f'musicvae_jax.generate --workdir={workdir} --mode=sample --output_dir=out/{argv[1]}')


def run():
  _define_flags()
  from musicvae_jax import cli_errors
  cli_errors.run(main)


if __name__ == '__main__':
  run()
