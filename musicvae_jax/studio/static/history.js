// History, undo and favourites. Every result the studio makes enters the
// history (one entry per request: a batch of samples is one entry); undo
// takes the newest entry away and shows the one before it in its panel;
// a star keeps a result as a favourite (favourites outlive the history and
// can be saved as a session file: session.js).
'use strict';

const MAX_HISTORY = 100;
const PANEL_NAMES = {'sample-results': 'Sample', 'input-results': 'Your MIDI', 'mix-result': 'Mix',
                     'walk-result': 'Walk', 'map-result': 'Map', 'attr-result': 'Attributes'};

const historyStore = {
  entries: [],        // {panel, items: [item JSON + recipe], at}, oldest first
  favourites: [],     // item JSON + recipe, oldest first
  counter: 0,
  record(panel, items) {
    const entry = {panel, at: Date.now(), items: items.map((item) => ({...item}))};
    this.entries.push(entry);
    while (this.entries.length > MAX_HISTORY) this.entries.shift();
    entry.items.forEach((item) => this.fetchRecipe(item));
    this.changed();
  },
  // The recipe that rebuilds an item (its "z.json"): a saved session replays it.
  async fetchRecipe(item) {
    if (item.recipe) return item.recipe;
    try {
      const response = await fetch(`/api/item/${item.id}/json`, {headers: {'X-Studio-Token': TOKEN}});
      if (response.ok) item.recipe = await response.json();
    } catch (error) { /* the server went away: the session keeps the notes */ }
    this.changed();
    return item.recipe;
  },
  find(id) {
    for (const entry of this.entries) {
      const found = entry.items.find((i) => i.id === id);
      if (found) return found;
    }
    return this.favourites.find((i) => i.id === id) || null;
  },
  isFavourite(id) { return this.favourites.some((i) => i.id === id); },
  toggleFavourite(id) {
    const at = this.favourites.findIndex((i) => i.id === id);
    if (at >= 0) {
      this.favourites.splice(at, 1);
    } else {
      const item = this.find(id) || state.items[id];
      if (!item) return;
      const kept = {...item};
      this.favourites.push(kept);
      this.fetchRecipe(kept);
    }
    this.changed();
    return at < 0;
  },
  undo() {
    if (!this.entries.length) { showMessage('Nothing to undo.', 'info'); return null; }
    const gone = this.entries.pop();
    if (player.item && gone.items.some((i) => i.id === player.item.id)) player.stop();
    const container = $(gone.panel);
    if (gone.panel === 'input-results') {   // inputs stack up: the newest pair goes
      const pair = [...container.querySelectorAll('.pair')].find((p) =>
        p.querySelector(`.card[data-id="${gone.items[0].id}"]`));
      if (pair) pair.remove();
    } else {
      const before = [...this.entries].reverse().find((e) => e.panel === gone.panel);
      if (before) showItems(container, before.items.map((i) => ({...i})), true, true);
      else container.replaceChildren();
    }
    showMessage(`Undone: ${gone.items[0].title}${gone.items.length > 1 ? ` and ${gone.items.length - 1} more` : ''}`, 'info');
    this.changed();
    return gone;
  },
  changed() {
    this.render();
    emit('studio:history', {});
  },
  render() {
    renderList($('history-list'), [...this.entries].reverse().flatMap((e) => e.items.map((item) => [item, e.panel])),
               'Nothing yet: every result you make is listed here.');
    renderList($('favourite-list'), [...this.favourites].reverse().map((item) => [item, null]),
               'No favourites yet: star a result (&#9734; on its card, or f).');
    $('history-count').textContent = this.favourites.length || '';
    document.querySelectorAll('.card').forEach((card) => markStar(card));
  },
};
window.studioHistory = historyStore;

function markStar(card) {
  const on = historyStore.isFavourite(card.dataset.id), star = card.querySelector('.fav');
  if (!star) return;
  star.innerHTML = on ? '&#9733;' : '&#9734;';
  star.classList.toggle('on', on);
  star.title = on ? 'a favourite (click to unstar; f)' : 'keep as a favourite (f)';
}

function renderList(list, rows, empty) {
  list.replaceChildren();
  if (!rows.length) { list.innerHTML = `<li class="empty">${empty}</li>`; return; }
  for (const [item, panel] of rows) {
    const li = document.createElement('li');
    li.dataset.id = item.id;
    const play = document.createElement('button');
    play.className = 'secondary'; play.innerHTML = '&#9654;'; play.title = 'play';
    play.onclick = () => { state.items[item.id] = state.items[item.id] || item; player.play(item.id, false); };
    const star = document.createElement('button');
    star.className = 'secondary star'; star.innerHTML = historyStore.isFavourite(item.id) ? '&#9733;' : '&#9734;';
    star.title = 'favourite';
    star.onclick = () => historyStore.toggleFavourite(item.id);
    const title = document.createElement('span');
    title.className = 'title'; title.textContent = item.title; title.title = item.title;
    const where = document.createElement('span');
    where.className = 'where'; where.textContent = panel ? PANEL_NAMES[panel] || '' : item.kind;
    const midi = document.createElement('a');
    midi.textContent = 'MIDI'; midi.href = mediaUrl(item.id, 'mid', true);
    midi.setAttribute('download', `${item.kind}_${item.id}.mid`);
    li.append(play, star, title, where, midi);
    list.appendChild(li);
  }
}

// The results a panel shows come into the history (unless they come from it).
document.addEventListener('studio:items', (e) => {
  const {container, items, restored} = e.detail;
  items.forEach((item) => {
    const card = container.querySelector(`.card[data-id="${item.id}"]`);
    if (!card) return;
    const star = card.querySelector('.fav');
    if (star) star.onclick = () => historyStore.toggleFavourite(item.id);
    markStar(card);
  });
  if (restored) return;
  const panel = container.id || (container.classList.contains('pair') ? 'input-results' : '');
  if (panel) historyStore.record(panel, items);
});

// The favourite that f stars: what is playing, else the newest result.
function currentItemId() {
  if (player.item) return player.item.id;
  const last = historyStore.entries[historyStore.entries.length - 1];
  return last ? last.items[0].id : null;
}

$('undo').onclick = () => historyStore.undo();
historyStore.render();
