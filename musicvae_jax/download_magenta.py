"""Download a Magenta MusicVAE checkpoint by name and convert it in one go.

  python -m musicvae_jax.download_magenta hierdec-mel_16bar --workdir=runs/hierdec_magenta
  python -m musicvae_jax.download_magenta mel_4bar_small_q2 --workdir=runs/mel4   # magenta.js
  python -m musicvae_jax.download_magenta --list

Names and addresses are Magenta's own: the TF checkpoints of the music_vae
README (`.tar` files) and the magenta.js checkpoints of magenta-js'
`music/checkpoints/checkpoints.json` (folders of config.json, a weights
manifest and shards), all under https://storage.googleapis.com/magentadata.
Downloads go to `--cache_dir` (default ~/.cache/musicvae_jax/magenta), are
resumed where they stopped (HTTP Range), show a progress bar, and are checked
against the server's size and, where it sends one (Google Cloud Storage's
`x-goog-hash`), MD5, before conversion. `--base_url` (or
MUSICVAE_MAGENTA_BASE_URL) points at a mirror holding the same paths.
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

MAGENTA_BASE = 'https://storage.googleapis.com/magentadata'
TF_PATH = 'models/music_vae/checkpoints'
JS_PATH = 'js/checkpoints/music_vae'


@dataclasses.dataclass(frozen=True)
class Entry:
  """One published checkpoint."""

  name: str
  kind: str                  # 'tar' (TF) or 'js' (magenta.js folder)
  path: str                  # below MAGENTA_BASE
  magenta_config: str        # Magenta config name ('' for magenta.js)
  size_mb: float | None      # documented size, None where Magenta gives none
  description: str

  def url(self, base: str = MAGENTA_BASE) -> str:
    return f'{base.rstrip("/")}/{self.path}'


def _tf(name, config, description):
  return Entry(name, 'tar', f'{TF_PATH}/{name}.tar', config, None, description)


def _js(name, folder, size_mb, description):
  return Entry(name, 'js', f'{JS_PATH}/{folder}', '', size_mb, description)


# Magenta's music_vae README (no sizes given there) and magenta-js'
# checkpoints.json (size_mb given). Only the MusicVAE models whose configs
# this project converts are listed.
CATALOG: dict[str, Entry] = {e.name: e for e in (
    _tf('cat-mel_2bar_big', 'cat-mel_2bar_big', '2-bar melodies'),
    _tf('hierdec-mel_16bar', 'hierdec-mel_16bar', '16-bar melodies'),
    _tf('hierdec-trio_16bar', 'hierdec-trio_16bar', '16-bar trios (melody, bass, drums)'),
    _tf('cat-drums_2bar_small.lokl', 'cat-drums_2bar_small',
        '2-bar drums, 9 classes, for realistic sampling'),
    _tf('cat-drums_2bar_small.hikl', 'cat-drums_2bar_small',
        '2-bar drums, 9 classes, for reconstruction and interpolation'),
    _js('mel_2bar_small', 'mel_2bar_small', 17.7, '2-bar melodies (magenta.js)'),
    _js('mel_4bar_small_q2', 'mel_4bar_small_q2', 26.5, '4-bar melodies, 2-byte weights (magenta.js)'),
    _js('mel_4bar_med_q2', 'mel_4bar_med_q2', 65.4, '4-bar melodies, medium, 2-byte weights (magenta.js)'),
    _js('mel_4bar_med_lokl_q2', 'mel_4bar_med_lokl_q2', 65.4,
        '4-bar melodies, medium, low KL, 2-byte weights (magenta.js)'),
    _js('mel_16bar_small_q2', 'mel_16bar_small_q2', 23.5,
        '16-bar melodies with a conductor, 2-byte weights (magenta.js)'),
    _js('drums_2bar_lokl_small', 'drums_2bar_lokl_small', 18.5, '2-bar drums, low KL (magenta.js)'),
    _js('drums_2bar_hikl_small', 'drums_2bar_hikl_small', 18.5, '2-bar drums, high KL (magenta.js)'),
    _js('drums_4bar_med_q2', 'drums_4bar_med_q2', 68.2, '4-bar drums, 2-byte weights (magenta.js)'),
    _js('drums_4bar_med_lokl_q2', 'drums_4bar_med_lokl_q2', 68.2,
        '4-bar drums, low KL, 2-byte weights (magenta.js)'),
    _js('trio_4bar_lokl_small_q1', 'trio_4bar', 17.6, '4-bar trios, 1-byte weights (magenta.js)'),
    _js('trio_16bar_xl', 'trio_16bar', 1710.0, '16-bar trios, very large (magenta.js)'),
)}


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
  """The downloaded checkpoint: a `.tar` file or a magenta.js folder."""
  if entry.kind == 'tar':
    return fetch(entry.url(base_url), cache_dir / f'{entry.name}.tar', progress)
  folder = cache_dir / entry.name
  url = entry.url(base_url)
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


def download_and_convert(name: str, workdir: str | Path, cache_dir: str | Path | None = None,
                         base_url: str | None = None, progress: bool = True) -> Path:
  """Downloads Magenta's checkpoint `name` and converts it into `workdir`."""
  from musicvae_jax.magenta import convert
  if name not in CATALOG:
    raise ValueError(f'unknown checkpoint {name!r}; known: {", ".join(CATALOG)} '
                     '(--list shows them with sizes)')
  entry = CATALOG[name]
  cache_dir = Path(cache_dir or Path.home() / '.cache' / 'musicvae_jax' / 'magenta').expanduser()
  base_url = base_url or os.environ.get('MUSICVAE_MAGENTA_BASE_URL') or MAGENTA_BASE
  workdir = Path(workdir).expanduser()
  if (workdir / 'checkpoints').is_dir():
    raise FileExistsError(f'{workdir} already holds a run; choose a new --workdir')
  source = download(entry, cache_dir, base_url, progress)
  return convert.convert_checkpoint(entry.magenta_config, str(source), str(workdir))


