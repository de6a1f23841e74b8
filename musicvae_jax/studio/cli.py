"""Command line of the studio.

  python -m musicvae_jax.studio --workdir=runs/folk_mel_2bar [--port=8765] [--host=127.0.0.1]
  python -m musicvae_jax.studio --config=hierdec-mel_16bar --checkpoint_file=hierdec-mel_16bar.tar
  python -m musicvae_jax.studio --model=NAME     (a pretrained model of the package)

Loads the run (or a Magenta checkpoint, converted once into the cache: the
model-source flags of model_source.py), serves the page on the printed
address at once and, meanwhile, compiles every batch shape the page can ask
for (`Studio.warmup`: the default samples first), so that no click compiles.
Compiled programs are kept in JAX's persistent compilation cache
(compile_cache.py: `<cache root>/xla`; `--nocompilation_cache` turns it
off), so the next start reads them instead of compiling. No internet needed.
Only that address is answered, only the page it serves can use the API (a
per-launch token), and the latent map reads only the run's data folders and
the `--data_dir` folders (docs/studio.md, "Security").
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from absl import flags, logging

from musicvae_jax import cli_errors, compile_cache, lazy_notebook, model_source

FLAGS = flags.FLAGS
# The model: --workdir / --run_dir / --checkpoint_file / --model, --config,
# --hparams, --best come from model_source (defined in run()).
flags.DEFINE_string('host', '127.0.0.1', 'Address to listen on (127.0.0.1: this machine only).')
flags.DEFINE_integer('port', 8765, 'Port to listen on (0: any free port).')
flags.DEFINE_bool('warmup', True, 'Compile every batch shape the page uses in the background '
                  'while serving (no click compiles once it is done).')
flags.DEFINE_float('qpm', 120.0, 'Tempo of everything the studio plays and writes.')
flags.DEFINE_float('max_upload_mb', 4.0, 'Largest accepted upload, in megabytes.')
flags.DEFINE_multi_string('data_dir', [], 'A folder the latent map may read (with '
                          'everything below it), besides the run\'s own data folders and '
                          'uploads; repeatable (--map_root is the same flag).')
flags.DEFINE_alias('map_root', 'data_dir')
flags.DEFINE_integer('map_max_files', 2000, 'Most music files a mapped folder may hold.')
flags.DEFINE_integer('max_map_windows', 2000, 'Most windows a latent map shows (a larger '
                     'set is subsampled, the same way for the same seed).')
flags.DEFINE_float('media_cache_mb', 64.0, 'Rendered audio, pictures and MIDI kept for '
                   'reuse, in megabytes (least recently used dropped first).')
flags.DEFINE_multi_string('allowed_host', [], 'Another Host to answer (NAME or NAME:PORT), '
                          'e.g. behind a proxy or a tunnel to another port; repeatable.')


def main(argv):
  del argv
  lazy_notebook.defer()  # note_seq without bokeh / pandas: a quicker start
  logging.set_verbosity(logging.ERROR)  # orbax warns about read-only restores
  try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
  except ImportError:
    raise cli_errors.UserError("the studio needs its extra: pip install -e '.[studio]'")
  from musicvae_jax.studio import server
  from musicvae_jax.studio.engine import Studio
  if FLAGS.map_max_files < 1 or FLAGS.media_cache_mb <= 0 or FLAGS.max_map_windows < 5:
    raise cli_errors.UserError('--map_max_files and --media_cache_mb must be positive, '
                               '--max_map_windows at least 5')
  for root in FLAGS.data_dir:
    if not Path(root).expanduser().is_dir():
      raise cli_errors.UserError(f'--data_dir={root}: not a folder')
  try:  # before anything compiles
    cache = compile_cache.enable_from_flags()
  except OSError as error:
    raise cli_errors.UserError(f'--compilation_cache_dir: {cli_errors.describe(error)}') from error
  from musicvae_jax import compile_events
  counter = compile_events.Counter()
  workdir = model_source.workdir()
  try:
    model = model_source.load(workdir, best=FLAGS.best, weights=FLAGS.weights)
  except (ValueError, OSError) as error:
    raise cli_errors.UserError(f'{workdir}: {cli_errors.describe(error)}') from error
  from musicvae_jax import startup
  startup.print_summary(model.params, extra={
      'step': model.step, 'compilation cache': cache or 'off'})
  # A pretrained model has no workdir: its recipes name it by --model.
  studio = Studio(model, '' if model.pretrained else str(workdir), qpm=FLAGS.qpm,
                  max_upload_bytes=int(FLAGS.max_upload_mb * 1e6),
                  map_roots=FLAGS.data_dir, map_max_files=FLAGS.map_max_files,
                  media_cache_bytes=int(FLAGS.media_cache_mb * 2**20),
                  max_map_windows=FLAGS.max_map_windows)
  try:
    sock = server.bind(FLAGS.host, FLAGS.port)
  except OSError as error:
    raise cli_errors.UserError(
        f'cannot listen on {FLAGS.host}:{FLAGS.port}: {error.strerror} '
        '(try --port=0 for any free port)') from error
  host, port = sock.getsockname()[:2]
  shown = f'[{host}]' if ':' in host else host
  what = f'pretrained model {model.pretrained}' if model.pretrained else workdir
  print(f'musicvae studio: {what} at http://{shown}:{port}/ (Ctrl-C stops)',
        flush=True)
  if FLAGS.warmup:  # while the page loads; the default samples first
    threading.Thread(target=_warm, args=(studio, counter), daemon=True).start()
  policy = server.policy_for(sock, FLAGS.host, FLAGS.allowed_host)
  server.make_server(studio, sock, policy=policy).run(sockets=[sock])


def _warm(studio, counter) -> None:
  """`studio.warmup()`, then one line: shapes, seconds, compilations since
  start-up (and how many the persistent cache served)."""
  start = time.perf_counter()
  shapes = studio.warmup()
  print(f'warmed {shapes} batch shapes in {time.perf_counter() - start:.1f} s '
        f'({counter.compiled} compilations since start-up, {counter.from_disk} read '
        'from the compilation cache)', flush=True)


def run():
  model_source.define_flags()
  model_source.define_weights_flag()
  compile_cache.define_flags()
  cli_errors.run(main, help_from=(model_source.__name__, compile_cache.__name__))


if __name__ == '__main__':
  run()
