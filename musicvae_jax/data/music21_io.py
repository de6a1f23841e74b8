"""ABC and MusicXML files -> `note_seq.NoteSequence`, through music21.

Conversion rules (score time is music21 quarter-note offsets):

* Tempo: the score's metronome marks with an explicit number, converted to
  quarter notes per minute (`Q:3/8=100` is 150 qpm); 120 qpm where there is
  none (before the first mark, or in the whole piece). Text-only marks such
  as "Allegro" are ignored.
* Time signatures and key signatures of the first part, at their offsets
  (consecutive repeats of the same signature are dropped). Caveat: music21
  (10.5) ignores ABC meter changes inside the tune body (`M:` lines or
  `[M:...]` after the header), so such a tune keeps its header meter; it
  does insert odd signatures of its own where bars do not fit the meter.
* Pickup: when the first measure is an anacrusis (music21 gives it
  `paddingLeft`), every event is delayed by that padding so that bar lines
  fall on whole bars from time 0, as the windowing of Magenta assumes.
  (music21 only marks an anacrusis in a tune it splits into measures, i.e.
  one with a few bar lines.)
* Notes: one per pitch (a chord gives several notes), velocity from music21
  when set, else 80; tied notes are merged into one note; grace notes,
  unpitched percussion and zero-length notes are dropped.
* Parts: part `i` becomes instrument `i` with program 0 (acoustic grand
  piano), not drums; its name goes to `instrument_infos`.
* Repeats are NOT expanded by default (each bar is played once, as written).
  `expand_repeats=True` calls music21's `expandRepeats()` and falls back to
  the written form when music21 cannot expand them.

Every problem with the input (unreadable file, parser error, no notes)
raises `BadInputError` with a short reason; nothing else is raised for bad
input.
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import re
import threading
import warnings
from typing import Iterable, Sequence

import note_seq
from note_seq.protobuf import music_pb2

from musicvae_jax.data.errors import BadInputError  # one class for every reader

ABC_SUFFIXES = ('.abc',)
MUSICXML_SUFFIXES = ('.xml', '.musicxml', '.mxl')
SUFFIXES = ABC_SUFFIXES + MUSICXML_SUFFIXES

DEFAULT_QPM = 120.0
DEFAULT_VELOCITY = 80
# Offsets closer than this (quarter notes) are equal: music21 uses Fractions
# for tuplets but floats elsewhere.
_EPS = 1e-6

_Source = music_pb2.NoteSequence.SourceInfo


def _music21():
  """Imports music21 lazily (it takes a second or two)."""
  import music21  # pylint: disable=g-import-not-at-top
  return music21


# ---------------------------------------------------------------------------
# ABC text handling.

_X_LINE = re.compile(r'^X:', re.MULTILINE)


def split_abc_tunes(text: str) -> list[str]:
  """Splits ABC text into one string per tune (`X:` field to the next one).

  Lines before the first `X:` (the file header) are put in front of every
  tune. Text without any `X:` line is returned as a single tune.
  """
  text = text.replace('\r\n', '\n').replace('\r', '\n')
  starts = [m.start() for m in _X_LINE.finditer(text)]
  if not starts:
    return [text] if text.strip() else []
  header = text[:starts[0]]
  # Only header fields (`A:` style lines) are shared; free text is dropped.
  header = '\n'.join(line for line in header.split('\n')
                     if re.match(r'^[A-Za-z]:', line))
  if header:
    header += '\n'
  ends = starts[1:] + [len(text)]
  return [header + text[s:e].rstrip() + '\n' for s, e in zip(starts, ends)]


def abc_header_fields(tune: str, field: str) -> list[str]:
  """Values of every `field:` line (and inline `[field:...]`) of one tune."""
  values = re.findall(rf'^{field}:\s*([^%\n]*)', tune, re.MULTILINE)
  values += re.findall(rf'\[{field}:\s*([^\]]*)\]', tune)
  return [v.strip() for v in values]


def _with_default_unit_length(tune: str) -> str:
  """Adds `L:1/8` when a tune has neither `L:` nor `M:`.

  The ABC standard's default in that case is 1/8; music21 instead fails with
  "no active default note length".
  """
  if abc_header_fields(tune, 'L') or abc_header_fields(tune, 'M'):
    return tune
  match = _X_LINE.search(tune)
  if match is None:
    return 'L:1/8\n' + tune
  eol = tune.find('\n', match.start())
  eol = len(tune) if eol < 0 else eol
  return tune[:eol] + '\nL:1/8' + tune[eol:]


_NO_BEAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_beaming():
  """Makes music21's `Stream.makeBeams` a no-op for the duration.

  music21's ABC reader beams every part after parsing, which is half of the
  parse time and only affects notation (beams and stems), never timing.
  """
  stream_cls = _music21().stream.Stream
  with _NO_BEAMS_LOCK:
    original = stream_cls.__dict__['makeBeams']
    stream_cls.makeBeams = lambda self, *args, **kwargs: self
    try:
      yield
    finally:
      stream_cls.makeBeams = original


def parse_abc_tune(tune: str):
  """music21 `Score` of one ABC tune's text; BadInputError when unreadable."""
  m21 = _music21()
  try:
    with warnings.catch_warnings(), _without_beaming():
      warnings.simplefilter('ignore')
      score = m21.converter.parseData(_with_default_unit_length(tune),
                                      format='abc')
  except Exception as e:  # music21 raises many kinds; all mean bad input.
    raise BadInputError(f'music21 cannot parse ABC: {_short(e)}') from e
  if isinstance(score, m21.stream.Opus):
    scores = list(score.scores)
    if not scores:
      raise BadInputError('ABC tune holds no score')
    score = scores[0]
  return score


