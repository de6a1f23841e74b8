"""One line per failure for every command line: `error: ...`, exit code 1.

    from musicvae_jax import cli_errors

    def run():
      cli_errors.run(main)        # instead of absl.app.run(main)

    @cli_errors.main_wrapper      # or wrap any main(argv) (argparse tools too)
    def main(argv): ...

A failure ends with exactly one line on stderr, `error: <what>` naming the
file or config field, and exit code 1. The full traceback is printed (before
that line) only with `--verbose` or the environment variable
`MUSICVAE_VERBOSE=1`. Code that holds background resources (checkpoint
managers, prefetch threads) closes them in its own `finally`; functions
registered with `at_failure` run before the line is printed, and the process
then ends at once (`os._exit`) so that no late thread or interpreter-shutdown
handler prints after the line.

Exceptions whose message already is the one line derive from `errors.UserError`
(library modules import it from `musicvae_jax.errors`, which needs no absl).
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import traceback
from typing import Callable, Sequence

from musicvae_jax.errors import UserError, disk_full  # re-exported for the CLI layer

ENV = 'MUSICVAE_VERBOSE'


_failure_hooks: list[Callable[[], None]] = []


def at_failure(fn: Callable[[], None]) -> Callable[[], None]:
  """Registers `fn` to run (once, errors ignored) before the error line."""
  _failure_hooks.append(fn)
  return fn


def _define_flag() -> None:
  from absl import flags
  if 'verbose' not in flags.FLAGS:
    flags.DEFINE_bool('verbose', False, 'On failure, print the full traceback '
                      f'before the one-line error (or set {ENV}=1).')


def verbose() -> bool:
  """True with `--verbose` (parsed or on the command line) or MUSICVAE_VERBOSE."""
  if os.environ.get(ENV, '').strip().lower() not in ('', '0', 'false', 'no'):
    return True
  try:
    from absl import flags
    if 'verbose' in flags.FLAGS and flags.FLAGS.is_parsed():
      return bool(flags.FLAGS.verbose)
  except ImportError:  # pragma: no cover - absl is a core dependency
    pass
  return any(a in ('--verbose', '--verbose=true', '--verbose=1') for a in sys.argv[1:])


def _one_line(text: str) -> str:
  return re.sub(r'\s*\n\s*', '; ', str(text).strip())


def describe(error: BaseException) -> str:
  """The message of `error` as one line (without the `error: ` prefix)."""
  if isinstance(error, UserError):
    return _one_line(error)
  if isinstance(error, OSError) and error.errno == errno.ENOSPC:
    where = f' writing {error.filename}' if error.filename else ''
    return _one_line(f'no space left on device{where}; free some space and '
                     'run the command again')
  if isinstance(error, FileNotFoundError) and error.filename:
    return _one_line(f'{error.filename}: no such file or folder')
  if isinstance(error, IsADirectoryError) and error.filename:
    return _one_line(f'{error.filename}: is a folder, expected a file')
  if isinstance(error, PermissionError) and error.filename:
    return _one_line(f'{error.filename}: permission denied')
  if isinstance(error, json.JSONDecodeError):
    return _one_line(f'invalid JSON: {error}')
  if isinstance(error, (ValueError, OSError, KeyError, LookupError)):
    text = str(error) if not isinstance(error, KeyError) else str(error.args[0])
    return _one_line(text or type(error).__name__)
  return _one_line(f'{type(error).__name__}: {error}')


def fail(error: BaseException | str, code: int = 1) -> None:
  """Runs the failure hooks, prints the one line (traceback first if
  verbose) and ends the process with `code`."""
  for hook in _failure_hooks:
    try:
      hook()
    except Exception:  # pylint: disable=broad-except
      pass
  sys.stdout.flush()
  if isinstance(error, BaseException):
    if verbose():
      traceback.print_exception(type(error), error, error.__traceback__)
    if not isinstance(error, UserError) and disk_full(error) is not None:
      error = OSError(errno.ENOSPC, 'No space left on device', disk_full(error) or None)
    line = describe(error)
  else:
    line = _one_line(error)
  if line.startswith('error: '):
    line = line[len('error: '):]
  sys.stderr.write(f'error: {line}\n')
  sys.stderr.flush()
  os._exit(code)  # nothing (late threads, atexit tracebacks) prints after the line


def main_wrapper(main: Callable) -> Callable:
  """Wraps `main(argv)`: any exception becomes the one `error:` line."""
  def wrapped(*args, **kwargs):
    try:
      return main(*args, **kwargs)
    except SystemExit as done:
      if isinstance(done.code, str):  # sys.exit('message')
        fail(done.code)
      raise
    except KeyboardInterrupt:
      fail('interrupted', 130)
    except BaseException as error:  # pylint: disable=broad-except
      fail(error)
  wrapped.__name__ = getattr(main, '__name__', 'main')
  wrapped.__doc__ = main.__doc__
  return wrapped


def _flag_message(error: BaseException) -> str:
  text = str(error)
  if text.startswith('flag '):
    text = text[len('flag '):]
  if isinstance(error, AttributeError):
    # ml_collections: AttributeError("'lerning_rate'\nDid you mean ...")
    text = text.strip('\'"').replace('\\n', '\n').replace("\\'", "'")
    field, _, hint = text.partition('\n')
    field = field.strip('\'"')
    return _one_line(f'--config.{field}: no such config field. {hint}'.strip())
  if 'Traceback (most recent call last):' in text:
    # ml_collections puts the config file's traceback inside the message:
    # keep its first line and the exception's last line.
    head, _, trace = text.partition('Traceback (most recent call last):')
    last = [l for l in trace.strip().splitlines() if l.strip()][-1:]
    text = f'{head.strip()} {" ".join(last).strip()}'
  return _one_line(text)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flags parser for `app.run`: a bad flag is one `error:` line."""
  from absl import flags
  try:
    return flags.FLAGS(argv)
  except SystemExit:
    if any(arg in HELP_FLAGS for arg in argv[1:]):
      sys.exit(0)  # absl exits 1 after printing the help that was asked for
    raise
  except flags.Error as error:
    failure = UserError(f'{_flag_message(error)} (see --helpshort)')
    failure.__cause__ = error
  except Exception as error:  # pylint: disable=broad-except
    # Config files and overrides are parsed here (ml_collections): typos,
    # bad values and broken config files end up in this branch.
    failure = UserError(_flag_message(error))
    failure.__cause__ = error
  fail(failure)
  return []  # unreachable


