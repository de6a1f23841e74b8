"""A fast Standard MIDI File reader with pretty_midi 0.2.11's semantics.

`parse_midi(data)` returns the notes, tempo map and time signatures that
`note_seq.midi_to_note_sequence` (pretty_midi on mido) would produce, as
numpy arrays (`NoteArrays`), or raises `BadInputError` for every file that
mido / pretty_midi / note_seq would refuse. The byte scan and note pairing
are one loop compiled with numba when it is installed (pure Python, same
code, otherwise: correct but slow).

Rules reproduced (mido 1.3 `read_track`, pretty_midi `PrettyMIDI.__init__`,
`_load_tempo_changes`, `_update_tick_to_time`, `_load_instruments`):
  * a track is read until exactly `size` bytes are consumed (reading past the
    chunk continues into the next bytes, EOF is an error); events after
    end-of-track are still read; running status is kept for every status but
    0xFF (also sysex and system messages, as mido does); data bytes > 127,
    undefined status bytes, meta or sysex longer than 1,000,000 bytes and
    meta events mido cannot decode (short tempo / time / key signatures,
    unknown keys, bad SMPTE rate) are errors;
  * a file with no track, or with an empty track, or with an event at tick
    >= 1e7 is refused (pretty_midi's MAX_TICK);
  * tempo and time-signature events are read from track 0 only; a tempo at
    tick 0 replaces the initial 120 qpm, a later one is kept only if its
    tick scale differs from the previous one; seconds are
    `last_end + scale * (tick - start)` per tempo segment, float64;
  * notes: a note-on with velocity > 0 opens (channel, pitch); a note-off (or
    note-on with velocity 0) closes every open note of that key that did not
    start on this very tick, in order; notes starting on this tick stay open
    only if some others were closed, otherwise they are dropped;
  * a closed note belongs to the instrument (program at the note-OFF,
    channel, track); instruments are numbered in order of their first closed
    note, notes of an instrument are in closing order; drums = channel 9.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from musicvae_jax.data.errors import BadInputError

try:  # numba is optional: same code, compiled
  import numba
  _njit = numba.njit(cache=True, nogil=True)
except ImportError:  # pragma: no cover - exercised only without numba
  numba = None

  def _njit(function):
    return function

MAX_TICK = 10_000_000
MAX_MESSAGE_LENGTH = 1_000_000

# Error codes of the scanner (index into _ERRORS).
_ERRORS = (
    '', 'truncated file (unexpected end of data)', 'no MTrk header at start of track',
    'running status without last status', 'undefined status byte',
    'data byte must be in range 0..127', 'message longer than 1000000 bytes',
    'meta event cannot be decoded', 'MIDI file has a tick >= 1e7, it is likely corrupt',
    'file has no tracks', 'file has an empty track',
)

# Bytes of channel messages after the status byte, indexed by status >> 4.
_CHANNEL_LENGTH = np.array([0] * 8 + [2, 2, 2, 2, 1, 1, 2, 0], np.int64)
# Bytes after the status byte of system messages 0xF0..0xFF (-1: undefined,
# -2: sysex, -3: meta), as mido's SPEC_BY_STATUS.
_SYSTEM_LENGTH = np.array([-2, 1, 2, 1, -1, -1, 0, -2, 0, -1, 0, 0, 0, -1, 0, -3],
                          np.int64)


@dataclasses.dataclass
class NoteArrays:
  """What melody extraction needs from a NoteSequence, as arrays.

  Notes are in NoteSequence order (instrument by instrument):
  start, end float64 [N] seconds; pitch, velocity, program, instrument int32 [N];
  is_drum bool [N]. Tempos: tempo_time, tempo_qpm float64 [Q]. Time signatures:
  ts_time float64 [S], ts_num, ts_den int64 [S]. total_time: max note end.
  """

  start: np.ndarray
  end: np.ndarray
  pitch: np.ndarray
  velocity: np.ndarray
  program: np.ndarray
  instrument: np.ndarray
  is_drum: np.ndarray
  tempo_time: np.ndarray
  tempo_qpm: np.ndarray
  ts_time: np.ndarray
  ts_num: np.ndarray
  ts_den: np.ndarray
  total_time: float
  ticks_per_quarter: int = 220

  def __len__(self) -> int:
    return len(self.pitch)

  def signatures(self) -> tuple[list, list, list, float]:
    """(times, numerators, denominators, total time) of the time signatures,
    as `converter_base.time_signatures_of` gives them for a NoteSequence."""
    return (self.ts_time.tolist(), self.ts_num.tolist(), self.ts_den.tolist(),
            float(self.total_time))

  @classmethod
  def from_note_sequence(cls, ns) -> 'NoteArrays':
    """Any (unquantised) NoteSequence -> NoteArrays (same order)."""
    notes = ns.notes
    return cls(
        start=np.array([n.start_time for n in notes], np.float64),
        end=np.array([n.end_time for n in notes], np.float64),
        pitch=np.array([n.pitch for n in notes], np.int32),
        velocity=np.array([n.velocity for n in notes], np.int32),
        program=np.array([n.program for n in notes], np.int32),
        instrument=np.array([n.instrument for n in notes], np.int32),
        is_drum=np.array([n.is_drum for n in notes], bool),
        tempo_time=np.array([t.time for t in ns.tempos], np.float64),
        tempo_qpm=np.array([t.qpm for t in ns.tempos], np.float64),
        ts_time=np.array([t.time for t in ns.time_signatures], np.float64),
        ts_num=np.array([t.numerator for t in ns.time_signatures], np.int64),
        ts_den=np.array([t.denominator for t in ns.time_signatures], np.int64),
        total_time=float(ns.total_time),
        ticks_per_quarter=int(ns.ticks_per_quarter or 220))

  def to_note_sequence(self):
    """NoteArrays -> NoteSequence, as note_seq.midi_to_note_sequence builds it."""
    from note_seq.protobuf import music_pb2
    ns = music_pb2.NoteSequence()
    ns.ticks_per_quarter = self.ticks_per_quarter
    ns.source_info.parser = music_pb2.NoteSequence.SourceInfo.PRETTY_MIDI
    ns.source_info.encoding_type = music_pb2.NoteSequence.SourceInfo.MIDI
    for t, num, den in zip(self.ts_time.tolist(), self.ts_num.tolist(), self.ts_den.tolist()):
      ns.time_signatures.add(time=t, numerator=num, denominator=den)
    for t, q in zip(self.tempo_time.tolist(), self.tempo_qpm.tolist()):
      ns.tempos.add(time=t, qpm=q)
    for values in zip(self.instrument.tolist(), self.program.tolist(), self.start.tolist(),
                      self.end.tolist(), self.pitch.tolist(), self.velocity.tolist(),
                      self.is_drum.tolist()):
      note = ns.notes.add()
      (note.instrument, note.program, note.start_time, note.end_time, note.pitch,
       note.velocity, note.is_drum) = values
    ns.total_time = self.total_time
    return ns


@_njit
def _vlq(data, pos, n):
  """Variable-length quantity at `pos` -> (value, new pos), pos -1 on EOF.

  Values are capped (mido's are unbounded Python ints): anything above 2**40
  is already an error for every use (ticks, lengths).
  """
  value = 0
  while True:
    if pos >= n:
      return 0, -1
    byte = data[pos]
    pos += 1
    if value < (1 << 40):
      value = (value << 7) | (byte & 0x7F)
    if byte < 0x80:
      return value, pos


@_njit
def _block_length(data, pos, n):
  """Length prefix of a meta or sysex block at `pos` -> (error, length, new pos).

  error 0: the block `data[pos:pos + length]` lies inside the file;
  1: truncated (pos = n); 6: absurd length (over 1 MB).
  """
  length, pos = _vlq(data, pos, n)
  if pos < 0:
    return 1, 0, n
  if length > 1_000_000:
    return 6, 0, pos
  if pos + length > n:
    return 1, 0, n
  return 0, length, pos


@_njit
def _scan(data, channel_length, system_length):
  """Parses the whole file and pairs notes.

  Returns (error code, error position, division, notes [M, 7] int64 rows of
  (track, channel, program, start tick, end tick, pitch, velocity) in closing
  order, tempos [Q, 2] (tick, microseconds per quarter) and time signatures
  [S, 3] (tick, numerator, denominator exponent) of track 0).
  """
  n = len(data)
  cap = n // 2 + 2
  notes = np.zeros((cap, 7), np.int64)
  n_notes = 0
  tempos = np.zeros((cap, 2), np.int64)
  n_tempos = 0
  sigs = np.zeros((cap, 3), np.int64)
  n_sigs = 0
  empty = np.zeros((0, 7), np.int64)
  if n < 14:
    return 1, n, 0, empty, tempos[:0], sigs[:0]
  head_size = (data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]
  if head_size < 6 or n - 8 < 6:
    return 1, 8, 0, empty, tempos[:0], sigs[:0]
  ntracks = (data[10] << 8) | data[11]
  if ntracks >= 32768:
    ntracks -= 65536
  division = (data[12] << 8) | data[13]
  if division >= 32768:
    division -= 65536
  pos = 8 + head_size
  if pos > n:
    pos = n
  if ntracks <= 0:
    return 9, pos, division, empty, tempos[:0], sigs[:0]
  # Open notes: a linked list per (channel, pitch) in a pool.
  pool_tick = np.zeros(cap, np.int64)
  pool_vel = np.zeros(cap, np.int64)
  pool_next = np.zeros(cap, np.int64)
  n_pool = 0
  head = np.full(2048, -1, np.int64)
  tail = np.full(2048, -1, np.int64)
  program = np.zeros(16, np.int64)
  for track in range(ntracks):
    if pos + 8 > n:
      return 1, pos, division, empty, tempos[:0], sigs[:0]
    if not (data[pos] == 77 and data[pos + 1] == 84 and data[pos + 2] == 114
            and data[pos + 3] == 107):  # b'MTrk'
      return 2, pos, division, empty, tempos[:0], sigs[:0]
    size = ((data[pos + 4] << 24) | (data[pos + 5] << 16) | (data[pos + 6] << 8)
            | data[pos + 7])
    pos += 8
    start = pos
    tick = 0
    events = 0
    last_status = -1
    head[:] = -1
    tail[:] = -1
    program[:] = 0
    while pos - start != size:
      delta, pos = _vlq(data, pos, n)
      if pos < 0:
        return 1, n, division, empty, tempos[:0], sigs[:0]
      tick += delta
      if tick >= 10_000_000:
        return 8, pos, division, empty, tempos[:0], sigs[:0]
      events += 1
      if pos >= n:
        return 1, n, division, empty, tempos[:0], sigs[:0]
      status = np.int64(data[pos])
      pos += 1
      peek = -1
      if status < 0x80:
        if last_status < 0:
          return 3, pos, division, empty, tempos[:0], sigs[:0]
        peek = status
        status = last_status
      elif status != 0xFF:
        last_status = status
      if status >= 0xF0:
        kind = system_length[status - 0xF0]
        if kind == -1:
          return 4, pos, division, empty, tempos[:0], sigs[:0]
        if kind == -3:  # meta
          if pos >= n:
            return 1, n, division, empty, tempos[:0], sigs[:0]
          mtype = data[pos]
          pos += 1
          error, length, pos = _block_length(data, pos, n)
          if error:
            return error, pos, division, empty, tempos[:0], sigs[:0]
          ok = True
          if mtype == 0x00:
            ok = length != 1
          elif mtype == 0x20:
            ok = length >= 1
          elif mtype == 0x51:
            ok = length >= 3
          elif mtype == 0x54:
            ok = length >= 5 and (data[pos] >> 5) <= 3
          elif mtype == 0x58:
            ok = length >= 4
          elif mtype == 0x59:
            if length < 2:
              ok = False
            else:
              key = np.int64(data[pos])
              if key >= 128:
                key -= 256
              ok = -7 <= key <= 7 and data[pos + 1] <= 1
          if not ok:
            return 7, pos, division, empty, tempos[:0], sigs[:0]
          if track == 0:
            if mtype == 0x51:
              tempos[n_tempos, 0] = tick
              tempos[n_tempos, 1] = ((np.int64(data[pos]) << 16)
                                     | (np.int64(data[pos + 1]) << 8) | data[pos + 2])
              n_tempos += 1
            elif mtype == 0x58:
              sigs[n_sigs, 0] = tick
              sigs[n_sigs, 1] = data[pos]
              sigs[n_sigs, 2] = data[pos + 1]
              n_sigs += 1
          pos += length
          continue
        if kind == -2:  # sysex (0xF0, 0xF7), also under running status
          # (under running status mido drops the peeked byte and reads the
          # length from the next one)
          error, length, pos = _block_length(data, pos, n)
          if error:
            return error, pos, division, empty, tempos[:0], sigs[:0]
          pos += length
          continue
        need = kind
      else:
        need = channel_length[status >> 4]
      if peek >= 0:
        need -= 1
        if need < 0:  # running status on a one-byte system message
          return 4, pos, division, empty, tempos[:0], sigs[:0]
      if pos + need > n:
        return 1, n, division, empty, tempos[:0], sigs[:0]
      d1 = peek
      d2 = -1
      for i in range(need):
        byte = np.int64(data[pos + i])
        if byte > 127:
          return 5, pos, division, empty, tempos[:0], sigs[:0]
        if d1 < 0:
          d1 = byte
        else:
          d2 = byte
      pos += need
      high = status >> 4
      channel = status & 15
      if high == 0xC:
        program[channel] = d1
      elif high == 0x9 and d2 > 0:
        key = channel * 128 + d1
        pool_tick[n_pool] = tick
        pool_vel[n_pool] = d2
        pool_next[n_pool] = -1
        if head[key] < 0:
          head[key] = n_pool
        else:
          pool_next[tail[key]] = n_pool
        tail[key] = n_pool
        n_pool += 1
      elif high == 0x8 or high == 0x9:
        key = channel * 128 + d1
        if head[key] >= 0:
          closed = 0
          kept_head = -1
          kept_tail = -1
          item = head[key]
          while item >= 0:
            following = pool_next[item]
            if pool_tick[item] != tick:
              notes[n_notes, 0] = track
              notes[n_notes, 1] = channel
              notes[n_notes, 2] = program[channel]
              notes[n_notes, 3] = pool_tick[item]
              notes[n_notes, 4] = tick
              notes[n_notes, 5] = d1
              notes[n_notes, 6] = pool_vel[item]
              n_notes += 1
              closed += 1
            else:
              pool_next[item] = -1
              if kept_head < 0:
                kept_head = item
              else:
                pool_next[kept_tail] = item
              kept_tail = item
            item = following
          if closed > 0 and kept_head >= 0:
            head[key] = kept_head
            tail[key] = kept_tail
          else:
            head[key] = -1
            tail[key] = -1
    if events == 0:
      return 10, pos, division, empty, tempos[:0], sigs[:0]
  return 0, pos, division, notes[:n_notes], tempos[:n_tempos], sigs[:n_sigs]


def _tick_scales(tempos: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
  """pretty_midi's `_tick_scales`: (ticks int64 [Q], seconds per tick float64 [Q])."""
  scales = [(0, 60.0 / (120.0 * resolution))]
  for tick, mspq in tempos.tolist():
    if tick == 0:
      bpm = 6e7 / mspq
      scales = [(0, 60.0 / (bpm * resolution))]
    else:
      tick_scale = 60.0 / ((6e7 / mspq) * resolution)
      if tick_scale != scales[-1][1]:
        scales.append((tick, tick_scale))
  return (np.array([s[0] for s in scales], np.int64),
          np.array([s[1] for s in scales], np.float64))


def _ticks_to_seconds(ticks: np.ndarray, scale_ticks: np.ndarray,
                      scales: np.ndarray) -> np.ndarray:
  """pretty_midi's tick -> time table, evaluated at `ticks` only."""
  ends = np.zeros(len(scale_ticks))
  last_end = 0.0
  for i in range(1, len(scale_ticks)):
    last_end = last_end + scales[i - 1] * float(scale_ticks[i] - scale_ticks[i - 1])
    ends[i] = last_end
  index = np.searchsorted(scale_ticks, ticks, side='right') - 1
  return ends[index] + scales[index] * (ticks - scale_ticks[index]).astype(np.float64)


def parse_midi(data: bytes) -> NoteArrays:
  """MIDI file bytes -> NoteArrays (what note_seq would build), or BadInputError."""
  buffer = np.frombuffer(data, np.uint8)
  if len(buffer) < 4 or bytes(buffer[:4]) != b'MThd':
    raise BadInputError('not a MIDI file (no MThd header)')
  code, where, division, notes, tempos, sigs = _scan(buffer, _CHANNEL_LENGTH,
                                                     _SYSTEM_LENGTH)
  if code:
    raise BadInputError(f'unreadable MIDI: {_ERRORS[code]} (byte {where})')
  if division <= 0:
    raise BadInputError(f'unsupported time division {division} (SMPTE or zero)')
  if len(tempos) and (tempos[:, 1] == 0).any():
    raise BadInputError('unreadable MIDI: tempo of 0 microseconds per quarter')
  if len(sigs) and sigs[:, 2].max() >= 31:
    raise BadInputError('unreadable MIDI: invalid time signature denominator')
  scale_ticks, scales = _tick_scales(tempos, division)
  to_seconds = lambda t: _ticks_to_seconds(np.asarray(t, np.int64), scale_ticks, scales)

  # Instruments in order of their first closed note; notes grouped by them.
  tracks, channels, programs = notes[:, 0], notes[:, 1], notes[:, 2]
  keys = (tracks * 16 + channels) * 128 + programs
  unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
  rank = np.empty(len(unique), np.int64)
  rank[np.argsort(first, kind='stable')] = np.arange(len(unique))
  instrument = rank[inverse.reshape(-1)]
  order = np.argsort(instrument, kind='stable')
  notes, instrument = notes[order], instrument[order]
  start = to_seconds(notes[:, 3])
  end = to_seconds(notes[:, 4])
  return NoteArrays(
      start=start, end=end, pitch=notes[:, 5].astype(np.int32),
      velocity=notes[:, 6].astype(np.int32), program=notes[:, 2].astype(np.int32),
      instrument=instrument.astype(np.int32), is_drum=notes[:, 1] == 9,
      tempo_time=to_seconds(scale_ticks),
      tempo_qpm=60.0 / (scales * division),
      ts_time=to_seconds(sigs[:, 0]), ts_num=sigs[:, 1].copy(),
      ts_den=(2 ** sigs[:, 2]).astype(np.int64),
      total_time=float(end.max()) if len(end) else 0.0,
      ticks_per_quarter=int(division))