def parse_file_without_pickles(path, fmt: str):
  """music21 stream of the file at `path`, never through music21's cache.

  `music21.converter.parse` keeps a pickle of every parsed file in a shared
  scratch folder and unpickles it on the next parse of the same path: a file
  planted there would run code. `Converter.parseFileNoPickle` neither reads
  nor writes that cache (nor treats the path as a URL or as data).
  """
  converter = _music21().converter.Converter()
  converter.parseFileNoPickle(str(path), format=fmt)
  return converter.stream


def _short(e: BaseException, limit: int = 160) -> str:
  text = f'{type(e).__name__}: {e}'
  return text if len(text) <= limit else text[:limit - 3] + '...'


# ---------------------------------------------------------------------------
# Score -> NoteSequence.


class _TimeMap:
  """Quarter-note offsets -> seconds under a piecewise-constant tempo."""

  def __init__(self, changes: Sequence[tuple[float, float]]):
    # changes: sorted (offset, qpm) with the first at offset 0.
    self.offsets = [o for o, _ in changes]
    self.qpms = [q for _, q in changes]
    self.seconds = [0.0]
    for i in range(1, len(changes)):
      span = self.offsets[i] - self.offsets[i - 1]
      self.seconds.append(self.seconds[-1] + span * 60.0 / self.qpms[i - 1])

  def __call__(self, offset: float) -> float:
    i = len(self.offsets) - 1
    while i > 0 and self.offsets[i] > offset + _EPS:
      i -= 1
    return self.seconds[i] + (offset - self.offsets[i]) * 60.0 / self.qpms[i]


def _parts_of(score) -> list:
  m21 = _music21()
  parts = list(score.parts) if isinstance(score, m21.stream.Score) else []
  return parts or [score]


def _pickup_shift(part) -> float:
  """Quarter notes missing from an anacrusis first measure (0 if none)."""
  measures = part.getElementsByClass('Measure')
  if not measures:
    return 0.0
  first = measures[0]
  padding = float(first.paddingLeft or 0.0)
  return padding if padding > _EPS else 0.0


def _tempo_changes(score, shift: float, default_qpm: float):
  m21 = _music21()
  marks = []
  for mark in score.flatten().getElementsByClass(m21.tempo.MetronomeMark):
    if mark.number is None or mark.numberImplicit:
      continue
    try:
      qpm = float(mark.getQuarterBPM())
    except Exception:  # pylint: disable=broad-except
      continue
    if not math.isfinite(qpm) or qpm <= 0:
      continue
    offset = float(mark.offset)
    marks.append((0.0 if offset <= _EPS else offset + shift, qpm))
  marks.sort(key=lambda m: m[0])
  changes: list[tuple[float, float]] = []
  for offset, qpm in marks:
    if changes and abs(changes[-1][0] - offset) <= _EPS:
      changes[-1] = (offset, qpm)  # Last mark at an offset wins.
    elif not changes or abs(changes[-1][1] - qpm) > _EPS:
      changes.append((offset, qpm))
  if not changes or changes[0][0] > _EPS:
    changes.insert(0, (0.0, default_qpm))
  return changes


