"""README.md is a user's page: every command it shows parses against the real
flags, and every repository path it names exists. The same for docs/*.md's
commands and links.

Commands: every fenced shell block (bash / sh / shell / console) and every
inline code span that starts a command; backslash continuations are joined and
lines split at `&&`, `||`, `;`, `|`. A command that runs one of ours
(`python -m musicvae_jax.X ...` or a console script of setup.cfg) is parsed by
tests/_flag_worker.py with the command's own flag definitions: unknown flags,
bad values, config files, `--config.FIELD` overrides and stray positional
arguments fail; required flags are not enforced. One subprocess per command
module parses every command of that module.
"""

from __future__ import annotations

import configparser
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / 'README.md'
WORKER = Path(__file__).resolve().parent / '_flag_worker.py'
SHELL_LANGUAGES = {'bash', 'sh', 'shell', 'console', 'zsh'}
SEPARATORS = {'&&', '||', ';', '|', '&'}
POSITIONAL = {'musicvae_jax.download_magenta': 1}  # the checkpoint's NAME



# -- extraction ---------------------------------------------------------------------
def fenced_blocks(text: str) -> list[tuple[str, str]]:
  """(language, body) of every fenced code block."""
  return [(m.group(1).lower(), m.group(2)) for m in
          re.finditer(r'^```([^\n`]*)\n(.*?)^```[ \t]*$', text, re.M | re.S)]


def inline_spans(text: str) -> list[str]:
  """Inline code spans outside fenced blocks."""
  prose = re.sub(r'^```.*?^```[ \t]*$', '', text, flags=re.M | re.S)
  return re.findall(r'(?<!`)`([^`\n]+)`(?!`)', prose)


def split_commands(script: str) -> list[list[str]]:
  """The simple commands of a shell snippet, each as its words."""
  commands = []
  lines = re.sub(r'\\\n', ' ', script).splitlines()
  while lines:
    line = lines.pop(0)
    while True:
      lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
      lexer.whitespace_split = True
      lexer.commenters = '#'
      try:
        tokens = list(lexer)
        break
      except ValueError:  # a quotation that goes on on the next line
        if not lines:
          raise
        line += '\n' + lines.pop(0)
    words: list[str] = []
    for token in tokens:
      if token in SEPARATORS:
        if words:
          commands.append(words)
        words = []
      else:
        words.append(token)
    if words:
      commands.append(words)
  return commands


def console_scripts() -> dict[str, str]:
  """setup.cfg's console scripts: name -> 'module:function'."""
  cfg = configparser.ConfigParser()
  cfg.read(REPO / 'setup.cfg')
  scripts = {}
  for line in cfg['options.entry_points']['console_scripts'].strip().splitlines():
    name, _, target = line.partition('=')
    scripts[name.strip()] = target.strip()
  return scripts


def invocation(words: list[str]) -> tuple[str, list[str]] | None:
  """(target, flags) when `words` runs one of our commands, else None. The
  target is a module (`python -m`) or 'module:function' (console script)."""
  while words and re.match(r'[A-Za-z_][A-Za-z0-9_]*=', words[0]):
    words = words[1:]  # VAR=value before the command
  if not words:
    return None
  program = words[0].replace('\\', '/').rsplit('/', 1)[-1]
  if (re.fullmatch(r'python(3(\.\d+)?)?(\.exe)?', program) and len(words) > 2
      and words[1] == '-m' and re.fullmatch(r'musicvae_jax(\.\w+)*', words[2])):
    return words[2], words[3:]
  scripts = console_scripts()
  if program in scripts:
    return scripts[program], words[1:]
  return None


def our_commands(text: str) -> list[tuple[str, str, list[str]]]:
  """(command text, target, flags) of every command of ours in `text`: fenced
  shell blocks, and inline code spans that are a command of ours."""
  found = []
  snippets = [body for language, body in fenced_blocks(text) if language in SHELL_LANGUAGES]
  starts = '|'.join(re.escape(name) for name in console_scripts())
  snippets += [span for span in inline_spans(text) if re.match(
      rf'([A-Za-z_]\w*=\S*\s+)*(\S*python[\d.]*\s+-m\s+musicvae_jax|({starts})(\s|$))', span)]
  for snippet in snippets:
    for words in split_commands(snippet):
      call = invocation(words)
      if call:
        found.append((' '.join(words), *call))
  return found


