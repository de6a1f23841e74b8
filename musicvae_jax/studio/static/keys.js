// Keyboard shortcuts, and the map of them shown on "?". One table: what each
// key does and how the overlay describes it.
'use strict';

const TABS = ['sample', 'inputs', 'mix', 'walk', 'map', 'attributes', 'history'];

function activePanel() { return document.querySelector('.tab.active').dataset.tab; }
function nudgeTemperature(delta) {   // the temperature slider of the panel in view
  const id = {sample: 'sample-temperature', inputs: 'input-temperature', mix: 'mix-temperature',
              walk: 'walk-temperature', attributes: 'attr-temperature'}[activePanel()];
  if (!id) { showMessage('This panel has no temperature.', 'info'); return; }
  const slider = $(id);
  slider.value = Math.min(Number(slider.max), Math.max(Number(slider.min), Number(slider.value) + delta));
  slider.dispatchEvent(new Event('input'));
  slider.dispatchEvent(new Event('change'));
  showMessage(`Temperature ${Number(slider.value).toFixed(2)}`, 'info');
}
function nudgeTempo(delta) {
  const now = state.playback.bpm || (player.item && player.item.qpm) || (state.info && state.info.qpm) || 120;
  setPlayback(Math.min(TEMPO_RANGE[1], Math.max(TEMPO_RANGE[0], Math.round(now + delta))), state.playback.transpose);
}
function nudgeTranspose(delta) {
  setPlayback(state.playback.bpm,
              Math.min(TRANSPOSE_RANGE[1], Math.max(TRANSPOSE_RANGE[0], state.playback.transpose + delta)));
}
function favouriteCurrent() {
  const id = currentItemId();
  if (!id) { showMessage('Nothing to star yet: make or play a result first.', 'info'); return; }
  const on = historyStore.toggleFavourite(id);
  const item = historyStore.find(id) || state.items[id];
  showMessage(`${on ? 'Starred' : 'Unstarred'}: ${item ? item.title : id}`, 'info');
}

// [keys shown, description, matches(event), action]
const SHORTCUTS = [
  ['Space', 'play / stop', (e) => e.code === 'Space', () => $('player-toggle').click()],
  ['s', 'sample (with the Sample panel\'s settings)', (e) => e.key === 's',
   () => { document.querySelector('.tab[data-tab=sample]').click(); $('sample-go').click(); }],
  ['n', 'a new random seed, then sample', (e) => e.key === 'n',
   () => { document.querySelector('.tab[data-tab=sample]').click(); $('sample-new-seed').click(); $('sample-go').click(); }],
  ['z', 'undo: back to the result before', (e) => e.key === 'z' || ((e.ctrlKey || e.metaKey) && e.key === 'z'),
   () => historyStore.undo()],
  ['f', 'star / unstar what is playing (else the newest result)', (e) => e.key === 'f', favouriteCurrent],
  ['l', 'loop on / off', (e) => e.key === 'l', () => { $('player-loop').click(); }],
  ['\u2190 \u2192', 'temperature down / up (this panel)', (e) => e.key === 'ArrowLeft' || e.key === 'ArrowRight',
   (e) => nudgeTemperature(e.key === 'ArrowLeft' ? -0.05 : 0.05)],
  ['\u2193 \u2191', 'tempo down / up 5 BPM', (e) => e.key === 'ArrowDown' || e.key === 'ArrowUp',
   (e) => nudgeTempo(e.key === 'ArrowDown' ? -5 : 5)],
  ['[ ]', 'transpose down / up a semitone', (e) => e.key === '[' || e.key === ']',
   (e) => nudgeTranspose(e.key === '[' ? -1 : 1)],
  ['0', 'tempo and transpose as made', (e) => e.key === '0', () => setPlayback(null, 0)],
  ['1\u20137', 'panels: Sample, Your MIDI, Mix, Walk, Map, Attributes, History',
   (e) => /^[1-7]$/.test(e.key), (e) => document.querySelector(`.tab[data-tab=${TABS[Number(e.key) - 1]}]`).click()],
  ['?', 'show / hide this list', (e) => e.key === '?', () => toggleKeymap()],
  ['Esc', 'close this list, or the message', (e) => e.key === 'Escape',
   () => { if (!$('keymap').hidden) toggleKeymap(false); else clearMessage(); }],
];

function toggleKeymap(show) {
  const overlay = $('keymap');
  overlay.hidden = show === undefined ? !overlay.hidden : !show;
}

function buildKeymap() {
  const table = $('keymap-table');
  for (const [keys, what] of SHORTCUTS) {
    const row = table.insertRow();
    const cell = row.insertCell();
    keys.split(' ').forEach((k) => { const kbd = document.createElement('kbd'); kbd.textContent = k; cell.append(kbd, ' '); });
    row.insertCell().textContent = what;
  }
}

document.addEventListener('keydown', (event) => {
  const t = event.target;
  const typing = ['SELECT', 'TEXTAREA'].includes(t.tagName) || t.isContentEditable ||
    (t.tagName === 'INPUT' && !['range', 'checkbox', 'radio', 'button', 'file'].includes(t.type));
  if (typing && event.key !== 'Escape') return;            // a text or number field gets its keys
  if (t.tagName === 'INPUT' && t.type === 'range' && event.key.startsWith('Arrow')) return;  // the slider's
  if (event.altKey || ((event.ctrlKey || event.metaKey) && event.key !== 'z')) return;  // the browser's own
  // Space plays / stops even when a button has the focus (Enter still presses the button).
  const found = SHORTCUTS.find(([, , matches]) => matches(event));
  if (!found) return;
  event.preventDefault();
  found[3](event);
});
$('keymap-open').onclick = () => toggleKeymap(true);
$('keymap-close').onclick = () => toggleKeymap(false);
$('keymap').addEventListener('click', (e) => { if (e.target === $('keymap')) toggleKeymap(false); });
buildKeymap();
