// Tempo and transpose (the player bar): how results are played and saved.
// The server renders them (?bpm=&transpose= on every WAV, MIDI, PNG and
// recipe: arrange.py); here the controls set state.playback, the download
// links follow, and what is playing starts again at the new setting.
'use strict';

const TEMPO_RANGE = [20, 300], TRANSPOSE_RANGE = [-24, 24];

// A pitched note moved by `semitones`, back into 0..127 by octaves (as arrange.shift_pitch).
function shiftPitch(pitch, semitones) {
  pitch += semitones;
  while (pitch > 127) pitch -= 12;
  while (pitch < 0) pitch += 12;
  return pitch;
}

// A control's value, or a one-line message when it is out of range (null: the result's own tempo).
function readTempo() {
  const text = $('tempo').value.trim();
  if (!text) return {value: null};
  const bpm = Number(text);
  if (!Number.isFinite(bpm) || bpm < TEMPO_RANGE[0] || bpm > TEMPO_RANGE[1]) {
    return {error: `Tempo: choose ${TEMPO_RANGE[0]} to ${TEMPO_RANGE[1]} beats per minute (empty: as made).`};
  }
  return {value: Math.round(bpm * 10) / 10};
}
function readTranspose() {
  const semitones = Number($('transpose').value || 0);
  if (!Number.isInteger(semitones) || semitones < TRANSPOSE_RANGE[0] || semitones > TRANSPOSE_RANGE[1]) {
    return {error: `Transpose: choose a whole number of semitones from ${TRANSPOSE_RANGE[0]} to ${TRANSPOSE_RANGE[1]}.`};
  }
  return {value: semitones};
}

function setPlayback(bpm, transpose) {   // from the keys, a restored session, the fields
  $('tempo').value = bpm === null || bpm === undefined ? '' : String(bpm);
  $('transpose').value = String(transpose || 0);
  applyPlayback();
}

function applyPlayback() {
  const tempo = readTempo(), transpose = readTranspose();
  const error = tempo.error || transpose.error;
  $('tempo').classList.toggle('bad', !!tempo.error);
  $('transpose').classList.toggle('bad', !!transpose.error);
  if (error) { showMessage(error); return; }
  const before = playbackQuery();
  state.playback = {bpm: tempo.value, transpose: transpose.value};
  if (playbackQuery() === before) return;
  refreshLinks();
  Object.keys(state.items).forEach((id) => redrawCards(id, null));   // the roll shows the transpose
  player.replay();
  emit('studio:playback', state.playback);
}

$('tempo').addEventListener('change', applyPlayback);
$('transpose').addEventListener('change', applyPlayback);
$('tempo-reset').onclick = () => setPlayback(null, 0);
document.addEventListener('studio:ready', () => {
  $('tempo').placeholder = String(state.info.qpm);
});