def check_commands(commands: list[tuple[str, list[str]]]) -> list[str]:
  """The parse error of each (target, flags), '' when it parses. One
  subprocess per target."""
  results: list[str] = [''] * len(commands)
  by_target: dict[str, list[int]] = {}
  for index, (target, _) in enumerate(commands):
    by_target.setdefault(target, []).append(index)
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
  env.setdefault('JAX_PLATFORMS', 'cpu')
  with tempfile.TemporaryDirectory() as tmp:
    for number, (target, indices) in enumerate(sorted(by_target.items())):
      request, result = Path(tmp) / f'request_{number}.json', Path(tmp) / f'result_{number}.json'
      module = target.partition(':')[0]
      request.write_text(json.dumps({
          'target': target, 'positional': POSITIONAL.get(module, 0),
          'commands': [commands[i][1] for i in indices]}))
      done = subprocess.run([sys.executable, str(WORKER), str(request), str(result)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
      assert done.returncode == 0 and result.exists(), (target, done.stdout, done.stderr)
      for index, outcome in zip(indices, json.loads(result.read_text())):
        results[index] = outcome['error']
  return results


# -- README's commands (and docs/*.md's) ---------------------------------------------
README_TEXT = README.read_text(encoding='utf-8')
COMMANDS = our_commands(README_TEXT)
DOCS = sorted((REPO / 'docs').glob('*.md'))
DOC_COMMANDS = [(f'{page.name}: {text}', target, args) for page in DOCS
                for text, target, args in our_commands(page.read_text(encoding='utf-8'))]


@pytest.fixture(scope='session')
def parse_errors(tmp_path_factory) -> dict[str, str]:
  """Every README and docs command's parse error ('' when it parses): one
  subprocess per command module for them all, once per test session (pytest-xdist
  workers share the result through a file)."""
  def parse() -> dict[str, str]:
    every = COMMANDS + [c for c in DOC_COMMANDS if not _has_variables(c)]
    errors = check_commands([(target, args) for _, target, args in every])
    return {text: error for (text, _, _), error in zip(every, errors)}

  if not os.environ.get('PYTEST_XDIST_WORKER'):
    return parse()
  from filelock import FileLock
  shared = tmp_path_factory.getbasetemp().parent / 'readme_parse_errors.json'
  with FileLock(f'{shared}.lock'):
    if not shared.is_file():
      shared.write_text(json.dumps(parse()))
    return json.loads(shared.read_text())


def _has_variables(command) -> bool:
  return any('$' in arg for arg in command[2])


def _command_params(commands):
  params = []
  for command in {c[0]: c for c in commands}.values():
    text, marks = command[0], ()
    if _has_variables(command):  # docs only (test_readme_commands_are_all_found)
      marks = (pytest.mark.skip(reason='shell variables: the words are known at run time only'),)
    params.append(pytest.param(text, marks=marks, id=text))
  return params


@pytest.mark.parametrize('command', _command_params(COMMANDS))
def test_readme_command_parses(command, parse_errors):
  assert parse_errors[command] == '', f'{command}\n  -> {parse_errors[command]}'


@pytest.mark.parametrize('command', _command_params(DOC_COMMANDS))
def test_docs_command_parses(command, parse_errors):
  assert parse_errors[command] == '', f'{command}\n  -> {parse_errors[command]}'


def test_readme_commands_are_all_found():
  """No command of ours escapes the extraction, and the page has the three
  quick starts' commands: the parse test above is never vacuous."""
  blocks = fenced_blocks(README_TEXT)
  assert all(language for language, _ in blocks), 'give every fenced block a language'
  shell = '\n'.join(body for language, body in blocks if language in SHELL_LANGUAGES)
  mentions = len(re.findall(r'-m musicvae_jax\b', shell))
  mentions += sum(len(re.findall(rf'(?<![\w-]){re.escape(name)}(?![\w-])', shell))
                  for name in console_scripts())
  fenced = our_commands('\n'.join(f'```bash\n{body}```' for language, body in blocks
                                  if language in SHELL_LANGUAGES))
  assert len(fenced) == mentions
  modules = {target.partition(':')[0] for _, target, _ in COMMANDS}
  assert {'musicvae_jax.train', 'musicvae_jax.generate', 'musicvae_jax.studio',
          'musicvae_jax.download_magenta', 'musicvae_jax.evaluate'} <= modules
  assert len(COMMANDS) >= 10
  assert not any(map(_has_variables, COMMANDS)), 'README commands are checked whole'
  assert len(DOC_COMMANDS) >= 40


def test_the_two_fresh_machine_commands_are_kept():
  """.ci/run runs the second; both are the README's set-up commands."""
  assert ('python3 -m venv .venv && . .venv/bin/activate && pip install -e . && '
          'python -m musicvae_jax.train --config=configs/mel_2bar.py:cpu '
          '--workdir=runs/folk_mel_2bar') in README_TEXT
  assert ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test,studio]' "
          '&& python -m pytest -q -n 2') in README_TEXT
  assert "pip install -q -e '.[test,studio]' && python -m pytest -q -n 2" in (
      REPO / '.ci' / 'run').read_text()