def _note_events(part, shift: float):
  """(start, end, midi pitch, velocity, tie type) per pitched note, in order."""
  m21 = _music21()
  events = []
  for el in part.flatten().notes:
    if el.duration.isGrace or el.quarterLength <= _EPS:
      continue
    if isinstance(el, m21.chord.Chord):
      members = [(n.pitch, n.tie or el.tie, n.volume if n.hasVolumeInformation()
                  else el.volume) for n in el.notes]
    elif isinstance(el, m21.note.Note):
      members = [(el.pitch, el.tie, el.volume)]
    else:  # Unpitched, PercussionChord: not melodic material.
      continue
    start = float(el.offset) + shift
    end = start + float(el.quarterLength)
    for pitch, tie, volume in members:
      midi = int(round(pitch.ps))
      if not 0 <= midi <= 127:
        continue
      velocity = volume.velocity if volume is not None else None
      velocity = DEFAULT_VELOCITY if velocity is None else int(
          min(127, max(1, round(velocity))))
      events.append((start, end, midi, velocity, tie.type if tie else None))
  events.sort(key=lambda e: (e[0], e[2]))
  return events


def _merge_ties(events):
  """Joins notes tied to the next note of the same pitch that starts at end."""
  notes: list[list] = []  # [start, end, pitch, velocity]
  open_ties: dict[int, int] = {}  # pitch -> index in notes
  for start, end, pitch, velocity, tie in events:
    index = open_ties.pop(pitch, None)
    if (index is not None and tie in ('stop', 'continue')
        and abs(notes[index][1] - start) <= 1e-4):
      notes[index][1] = end
    else:
      index = len(notes)
      notes.append([start, end, pitch, velocity])
    if tie in ('start', 'continue'):
      open_ties[pitch] = index
  return notes


def _signatures(part, cls_name: str, shift: float):
  """(offset, element) of the part's signatures, consecutive repeats dropped."""
  out = []
  for el in part.flatten().getElementsByClass(cls_name):
    offset = float(el.offset)
    offset = 0.0 if offset <= _EPS else offset + shift
    if out and abs(out[-1][0] - offset) <= _EPS:
      out[-1] = (offset, el)
    elif not out or not _same_signature(out[-1][1], el):
      out.append((offset, el))
  return out


def _same_signature(a, b) -> bool:
  if hasattr(a, 'ratioString'):
    return a.ratioString == b.ratioString
  return (a.sharps, getattr(a, 'mode', None)) == (b.sharps,
                                                  getattr(b, 'mode', None))


def score_to_note_sequence(score, *, source_path: str = '',
                           encoding: str = 'abc',
                           default_qpm: float = DEFAULT_QPM,
                           expand_repeats: bool = False,
                           align_pickup: bool = True) -> music_pb2.NoteSequence:
  """Converts a music21 Score (or Part / Stream) to a NoteSequence.

  Args:
    score: a music21 stream holding parts (or notes directly).
    source_path: stored in `filename` for reference.
    encoding: 'abc' or 'musicxml' (stored in `source_info`).
    default_qpm: tempo where the score gives none.
    expand_repeats: expand repeat bars with music21 (falls back to the
      written form when that fails).
    align_pickup: delay everything by the anacrusis padding (see module doc).

  Raises:
    BadInputError: the score holds no usable note.
  """
  m21 = _music21()
  try:
    if expand_repeats:
      try:
        with warnings.catch_warnings():
          warnings.simplefilter('ignore')
          score = score.expandRepeats()
      except Exception:  # pylint: disable=broad-except
        pass  # Keep the written form.
    parts = _parts_of(score)
    shift = _pickup_shift(parts[0]) if align_pickup else 0.0
    time_map = _TimeMap(_tempo_changes(score, shift, default_qpm))

    ns = music_pb2.NoteSequence()
    ns.ticks_per_quarter = note_seq.constants.STANDARD_PPQ
    ns.source_info.source_type = _Source.SCORE_BASED
    ns.source_info.encoding_type = (_Source.ABC if encoding == 'abc'
                                    else _Source.MUSIC_XML)
    ns.source_info.parser = _Source.MUSIC21
    if source_path:
      ns.filename = os.fspath(source_path)
    metadata = score.metadata if hasattr(score, 'metadata') else None
    if metadata is not None and metadata.title:
      ns.sequence_metadata.title = str(metadata.title)
    if metadata is not None and metadata.composer:
      ns.sequence_metadata.composers.append(str(metadata.composer))

    for offset, qpm in _time_map_changes(time_map):
      tempo = ns.tempos.add()
      tempo.time = time_map(offset)
      tempo.qpm = qpm
    for offset, ts in _signatures(parts[0], 'TimeSignature', shift):
      proto = ns.time_signatures.add()
      proto.time = time_map(offset)
      proto.numerator = int(ts.numerator)
      proto.denominator = int(ts.denominator)
    for offset, ks in _signatures(parts[0], 'KeySignature', shift):
      key = ks if isinstance(ks, m21.key.Key) else ks.asKey('major')
      proto = ns.key_signatures.add()
      proto.time = time_map(offset)
      proto.key = key.tonic.pitchClass
      proto.mode = (music_pb2.NoteSequence.KeySignature.MINOR
                    if key.mode == 'minor' else
                    music_pb2.NoteSequence.KeySignature.MAJOR)

    for index, part in enumerate(parts):
      info = ns.instrument_infos.add()
      info.instrument = index
      info.name = str(getattr(part, 'partName', None) or f'part {index}')
      for start, end, pitch, velocity in _merge_ties(
          _note_events(part, shift)):
        note = ns.notes.add()
        note.instrument = index
        note.program = 0
        note.is_drum = False
        note.pitch = pitch
        note.velocity = velocity
        note.start_time = time_map(start)
        note.end_time = time_map(end)
  except BadInputError:
    raise
  except Exception as e:  # music21 internals on odd input.
    raise BadInputError(f'music21 conversion failed: {_short(e)}') from e
  if not ns.notes:
    raise BadInputError('no pitched notes')
  ns.total_time = max(n.end_time for n in ns.notes)
  return ns


