// The session: the history, the favourites and the tempo / transpose kept in
// the browser (localStorage) and brought back after a reload, and saved to /
// loaded from a JSON file. Each result is kept as its recipe (the "z.json"):
// while the same studio is running its results are used as they are; after a
// restart the server rebuilds them from their recipes (samples, mixes, walks:
// the same notes on the same model) or, for windows of your files and of the
// map and for humanized beats, from the notes the session keeps.
'use strict';

const SESSION_KEY = 'musicvae-studio-session';
const SESSION_FORMAT = 'musicvae-studio-session';
const SAVED_ENTRIES = 40;
const REPLAYABLE = ['sample', 'decode', 'walk'];
const TEMPERATURES = ['sample-temperature', 'input-temperature', 'mix-temperature',
                      'walk-temperature', 'attr-temperature'];
let restoring = false, saveTimer = null;

function modelName() { return state.info ? state.info.pretrained || state.info.workdir : ''; }

function savedItem(item) {
  const out = {id: item.id, title: item.title, kind: item.kind, duration: item.duration,
               qpm: item.qpm, recipe: item.recipe || null};
  if (!item.recipe || !REPLAYABLE.includes(item.recipe.method)) out.notes = item.notes;
  return out;
}

function sessionJson(favouritesOnly, entries) {
  const temperatures = {};
  TEMPERATURES.forEach((id) => { temperatures[id] = Number($(id).value); });
  const kept = entries === undefined ? SAVED_ENTRIES : entries;
  return {
    format: SESSION_FORMAT, version: 1, model: modelName(), token: TOKEN,
    saved_at: new Date().toISOString(),
    settings: {bpm: state.playback.bpm, transpose: state.playback.transpose, temperatures},
    history: favouritesOnly || !kept ? [] : historyStore.entries.slice(-kept).map((e) => (
      {panel: e.panel, items: e.items.map(savedItem)})),
    favourites: historyStore.favourites.map(savedItem),
  };
}

// Into localStorage, dropping the oldest entries while it does not fit.
function saveSession() {
  if (restoring) return;
  for (let kept = SAVED_ENTRIES; kept >= 0; kept = kept ? Math.floor(kept / 2) : -1) {
    try {
      localStorage.setItem(SESSION_KEY, JSON.stringify(sessionJson(false, kept)));
      return true;
    } catch (error) {
      if (error.name !== 'QuotaExceededError') return false;   // storage off: nothing to keep
    }
  }
  return false;
}
function saveSoon() { clearTimeout(saveTimer); saveTimer = setTimeout(saveSession, 200); }
document.addEventListener('studio:history', saveSoon);
document.addEventListener('studio:playback', saveSoon);
TEMPERATURES.forEach((id) => $(id).addEventListener('change', saveSoon));
window.addEventListener('pagehide', () => { clearTimeout(saveTimer); saveSession(); });

// A saved result as an item of this studio: the same one while it runs, else rebuilt.
async function bringBack(saved, sameLaunch, known) {
  if (known.has(saved.id)) return known.get(saved.id);
  let item = null;
  if (sameLaunch && saved.id) {
    try { item = await api(`/api/item/${encodeURIComponent(saved.id)}`); } catch (error) { item = null; }
  }
  if (!item) {
    const data = await api('/api/restore', {recipe: saved.recipe, title: saved.title, kind: saved.kind,
                                            notes: saved.notes, duration: saved.duration},
                           {busyText: 'restoring the session'});
    item = data.items[0];
  }
  item.recipe = saved.recipe || null;
  if (!item.recipe) historyStore.fetchRecipe(item);
  known.set(saved.id, item);
  return item;
}

async function restoreSession(data, source) {
  if (!data || data.format !== SESSION_FORMAT || !Array.isArray(data.history) ||
      !Array.isArray(data.favourites)) {
    throw new Error(`${source}: not a studio session file`);
  }
  const sameLaunch = data.token === TOKEN, known = new Map();
  const failed = [];
  const settings = data.settings || {};
  restoring = true;
  try {
    Object.entries(settings.temperatures || {}).forEach(([id, value]) => {
      if (TEMPERATURES.includes(id) && Number.isFinite(value)) {
        $(id).value = value; $(id).dispatchEvent(new Event('input'));
      }
    });
    setPlayback(settings.bpm === undefined ? null : settings.bpm, settings.transpose || 0);
    const entries = [];
    for (const entry of data.history) {
      const items = [];
      for (const saved of entry.items || []) {
        try { items.push(await bringBack(saved, sameLaunch, known)); } catch (error) {
          failed.push(error.message);
        }
      }
      if (items.length && PANEL_NAMES[entry.panel]) entries.push({panel: entry.panel, items, at: Date.now()});
    }
    for (const saved of data.favourites) {
      try {
        const item = await bringBack(saved, sameLaunch, known);
        if (!historyStore.isFavourite(item.id)) historyStore.favourites.push({...item});
      } catch (error) { failed.push(error.message); }
    }
    historyStore.entries.push(...entries);
    for (const panel of Object.keys(PANEL_NAMES)) {     // each panel shows its newest results again
      const mine = entries.filter((e) => e.panel === panel);
      if (!mine.length) continue;
      if (panel === 'input-results') {
        for (const e of mine) {
          const pair = document.createElement('div');
          pair.className = 'pair';
          showItems(pair, e.items.map((i) => ({...i})), false, true);
          $(panel).prepend(pair);
        }
      } else {
        showItems($(panel), mine[mine.length - 1].items.map((i) => ({...i})), true, true);
      }
    }
  } finally {
    restoring = false;
  }
  historyStore.changed();
  const count = new Set(known.keys()).size;
  if (failed.length) {
    showMessage(`${failed.length} result${failed.length > 1 ? 's' : ''} could not be restored: ${failed[0]}`);
  } else if (count) {
    showMessage(`${source}: ${count} result${count > 1 ? 's' : ''} restored.`, 'info');
  }
  return count;
}

function download(name, value) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 1)], {type: 'application/json'}));
  const link = document.createElement('a');
  link.href = url; link.download = name;
  document.body.appendChild(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
const stamp = () => new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');

$('session-export').onclick = () => download(`studio-session-${stamp()}.json`, sessionJson(false, MAX_HISTORY));
$('favourites-export').onclick = () => {
  if (!historyStore.favourites.length) { showMessage('No favourites to save yet: star a result first.', 'info'); return; }
  download(`studio-favourites-${stamp()}.json`, sessionJson(true));
};
$('session-import').onchange = async (event) => {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  clearMessage();
  try {
    let data;
    try { data = JSON.parse(await file.text()); } catch (error) {
      throw new Error(`${file.name}: not a studio session file (not JSON)`);
    }
    await restoreSession(data, file.name);
  } catch (error) { showMessage(error.message); }
};
$('session-clear').onclick = () => {
  historyStore.entries = []; historyStore.favourites = [];
  try { localStorage.removeItem(SESSION_KEY); } catch (error) { /* storage off */ }
  historyStore.changed();
  showMessage('History and favourites cleared.', 'info');
};

// After a reload: the session this browser kept for this studio's model.
document.addEventListener('studio:ready', async () => {
  let data = null;
  try { data = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null'); } catch (error) { data = null; }
  try {
    if (data && data.model === modelName()) await restoreSession(data, 'the last session');
    else if (data) showMessage(`The session kept in this browser is for ${data.model || 'another model'}; ` +
                               'save it as a file from there, or start afresh here.', 'info');
  } catch (error) { showMessage(error.message); }
  document.body.dataset.session = 'restored';
});