# -- the checker itself ---------------------------------------------------------------
def test_split_commands():
  script = ('X=1 python -m musicvae_jax.train --config=configs/hier.py:cpu \\\n'
            "    --config.enc_rnn_sizes='(512,)' && echo done; ls | wc  # comment\n"
            'python -m musicvae_jax.generate --chords="C G Am F" --workdir=w\n')
  assert split_commands(script) == [
      ['X=1', 'python', '-m', 'musicvae_jax.train', '--config=configs/hier.py:cpu',
       '--config.enc_rnn_sizes=(512,)'], ['echo', 'done'], ['ls'], ['wc'],
      ['python', '-m', 'musicvae_jax.generate', '--chords=C G Am F', '--workdir=w']]
  assert invocation(split_commands(script)[0]) == (
      'musicvae_jax.train', ['--config=configs/hier.py:cpu', '--config.enc_rnn_sizes=(512,)'])
  assert invocation(['musicvae-studio', '--workdir=w']) == (
      'musicvae_jax.studio.cli:run', ['--workdir=w'])
  assert invocation(['python', '-m', 'pytest', '-q']) is None


# (command, a word its error must name; None: it parses)
FAKE_COMMANDS = [
    ('python -m musicvae_jax.generate --workdir=runs/x --no_such_flag=1 --output_dir=out',
     'no_such_flag'),
    ('python -m musicvae_jax.generate --workdir=runs/x --mode=no_such_mode --output_dir=out',
     'no_such_mode'),
    ('python -m musicvae_jax.generate --workdir=runs/x --num_outputs=five --output_dir=out',
     'five'),
    ('python -m musicvae_jax.train --config=configs/mel_2bar.py:cpu --workdir=runs/x \\\n'
     '    --config.no_such_field=3', 'no_such_field'),
    ('python -m musicvae_jax.train --config=configs/mel_2bar.py:cpu --workdir=runs/x '
     '--config.batch_size=big', 'big'),
    ('python -m musicvae_jax.train --config=configs/no_such_config.py --workdir=runs/x',
     'no_such_config'),
    ('python -m musicvae_jax.train --config=configs/mel_2bar.py:no_such_variant --workdir=runs/x',
     'no_such_variant'),
    ('python -m musicvae_jax.train --config=configs/mel_2bar.py:cpu --workdir=runs/x extra',
     'extra'),
    ('musicvae-evaluate --workdir=runs/x --no_such_flag=1', 'no_such_flag'),
    ('musicvae-evaluate --workdir=runs/x --seeds=many', 'many'),
    ('python -m musicvae_jax.download_magenta one two --workdir=runs/x', 'two'),
    ('python -m musicvae_jax.generate --workdir=runs/x --mode=sample --output_dir=out', None),
    ('python -m musicvae_jax.train --config=configs/mel_2bar.py:cpu --workdir=runs/x \\\n'
     "    --config.train_dir=~/midi/train --config.enc_rnn_sizes='(128,)'", None),
    ('musicvae-evaluate --workdir=runs/x --eval_dir=~/midi/eval --seeds=2', None),
    ('python -m musicvae_jax.download_magenta cat-mel_2bar_big --workdir=runs/x', None),
]
FAKE_INLINE = ('python -m musicvae_jax.generate --workdir=runs/x --modes=sample '
               '--output_dir=out', 'modes')