class _DropOrbaxThreadErrors:
  """Orbax's background save threads log each failure with a traceback and
  then raise it in the main thread, where it becomes the `error:` line."""

  def filter(self, record) -> bool:
    if '/orbax/' in (record.pathname or '') and record.levelno >= 40:
      return False
    return not _is_closed_loop_error(record.exc_info[1] if record.exc_info else None)


def _is_closed_loop_error(error) -> bool:
  """Orbax's async callbacks racing the shutdown after a failed save
  ('Event loop is closed'): noise once the failure has its own line."""
  return isinstance(error, RuntimeError) and 'Event loop is closed' in str(error)


def _quiet_thread_errors() -> None:
  import threading
  previous = threading.excepthook

  def hook(args):
    if not _is_closed_loop_error(args.exc_value):
      previous(args)
  threading.excepthook = hook
  # tensorstore's C++ threads report a failing Python callback through
  # PyErr_Print, i.e. sys.excepthook.
  previous_sys = sys.excepthook

  def sys_hook(kind, value, tb):
    if not _is_closed_loop_error(value):
      previous_sys(kind, value, tb)
  sys.excepthook = sys_hook
  previous_unraisable = sys.unraisablehook

  def unraisable_hook(info):
    if not _is_closed_loop_error(info.exc_value):
      previous_unraisable(info)
  sys.unraisablehook = unraisable_hook


def _quiet_libraries(main: Callable) -> Callable:
  def quiet(argv):
    from absl import flags, logging
    # Orbax and JAX log every checkpoint operation at INFO; the console is
    # for the command's own output (pass --verbosity=0 to see them).
    if not flags.FLAGS['verbosity'].present:
      logging.set_verbosity(logging.WARNING)
    if not verbose():
      logging.get_absl_handler().addFilter(_DropOrbaxThreadErrors())
      _quiet_thread_errors()
    return main(argv)
  return quiet


def list_in_help(modules: Sequence[str]) -> None:
  """Makes `--help` list the flags defined in `modules` (module names).

  absl's `--help` lists only the key flags of the program it takes for the
  main module (`sys.argv[0]`): flags defined in `python -m package`'s
  command module, behind a console script, or in a shared module such as
  `model_source` would hide under `--helpfull`.
  """
  from absl import flags
  program = sys.argv[0]
  for module in modules:
    name = program if module == '__main__' else module
    for flag in flags.FLAGS.get_key_flags_for_module(name):
      flags.FLAGS.register_key_flag_for_module(program, flag)


HELP_FLAGS = ('--help', '-help', '-h', '-?', '--helpshort', '--helpfull')


def run(main: Callable, help_from: Sequence[str] = (),
        usage: Callable[[], str] | None = None) -> None:
  """`absl.app.run(main)` with one-line errors, `--verbose`, and library
  INFO logs off unless `--verbosity` is given. `--help` lists the flags of
  `main`'s module, of the modules named in `help_from` and `--verbose`;
  `usage()` (when given) is the text it prints above them (absl prints the
  main module's docstring), computed only when help is asked for."""
  from absl import app
  _define_flag()
  list_in_help((main.__module__, __name__, *help_from))
  if usage is not None and any(arg in HELP_FLAGS for arg in sys.argv[1:]):
    sys.modules['__main__'].__doc__ = usage()
  app.run(main_wrapper(_quiet_libraries(main)), flags_parser=parse_flags)


_define_flag()