def _time_map_changes(time_map: _TimeMap) -> Iterable[tuple[float, float]]:
  return zip(time_map.offsets, time_map.qpms)


# ---------------------------------------------------------------------------
# Files.


def _read_text(path: pathlib.Path) -> str:
  try:
    data = path.read_bytes()
  except OSError as e:
    raise BadInputError(f'cannot read file: {_short(e)}') from e
  try:
    return data.decode('utf-8')
  except UnicodeDecodeError:
    return data.decode('latin-1')


def load_music21_tunes(path, *, expand_repeats: bool = False
                       ) -> list[music_pb2.NoteSequence]:
  """Reads every tune of an ABC file, or every score of a MusicXML file.

  An ABC file is split at its `X:` lines and each tune is parsed alone, so
  that one broken tune does not lose the others: broken or empty tunes are
  skipped. Each sequence's `id` is `<file name>#<index of the tune>`.

  Raises:
    BadInputError: unknown suffix, unreadable file, or no usable tune.
  """
  path = pathlib.Path(path)
  suffix = path.suffix.lower()
  if suffix in ABC_SUFFIXES:
    tunes = split_abc_tunes(_read_text(path))
    out, reasons = [], []
    for index, tune in enumerate(tunes):
      try:
        ns = score_to_note_sequence(parse_abc_tune(tune),
                                    source_path=str(path), encoding='abc',
                                    expand_repeats=expand_repeats)
      except BadInputError as e:
        reasons.append(str(e))
        continue
      ns.id = f'{path.name}#{index}'
      out.append(ns)
    if not out:
      why = reasons[0] if reasons else 'no ABC tune'
      raise BadInputError(why if len(tunes) <= 1 else
                          f'none of {len(tunes)} ABC tunes usable ({why})')
    return out
  if suffix in MUSICXML_SUFFIXES:
    m21 = _music21()
    if not path.is_file():
      raise BadInputError('cannot read file: not a file')
    try:
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        parsed = parse_file_without_pickles(path, 'musicxml')
    except Exception as e:  # pylint: disable=broad-except
      raise BadInputError(f'music21 cannot parse MusicXML: {_short(e)}') from e
    scores = (list(parsed.scores) if isinstance(parsed, m21.stream.Opus)
              else [parsed])
    out = []
    for index, score in enumerate(scores):
      ns = score_to_note_sequence(score, source_path=str(path),
                                  encoding='musicxml',
                                  expand_repeats=expand_repeats)
      ns.id = f'{path.name}#{index}'
      out.append(ns)
    if not out:
      raise BadInputError('MusicXML file holds no score')
    return out
  raise BadInputError(f'unsupported file type {suffix!r} (want one of '
                      f'{", ".join(SUFFIXES)})')


def load_music21_file(path, *, expand_repeats: bool = False
                      ) -> music_pb2.NoteSequence:
  """The first usable tune / score of an ABC or MusicXML file.

  Use `load_music21_tunes` to get every tune of a multi-tune ABC file.

  Raises:
    BadInputError: see `load_music21_tunes`.
  """
  return load_music21_tunes(path, expand_repeats=expand_repeats)[0]