def test_a_wrong_flag_in_a_readme_is_caught():
  """The checker is not vacuous: made-up flags, bad values, broken configs and
  stray arguments in a fake README (a fenced block and an inline span) fail."""
  fake = ('# fake\n\nRun `' + FAKE_INLINE[0] + '` inline.\n\n```bash\n'
          + '\n'.join(command for command, _ in FAKE_COMMANDS) + '\n```\n')
  commands = our_commands(fake)
  assert len(commands) == len(FAKE_COMMANDS) + 1
  errors = check_commands([(target, args) for _, target, args in commands])
  for (command, word), error in zip(FAKE_COMMANDS + [FAKE_INLINE], errors):
    if word is None:
      assert error == '', (command, error)
    else:
      assert error and word in error, (command, error)


# -- paths ----------------------------------------------------------------------------
REPO_PATH = re.compile(
    r'(?<![\w./~-])((?:configs|docs|scripts|tests|musicvae_jax|examples|\.ci)/[\w./*<>-]*'
    r'|setup\.cfg|pyproject\.toml)')


def _slug(heading: str) -> str:
  """GitHub's anchor of a Markdown heading."""
  text = re.sub(r'[`*_]|\[([^\]]*)\]\([^)]*\)', r'\1', heading.strip().lower())
  return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def named_paths(page: Path, code_paths: bool = True) -> list[str]:
  """The repository paths a page names, relative to the repository root: its
  link targets (with their #anchors; resolved from the page's folder) and, with
  `code_paths`, the paths in its code (FILE, NAME...: placeholders)."""
  text = page.read_text(encoding='utf-8')
  paths = []
  for target in re.findall(r'\]\(([^)\s]+)\)', text):
    if re.match(r'[a-z]+:', target):
      continue
    file, hash_mark, anchor = target.partition('#')
    resolved = os.path.normpath(os.path.relpath(page.parent / file, REPO)) if file else (
        os.path.relpath(page, REPO))
    paths.append(resolved.replace(os.sep, '/') + (f'#{anchor}' if hash_mark else ''))
  code = [body for _, body in fenced_blocks(text)] + inline_spans(text)
  for snippet in code if code_paths else ():
    for match in REPO_PATH.findall(snippet):
      path = re.sub(r':\w+$', '', match.rstrip('.,;:)'))
      if '<' not in path and not re.search(r'(^|/)[A-Z_]+(\.\w+)?(/|$)', path):
        paths.append(path)
  return sorted(set(paths))


def headings(page: Path) -> set[str]:
  """The anchors of a page's headings (outside code blocks)."""
  text = re.sub(r'^```.*?^```[ \t]*$', '', page.read_text(encoding='utf-8'), flags=re.M | re.S)
  return {_slug(h) for h in re.findall(r'^#+ (.*)$', text, re.M)}


def _path_params(pages, code_paths=True):
  params = []
  for page in pages:
    for path in named_paths(page, code_paths):
      params.append(pytest.param(
          page.relative_to(REPO).as_posix(), path,
          id=f'{page.relative_to(REPO).as_posix()} -> {path}'))
  return params


def check_path(page: str, path: str) -> None:
  file, _, anchor = path.partition('#')
  assert not file.startswith('..'), f'{page} names {path}, outside the repository'
  if '*' in file:
    assert glob.glob(str(REPO / file)), f'{page} names {path}: no such files'
    return
  assert (REPO / file).exists(), f'{page} names {path}, which is not in the repository'
  if anchor:
    assert anchor in headings(REPO / file), f'{page} names {path}: no such heading'


@pytest.mark.parametrize('page, path', _path_params([README]))
def test_readme_paths_exist(page, path):
  check_path(page, path)


@pytest.mark.parametrize('page, path', _path_params(DOCS, code_paths=False))
def test_docs_links_exist(page, path):
  """Links only: docs' code also shows files a reader would create (design.md
  walks through adding a family)."""
  check_path(page, path)


def test_readme_names_no_paths_outside_the_repository():
  assert len(named_paths(README)) >= 10
  for outside in ('../', '/work/'):
    assert outside not in README_TEXT, outside


def test_config_field_table_in_docs_is_fresh():
  """docs/configs.md holds what scripts/config_table.py prints (config_base.py's
  comments)."""
  table = subprocess.run([sys.executable, str(REPO / 'scripts' / 'config_table.py')],
                         cwd=REPO, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
  assert table.returncode == 0, table.stderr
  assert table.stdout.count('\n') > 50
  assert table.stdout.strip() in (REPO / 'docs' / 'configs.md').read_text(encoding='utf-8'), \
      'run python scripts/config_table.py and paste its table into docs/configs.md'