def catalog_table() -> str:
  """The README's table (Markdown)."""
  rows = ['| name | format | Magenta config | size | URL |', '|---|---|---|---|---|']
  for e in CATALOG.values():
    size = f'{e.size_mb:g} MB' if e.size_mb else 'not documented'
    kind = 'TF .tar' if e.kind == 'tar' else 'magenta.js'
    rows.append(f'| `{e.name}` | {kind} | {e.magenta_config or "from config.json"} | '
                f'{size} | {e.url()} |')
  return '\n'.join(rows)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined when run as a command only, so that importing this module (the
  # library functions above) never clashes with other commands' flags.
  flags.DEFINE_string('workdir', None, 'Where the converted run goes (must be new).')
  flags.DEFINE_string('cache_dir', '', 'Download folder (default ~/.cache/musicvae_jax/magenta).')
  flags.DEFINE_string('base_url', '', f'Server holding Magenta\'s paths (default {MAGENTA_BASE}, '
                      'or $MUSICVAE_MAGENTA_BASE_URL).')
  flags.DEFINE_bool('list', False, 'List the names with sizes and URLs, and exit.')
  flags.DEFINE_bool('progress', True, 'Show a progress bar.')


def main(argv):
  if FLAGS.list:
    print(catalog_table())
    return
  if len(argv) != 2:
    sys.exit('usage: python -m musicvae_jax.download_magenta NAME --workdir=DIR '
             '(--list shows the names)')
  if not FLAGS.workdir:
    sys.exit('error: --workdir is needed')
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR)
  try:
    workdir = download_and_convert(argv[1], FLAGS.workdir, FLAGS.cache_dir or None,
                                   FLAGS.base_url or None, FLAGS.progress)
  except (ValueError, OSError) as error:
    sys.exit(f'error: {error}')
  print(f'downloaded {argv[1]} and converted it to {workdir}; try: python -m '
        f'musicvae_jax.generate --workdir={workdir} --mode=sample --output_dir=out/{argv[1]}')


def run():
  _define_flags()
  from musicvae_jax import cli_errors
  cli_errors.run(main)


if __name__ == '__main__':
  run()
