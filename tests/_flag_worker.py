"""Parses command lines against one command's real flags (tests/test_readme.py).

    python tests/_flag_worker.py REQUEST.json RESULT.json

REQUEST: {"target": "musicvae_jax.train:run", "positional": 0, "commands": [[arg, ...], ...]}
RESULT:  [{"ok": true/false, "error": "..."}, ...], one entry per command.

The target's entry point (`run()`, what `python -m` and the console script call)
is called once with `absl.app.run` and `argparse.ArgumentParser.parse_args`
stubbed, so every flag is defined exactly as the real command defines it (at
import, in `_define_flags`, `--verbose`, absl's help flags) and nothing runs.
Then each command line is parsed, without running the command:

* absl: `FLAGS(['prog'] + args)`; unknown flags, bad values (ints, enums, config
  overrides such as `--config.batch_size=abc`) and config files that do not load
  are errors. Flags the command marks as required are not enforced: a command
  may name its model another way (for instance a Magenta checkpoint file).
* argparse: the command's own parser, with required arguments made optional.

More positional arguments than `positional` is an error too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import sys

HELP_FLAGS = ('--help', '--helpshort', '--helpfull', '--helpxml', '-h', '-?')


class _Stop(BaseException):
  """Raised by the stubs: the command line is about to be parsed."""

  def __init__(self, kind: str, parser: argparse.ArgumentParser | None = None):
    super().__init__(kind)
    self.kind, self.parser = kind, parser


def load_entry(target: str):
  """The function a command runs: 'pkg.module:func', or 'pkg.module' for
  `python -m pkg.module` (its `run`; a package's `__main__.run`)."""
  module, _, func = target.partition(':')
  if not func:
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations is not None:
      module += '.__main__'
    func = 'run'
  return getattr(importlib.import_module(module), func)


def capture(entry) -> _Stop:
  """Calls `entry` until it is about to parse its command line."""
  from absl import app
  real_app_run = app.run
  real_parse_args = argparse.ArgumentParser.parse_args

  def stop_absl(*args, **kwargs):
    raise _Stop('absl')

  def stop_argparse(self, args=None, namespace=None):
    raise _Stop('argparse', self)

  app.run = stop_absl
  argparse.ArgumentParser.parse_args = stop_argparse
  saved_argv = sys.argv
  sys.argv = ['prog']
  try:
    entry()
  except _Stop as stop:
    return stop
  finally:
    app.run = real_app_run
    argparse.ArgumentParser.parse_args = real_parse_args
    sys.argv = saved_argv
  raise RuntimeError(f'{entry.__module__}.{entry.__name__}() returned without parsing '
                     'a command line')


def _without_help(args: list[str]) -> list[str]:
  return [a for a in args if a.split('=', 1)[0] not in HELP_FLAGS]


def absl_checker(positional: int):
  from absl import app, flags
  FLAGS = flags.FLAGS
  app.define_help_flags()
  for flag in FLAGS._flags().values():  # pylint: disable=protected-access
    flag.validators = [v for v in flag.validators
                       if 'must have a value other than None' not in str(v.message)]
  defined = set(FLAGS)

  def check(args: list[str]) -> str:
    sys.argv = ['prog'] + _without_help(args)
    try:
      rest = FLAGS(sys.argv)
      for name in list(FLAGS):
        if FLAGS[name].present:
          value = FLAGS[name].value  # a config file's errors surface on access
          if hasattr(value, 'to_dict'):
            value.to_dict()
      if len(rest) - 1 > positional:
        return f'unexpected positional arguments: {rest[1:]}'
      return ''
    except Exception as error:  # pylint: disable=broad-except
      return f'{type(error).__name__}: {error}'
    finally:
      FLAGS.unparse_flags()
      for name in set(FLAGS) - defined:  # --config.FIELD overrides define flags
        delattr(FLAGS, name)
  return check


def argparse_checker(parser: argparse.ArgumentParser, positional: int):
  for action in parser._actions:  # pylint: disable=protected-access
    if action.option_strings:
      action.required = False

  def check(args: list[str]) -> str:
    stderr = io.StringIO()
    try:
      with contextlib.redirect_stderr(stderr):
        namespace, rest = parser.parse_known_args(_without_help(args))
    except SystemExit:
      lines = stderr.getvalue().strip().splitlines()
      return lines[-1] if lines else 'argparse exited'
    del namespace
    if rest and any(a.startswith('-') for a in rest):
      return f'unrecognized arguments: {rest}'
    if len(rest) > positional:
      return f'unexpected positional arguments: {rest}'
    return ''
  return check


def main() -> int:
  request_path, result_path = sys.argv[1:3]  # checking rewrites sys.argv
  with open(request_path, encoding='utf-8') as source:
    request = json.load(source)
  try:
    stop = capture(load_entry(request['target']))
    if stop.kind == 'absl':
      check = absl_checker(request['positional'])
    else:
      check = argparse_checker(stop.parser, request['positional'])
    results = []
    for args in request['commands']:
      error = check(list(args))
      results.append({'ok': not error, 'error': error})
  except Exception as error:  # pylint: disable=broad-except
    message = f'{request["target"]}: {type(error).__name__}: {error}'
    results = [{'ok': False, 'error': message} for _ in request['commands']]
  with open(result_path, 'w', encoding='utf-8') as out:
    json.dump(results, out)
  return 0


if __name__ == '__main__':
  sys.exit(main())
