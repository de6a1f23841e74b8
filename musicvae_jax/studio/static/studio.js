// musicvae studio: the page. Plain JS, no libraries; talks to the JSON API
// of musicvae_jax/studio/server.py and plays WAV previews with WebAudio.
// The scripts after this one (playback.js, midi_out.js, history.js,
// session.js, keys.js, controls.js) add one feature each; they hear what
// happens here through events on `document`: 'studio:ready' (/api/info read),
// 'studio:items' (results shown), 'studio:upload' (a file read), 'studio:play'
// and 'studio:stop' (the player).
'use strict';

const $ = (id) => document.getElementById(id);
// The per-launch token the server rendered into this page: every API call
// carries it (server.py, security.py), so other web sites cannot use the API.
const TOKEN = (document.querySelector('meta[name="studio-token"]') || {}).content || '';
// Audio, MIDI and pictures come at the page's tempo and transpose (the server
// renders them: arrange.py), so what plays is what downloads.
const mediaUrl = (id, kind, download) =>
  `/api/item/${id}/${kind}?token=${encodeURIComponent(TOKEN)}${download ? '&download=1' : ''}` +
  (['wav', 'mid', 'png', 'json'].includes(kind) ? playbackQuery() : '');
const state = {
  info: null,
  items: {},          // id -> item JSON
  mix: [],            // item ids at the corners A..D
  mixPoint: {x: 0.5, y: 0.5},
  base: '',           // attribute base item id
  map: null,          // {points, labels, values, ...}
  mapMark: null,      // [x, y] of the last decoded place
  lastAudio: null,    // {id, duration} of the last decoded buffer (tests read it)
  controls: null,     // a multicontrol model's () => request fields (controls.js)
  played: null,       // {id, context} of the last playback started (tests read it)
  mapJob: null,       // status of the map being built
  playback: {bpm: null, transpose: 0},   // tempo (null: the result's own) and semitones
  requests: 0,
};
window.studioState = state;

function playbackQuery() {
  const p = state.playback;
  return (p.bpm ? `&bpm=${p.bpm}` : '') + (p.transpose ? `&transpose=${p.transpose}` : '');
}
// Seconds of playback per second of the result at the page's tempo.
function stretch(item) { return state.playback.bpm ? (item.qpm || 120) / state.playback.bpm : 1; }
function emit(name, detail) { document.dispatchEvent(new CustomEvent(name, {detail})); }

// -- messages and the busy indicator --------------------------------------------
let messageTimer = null;
function showMessage(text, kind) {   // errors stay until dismissed; notes fade after 4 s
  $('message-text').textContent = text;
  $('message').className = 'message' + (kind === 'info' ? ' info' : '');
  $('message').hidden = false;
  clearTimeout(messageTimer);
  if (kind === 'info') messageTimer = setTimeout(clearMessage, 4000);
}
function clearMessage() { $('message').hidden = true; }
$('message-close').onclick = clearMessage;

let busyCount = 0;
function busy(delta, text) {
  busyCount = Math.max(0, busyCount + delta);
  $('busy').hidden = busyCount === 0;
  if (text) $('busy-text').textContent = text;
}

async function api(path, body, options) {
  options = options || {};
  busy(1, options.busyText || 'working');
  state.requests += 1;
  try {
    const init = {method: body === undefined ? 'GET' : 'POST', headers: {'X-Studio-Token': TOKEN}};
    if (body instanceof Blob) {
      init.body = body;
      init.headers['Content-Type'] = 'application/octet-stream';
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new Error('the studio server does not answer (is it still running?)');
    }
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error) || `the server answered ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  } finally {
    busy(-1);
  }
}

// Calls that must not pile up (slider moves): one in flight, the newest waits.
function latestOnly(run) {
  let running = false, pending = null;
  async function go(args) {
    running = true;
    try { await run(args); } catch (error) { showMessage(error.message); }
    running = false;
    if (pending !== null) { const next = pending; pending = null; go(next); }
  }
  return (args) => { if (running) pending = args; else go(args); };
}

// -- audio ---------------------------------------------------------------------------
// Decoded audio is large (a long walk is hundreds of MB as float samples):
// the player keeps the few most recently played buffers and lets go of the
// rest, and disconnects each source node when it stops.
const MAX_BUFFERS = 6;
const player = {
  context: null, source: null, buffers: new Map(), item: null, started: 0, loop: false,
  ensure() {
    if (!this.context) this.context = new (window.AudioContext || window.webkitAudioContext)();
    if (this.context.state === 'suspended') this.context.resume();
    return this.context;
  },
  async buffer(id) {
    const key = id + playbackQuery();   // one buffer per tempo and transpose
    if (this.buffers.has(key)) {   // most recently used last
      const kept = this.buffers.get(key);
      this.buffers.delete(key); this.buffers.set(key, kept);
      return kept;
    }
    const context = this.ensure();
    const response = await fetch(mediaUrl(id, 'wav'), {headers: {'X-Studio-Token': TOKEN}});
    if (!response.ok) {
      let message = 'could not fetch the audio';
      try { message = (await response.json()).error || message; } catch (error) { /* not JSON */ }
      throw new Error(message);
    }
    const bytes = await response.arrayBuffer();
    const buffer = await context.decodeAudioData(bytes);
    this.buffers.set(key, buffer);
    while (this.buffers.size > MAX_BUFFERS) this.buffers.delete(this.buffers.keys().next().value);
    state.lastAudio = {id, duration: buffer.duration, samples: buffer.length,
                       buffers: this.buffers.size, query: playbackQuery()};
    return buffer;
  },
  forget(id) {
    for (const key of [...this.buffers.keys()]) {
      if (key === id || key.startsWith(id + '&')) this.buffers.delete(key);
    }
  },
  async play(id, loop) {
    const item = state.items[id];
    if (!item) return;
    const ticket = this.ticket = (this.ticket || 0) + 1;   // the newest request plays
    let buffer;
    try { buffer = await this.buffer(id); } catch (error) { showMessage(error.message); return; }
    if (ticket !== this.ticket) return;   // another play (a new tempo, another card) came since
    this.stop();
    const context = this.ensure();
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.loop = !!loop;
    const length = item.duration * stretch(item);   // seconds at the page's tempo
    if (loop) { source.loopStart = 0; source.loopEnd = Math.min(length, buffer.duration); }
    source.connect(context.destination);
    source.onended = () => { if (this.source === source) this.stop(); else release(source); };
    source.start();
    this.source = source; this.item = item; this.started = context.currentTime;
    this.length = loop ? length : Math.min(length, buffer.duration);
    this.period = length;
    this.loop = !!loop;
    state.played = {id, context: context.state, at: context.currentTime, query: playbackQuery()};
    emit('studio:play', {item, loop: this.loop, offset: 0});
    $('player-loop').checked = this.loop;
    $('player-title').textContent = item.title;
    $('player-toggle').disabled = false;
    $('player-toggle').innerHTML = '&#9632;';
    document.querySelectorAll('.card').forEach((c) => {
      const on = c.dataset.id === id;
      c.classList.toggle('playing', on);
      c.querySelector('.play').innerHTML = on ? '&#9632;' : '&#9654;';
    });
    requestAnimationFrame(tick);
  },
  stop() {
    if (this.source) {
      const source = this.source;
      try { source.stop(); } catch (error) { /* already stopped */ }
      release(source);
    }
    if (this.source) emit('studio:stop', {item: this.item});
    this.source = null;
    const item = this.item;
    $('player-toggle').innerHTML = '&#9654;';
    $('player-time').textContent = '';
    document.querySelectorAll('.card').forEach((c) => {
      c.classList.remove('playing');
      c.querySelector('.play').innerHTML = '&#9654;';
    });
    if (item) redrawCards(item.id, null);
  },
  position() {
    if (!this.source) return null;
    const t = this.context.currentTime - this.started;
    return this.loop ? t % this.period : Math.min(t, this.length);
  },
  // Played again from the start with the page's tempo and transpose (a control changed).
  replay() { if (this.source && this.item) this.play(this.item.id, this.loop); },
};

// A stopped source node holds its buffer until it is collected: drop the links.
function release(source) {
  source.onended = null;
  try { source.disconnect(); } catch (error) { /* not connected */ }
}

function tick() {
  const t = player.position();
  if (t === null) return;
  redrawCards(player.item.id, t / stretch(player.item));   // the roll keeps the result's own time
  $('player-time').textContent = `${t.toFixed(1)} / ${player.period.toFixed(1)} s`;
  requestAnimationFrame(tick);
}

$('player-toggle').onclick = () => {
  if (player.source) player.stop();
  else if (player.item) player.play(player.item.id, $('player-loop').checked);
};
$('player-loop').onchange = () => {
  if (player.source) { player.source.loop = $('player-loop').checked; player.loop = player.source.loop; }
};

// -- piano roll (canvas) ----------------------------------------------------------
const COLOURS = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#db2777'];

const DRUM_NAMES = {35: 'kick', 36: 'kick', 37: 'stick', 38: 'snare', 39: 'clap', 40: 'snare',
  41: 'tom L', 42: 'hat', 43: 'tom L', 44: 'hat p', 45: 'tom M', 46: 'hat o', 47: 'tom M',
  48: 'tom H', 49: 'crash', 50: 'tom H', 51: 'ride', 57: 'crash', 59: 'ride'};

// A piano roll: pitched notes on a keyboard grid (C labelled), drums in a
// band below with one row per drum pitch; bar and beat lines; a playhead.
function drawRoll(canvas, item, playhead) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 520, height = canvas.clientHeight || 150;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.fillStyle = '#fff'; g.fillRect(0, 0, width, height);
  const top = 12, bottom = height - 2;
  // Pitched notes as they sound at the page's transpose (playback.js); drums stay.
  const shift = state.playback.transpose;
  const sounding = (n) => (n[4] || !shift ? n[0] : shiftPitch(n[0], shift));
  const pitched = item.notes.filter((n) => !n[4]).map(sounding);
  const drums = [...new Set(item.notes.filter((n) => n[4]).map((n) => n[0]))].sort((a, b) => b - a);
  const drumRowH = drums.length ? Math.min(12, (bottom - top) / (pitched.length ? 2 : 1) / drums.length) : 0;
  const drumTop = bottom - drums.length * drumRowH;
  const pitchedBottom = drums.length ? drumTop - (pitched.length ? 4 : 0) : bottom;
  let low = pitched.length ? Math.min(...pitched) - 2 : 58;
  let high = pitched.length ? Math.max(...pitched) + 2 : 82;
  if (high - low < 24) { const extra = 24 - (high - low); low -= Math.floor(extra / 2); high += Math.ceil(extra / 2); }
  const left = drums.length ? 40 : 30, plotW = width - left - 4;
  const rowH = (pitched.length || !drums.length) ? (pitchedBottom - top) / (high - low + 1) : 0;
  const duration = Math.max(item.duration, 0.5);
  const x = (t) => left + (t / duration) * plotW;
  const y = (p) => top + (high - p) * rowH;
  g.font = '9px sans-serif';
  if (rowH) {
    for (let p = low; p <= high; p++) {          // black-key rows, C labels
      if ([1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12)) {
        g.fillStyle = '#f3f4f7'; g.fillRect(left, y(p), plotW, rowH);
      }
      if (p % 12 === 0 && rowH * 12 > 14) {
        g.fillStyle = '#8b919c'; g.textAlign = 'right';
        g.fillText(`C${p / 12 - 1}`, left - 3, y(p) + rowH);
      }
    }
  }
  drums.forEach((p, i) => {                       // drum band
    const yy = drumTop + i * drumRowH;
    if (i % 2 === 0) { g.fillStyle = '#f2f7f2'; g.fillRect(left, yy, plotW, drumRowH); }
    if (drumRowH >= 8) {
      g.fillStyle = '#8b919c'; g.textAlign = 'right';
      g.fillText(DRUM_NAMES[p] || `dr ${p}`, left - 3, yy + drumRowH - 2);
    }
  });
  const beats = item.beats_per_bar || 4;   // 3 in 3/4, 2 (dotted quarters) in 6/8
  const bar = item.bar_seconds || 2, beat = bar / beats;
  const barPx = x(bar) - x(0), every = labelEvery(barPx);
  for (let b = 0, i = 0; b <= duration + 1e-6; b += beat, i++) {   // beats and bars
    const major = i % beats === 0, number = i / beats;
    if (!major && barPx < 16) continue;                 // beat lines would fill the roll
    if (major && barPx < 4 && number % every) continue;  // so would bar lines
    g.strokeStyle = major ? '#9aa0aa' : '#e3e5ea';
    g.beginPath(); g.moveTo(Math.round(x(b)) + 0.5, top); g.lineTo(Math.round(x(b)) + 0.5, bottom); g.stroke();
    if (major && b < duration - 1e-6 && number % every === 0) {
      g.fillStyle = '#8b919c'; g.textAlign = 'left';
      g.fillText(String(number + 1), x(b) + 2, 9);
    }
  }
  const minDrum = 0.06 * plotW / duration;
  for (const n of item.notes) {
    const [, start, end, velocity, drum, instrument] = n, pitch = sounding(n);
    g.globalAlpha = 0.35 + 0.65 * velocity / 127;
    if (drum) {
      g.fillStyle = '#16a34a';
      g.fillRect(x(start) + 0.5, drumTop + drums.indexOf(pitch) * drumRowH + 1,
                 Math.max(3, Math.min(minDrum, x(end) - x(start))), Math.max(2, drumRowH - 2));
    } else {
      g.fillStyle = COLOURS[instrument % COLOURS.length];
      g.fillRect(x(start) + 0.5, y(pitch) + 0.5, Math.max(2, x(end) - x(start) - 1), Math.max(2, rowH - 1));
    }
    g.globalAlpha = 1;
  }
  if (!item.notes.length) {
    g.fillStyle = '#8b919c'; g.font = '13px sans-serif'; g.textAlign = 'center';
    g.fillText('silence: no notes were decoded (try a higher temperature)', left + plotW / 2, height / 2);
  }
  if (playhead !== null && playhead !== undefined) {
    g.strokeStyle = '#dc2626'; g.lineWidth = 2;
    g.beginPath(); g.moveTo(x(playhead), top - 2); g.lineTo(x(playhead), height); g.stroke();
    g.lineWidth = 1;
  }
}

// Label every n-th bar (1, 2, 5, 10, 20, 50, ...) so that numbers do not overlap.
function labelEvery(barPx) {
  const steps = [2, 2.5, 2];
  let every = 1;
  for (let i = 0; every * barPx < 24 && every < 1e6; i++) every = Math.round(every * steps[i % 3]);
  return every;
}

function redrawCards(id, playhead) {
  document.querySelectorAll(`.card[data-id="${id}"] canvas.roll`).forEach((c) => {
    drawRoll(c, state.items[id], playhead);
  });
}

// -- result cards ---------------------------------------------------------------------
function makeCard(item) {
  state.items[item.id] = item;
  const card = $('card-template').content.firstElementChild.cloneNode(true);
  card.dataset.id = item.id;
  card.dataset.kind = item.kind;
  card.querySelector('.title').textContent = item.title;
  card.querySelector('.title').title = item.title;
  const canvas = card.querySelector('canvas.roll');
  card.querySelector('.play').onclick = () => {
    if (player.source && player.item && player.item.id === item.id) player.stop();
    else player.play(item.id, $('player-loop').checked);
  };
  canvas.onclick = card.querySelector('.play').onclick;
  const mixButton = card.querySelector('.add-mix');
  const baseButton = card.querySelector('.set-base');
  if (!item.mixable) { mixButton.remove(); baseButton.remove(); }
  mixButton.onclick = () => addToMix(item.id);
  baseButton.onclick = () => setBase(item.id);
  if (!state.info || !state.info.attributes.length) baseButton.remove();
  for (const kind of ['mid', 'wav', 'png', 'json', 'npy']) {
    const link = card.querySelector(`.dl-${kind}`);
    if (kind === 'npy' && !item.mixable && item.kind !== 'walk') { link.remove(); continue; }
    link.dataset.kind = kind;
    link.href = mediaUrl(item.id, kind, true);   // refreshLinks: when tempo or transpose change
    link.setAttribute('download', `${item.kind}_${item.id}.${kind}`);
  }
  if (item.audio_seconds < item.duration - 0.01) {   // a long walk: the WAV has its start
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = `audio: the first ${clock(item.audio_seconds)} of ${clock(item.duration)} ` +
                       '(the MIDI has all of it)';
    card.querySelector('.actions').before(note);
  }
  requestAnimationFrame(() => drawRoll(canvas, item, null));
  return card;
}

function clock(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// Download links follow the tempo and transpose controls.
function refreshLinks() {
  document.querySelectorAll('.card').forEach((card) => {
    card.querySelectorAll('.downloads a[data-kind]').forEach((link) => {
      link.href = mediaUrl(card.dataset.id, link.dataset.kind, true);
    });
  });
}

// `restored`: the results come back from the history (undo, a saved
// session), not from a new request: history.js does not record them again.
function showItems(container, items, replace, restored) {
  if (replace) container.replaceChildren();
  const cards = items.map(makeCard);
  cards.forEach((c) => container.appendChild(c));
  emit('studio:items', {container, items, restored: !!restored});
  if (replace) forgetUnshown();
  return cards;
}

// Results no longer on the page (replaced cards), not in the mix and not the
// base: their notes and audio are let go.
function forgetUnshown() {
  const shown = new Set([...document.querySelectorAll('.card')].map((c) => c.dataset.id));
  for (const id of Object.keys(state.items)) {
    const kept = shown.has(id) || state.mix.includes(id) || state.base === id ||
                 (player.item && player.item.id === id);
    if (!kept) { delete state.items[id]; player.forget(id); }
  }
}

// -- 1. sample ------------------------------------------------------------------------
function bindRange(id) {
  const input = $(id), out = $(id + '-value');
  const show = () => { out.textContent = Number(input.value).toFixed(2); };
  input.addEventListener('input', show); show();
}
['sample-temperature', 'input-temperature', 'mix-temperature', 'walk-temperature',
 'attr-temperature'].forEach(bindRange);

$('sample-new-seed').onclick = () => { $('sample-seed').value = Math.floor(Math.random() * 100000); };
$('sample-go').onclick = async () => {
  clearMessage();
  try {
    const data = await api('/api/sample', {
      n: Number($('sample-n').value), temperature: Number($('sample-temperature').value),
      seed: Number($('sample-seed').value), ...decodeOver()}, {busyText: 'sampling'});
    showItems($('sample-results'), data.items, true);
  } catch (error) { showMessage(error.message); }
};

// -- 2. uploads -------------------------------------------------------------------------
async function uploadFiles(files) {
  clearMessage();
  for (const file of files) {
    if (state.info && file.size > state.info.max_upload_bytes) {
      showMessage(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB is over the limit of ` +
                  `${(state.info.max_upload_bytes / 1e6).toFixed(1)} MB`);
      continue;
    }
    try {
      const info = await api(`/api/upload?name=${encodeURIComponent(file.name)}`, file,
                             {busyText: `reading ${file.name}`});
      addUploadRow(info);
      await useWindow(info.upload, info.first_bar, info.name);
    } catch (error) { showMessage(error.message); }
  }
}

function addUploadRow(info) {
  const row = document.createElement('div');
  row.className = 'upload';
  row.dataset.upload = info.upload;
  const name = document.createElement('span');
  name.className = 'name'; name.textContent = info.name;
  const bars = document.createElement('span');
  bars.textContent = `${info.bars} bars`;
  const label = document.createElement('label');
  label.textContent = `${info.slice_bars} bars from bar `;
  const start = document.createElement('input');
  start.type = 'number'; start.min = 1; start.max = info.bars; start.value = info.first_bar;
  start.className = 'start-bar';
  label.appendChild(start);
  const go = document.createElement('button');
  go.className = 'secondary use-window'; go.textContent = 'Use these bars';
  go.onclick = () => useWindow(info.upload, Number(start.value), info.name).catch((e) => showMessage(e.message));
  row.append(name, bars, label, go);
  if (state.info && state.info.groove) {  // GrooVAE: the whole beat, humanized or drumified
    for (const how of ['humanize', 'drumify']) {
      const button = document.createElement('button');
      button.className = `secondary ${how}`;
      button.textContent = how[0].toUpperCase() + how.slice(1);
      button.title = how === 'humanize' ? 'the whole beat with velocities and micro-timing'
                                        : 'any rhythm (tapped, a melody) as a full drum kit';
      button.onclick = () => perform(info.upload, how, info.name).catch((e) => showMessage(e.message));
      row.appendChild(button);
    }
  }
  $('uploads').appendChild(row);
  emit('studio:upload', info);
}

async function perform(uploadId, how, name) {
  const data = await api('/api/perform', {
    upload: uploadId, how, temperature: Number($('input-temperature').value), seed: 0},
    {busyText: `${how === 'humanize' ? 'humanizing' : 'drumifying'} ${name}`});
  const pair = document.createElement('div');
  pair.className = 'pair';
  showItems(pair, data.items, false);
  $('input-results').prepend(pair);
  return data.items;
}

async function useWindow(uploadId, startBar, name) {
  const data = await api('/api/window', {
    upload: uploadId, start_bar: startBar, temperature: Number($('input-temperature').value),
    seed: 0}, {busyText: `encoding ${name}`});
  const pair = document.createElement('div');
  pair.className = 'pair';
  showItems(pair, data.items, false);
  $('input-results').prepend(pair);
  return data.items;
}

$('file-input').onchange = (event) => { uploadFiles([...event.target.files]); event.target.value = ''; };
const drop = $('drop');
['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
drop.addEventListener('drop', (e) => uploadFiles([...e.dataTransfer.files]));
// Files dropped anywhere else would make the browser leave the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => { e.preventDefault(); if (e.target !== drop) uploadFiles([...e.dataTransfer.files]); });

// -- 3. mix ---------------------------------------------------------------------------
const LETTERS = ['A', 'B', 'C', 'D'];
const CORNERS = [[0, 0], [1, 0], [0, 1], [1, 1]];

function addToMix(id) {
  if (state.mix.includes(id)) { showMessage('That melody is already in the mix.', 'info'); return; }
  if (state.mix.length >= 4) { showMessage('The mix holds four melodies; remove one first.', 'info'); return; }
  state.mix.push(id);
  renderMix();
  showMessage(`Added to the mix as ${LETTERS[state.mix.length - 1]}: ${state.items[id].title}`, 'info');
}

function renderMix() {
  $('mix-count').textContent = state.mix.length || '';
  const chips = $('mix-sources');
  chips.replaceChildren();
  state.mix.forEach((id, i) => {
    const chip = document.createElement('span');
    chip.className = 'chip';
    const letter = document.createElement('span');
    letter.className = 'letter'; letter.textContent = LETTERS[i];
    const text = document.createElement('span');
    text.className = 'text'; text.textContent = state.items[id].title; text.title = state.items[id].title;
    const remove = document.createElement('button');
    remove.innerHTML = '&times;'; remove.title = 'remove from the mix';
    remove.onclick = () => { state.mix.splice(i, 1); renderMix(); };
    chip.append(letter, text, remove);
    chips.appendChild(chip);
  });
  const n = state.mix.length;
  $('mix-empty').hidden = n >= 2;
  $('mix-pad').hidden = n < 3;
  $('mix-slider-wrap').hidden = n !== 2;
  drawPad();
}

function drawPad() {
  const canvas = $('mix-pad'), g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, m = 26;
  g.clearRect(0, 0, w, h);
  const grad = g.createLinearGradient(0, 0, w, h);
  grad.addColorStop(0, '#eef3fe'); grad.addColorStop(1, '#f7f0fd');
  g.fillStyle = grad; g.fillRect(m, m, w - 2 * m, h - 2 * m);
  g.strokeStyle = '#c9d3e6'; g.strokeRect(m + 0.5, m + 0.5, w - 2 * m, h - 2 * m);
  g.font = 'bold 15px sans-serif'; g.textAlign = 'center'; g.textBaseline = 'middle';
  CORNERS.forEach(([cx, cy], i) => {
    const px = m + cx * (w - 2 * m), py = m + cy * (h - 2 * m);
    const filled = i < state.mix.length;
    g.fillStyle = filled ? '#2563eb' : '#b7bfcc';
    g.beginPath(); g.arc(px, py, 13, 0, 2 * Math.PI); g.fill();
    g.fillStyle = '#fff';
    g.fillText(filled ? LETTERS[i] : '·', px, py + 1);
  });
  const px = m + state.mixPoint.x * (w - 2 * m), py = m + state.mixPoint.y * (h - 2 * m);
  g.fillStyle = '#dc2626'; g.strokeStyle = '#fff'; g.lineWidth = 3;
  g.beginPath(); g.arc(px, py, 9, 0, 2 * Math.PI); g.fill(); g.stroke(); g.lineWidth = 1;
}

const mixLive = latestOnly(async (point) => {
  const data = await api('/api/mix', {
    ids: state.mix, x: point.x, y: point.y, temperature: Number($('mix-temperature').value),
    seed: 0, ...decodeOver()}, {busyText: 'mixing'});
  const [card] = showItems($('mix-result'), data.items, true);
  if ($('mix-autoplay').checked) await player.play(data.items[0].id, $('mix-loop').checked);
  return card;
});

function movePad(event) {
  const canvas = $('mix-pad'), rect = canvas.getBoundingClientRect(), m = 26;
  const sx = canvas.width / rect.width;
  const x = ((event.clientX - rect.left) * sx - m) / (canvas.width - 2 * m);
  const y = ((event.clientY - rect.top) * sx - m) / (canvas.height - 2 * m);
  state.mixPoint = {x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y))};
  drawPad();
  mixLive({...state.mixPoint});
}
let dragging = false;
$('mix-pad').addEventListener('pointerdown', (e) => { dragging = true; $('mix-pad').setPointerCapture(e.pointerId); movePad(e); });
$('mix-pad').addEventListener('pointermove', (e) => { if (dragging) movePad(e); });
$('mix-pad').addEventListener('pointerup', () => { dragging = false; });
$('mix-slider').addEventListener('input', () => {
  state.mixPoint = {x: Number($('mix-slider').value), y: 0};
  mixLive({...state.mixPoint});
});
$('mix-clear').onclick = () => { state.mix = []; renderMix(); };

// -- 4. walk ---------------------------------------------------------------------------
$('walk-go').onclick = async () => {
  clearMessage();
  const mode = document.querySelector('input[name=walk-mode]:checked').value;
  if (mode === 'mix' && state.mix.length < 2) {
    showMessage('A walk through the mix needs at least two melodies in it ("+ Mix" on a card), or choose a random walk.');
    return;
  }
  try {
    const data = await api('/api/walk', {
      ids: mode === 'mix' ? state.mix : [], anchors: Number($('walk-anchors').value),
      steps: Number($('walk-steps').value), temperature: Number($('walk-temperature').value),
      seed: Number($('walk-seed').value), ...decodeOver()}, {busyText: 'walking'});
    showItems($('walk-result'), data.items, true);
    await player.play(data.items[0].id, false);
  } catch (error) { showMessage(error.message); }
};

// -- 5. map ------------------------------------------------------------------------------
const MAP_MARGIN = 24;
// Each axis is fitted to its own range (a 16-bar model's second component
// can be a hundred times smaller than its first: one shared scale would
// draw the map as a line).
function mapScale() {
  const pts = state.map.points, canvas = $('map-canvas');
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of pts) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const spanX = Math.max(x1 - x0, 1e-6) * 1.1, spanY = Math.max(y1 - y0, 1e-6) * 1.1;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const w = canvas.width - 2 * MAP_MARGIN, h = canvas.height - 2 * MAP_MARGIN;
  return {
    toPx: ([x, y]) => [MAP_MARGIN + ((x - cx) / spanX + 0.5) * w, MAP_MARGIN + (0.5 - (y - cy) / spanY) * h],
    fromPx: (px, py) => [cx + ((px - MAP_MARGIN) / w - 0.5) * spanX, cy + (0.5 - (py - MAP_MARGIN) / h) * spanY],
  };
}

function viridis(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  t = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function drawMap() {
  const canvas = $('map-canvas'), g = canvas.getContext('2d');
  g.fillStyle = '#fff'; g.fillRect(0, 0, canvas.width, canvas.height);
  if (!state.map) {
    g.fillStyle = '#8b919c'; g.font = '14px sans-serif'; g.textAlign = 'center';
    g.fillText('Build the map to see the dataset here.', canvas.width / 2, canvas.height / 2);
    return;
  }
  const scale = mapScale(), attr = $('map-colour').value;
  const values = (state.map.values[attr] || []).filter((v) => v !== null);
  const lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
  state.map.points.forEach((p, i) => {
    const [px, py] = scale.toPx(p);
    const v = state.map.values[attr] ? state.map.values[attr][i] : null;
    g.fillStyle = v === null ? '#b7bfcc' : viridis((v - lo) / (hi - lo || 1));
    g.globalAlpha = 0.85;
    g.beginPath(); g.arc(px, py, state.map.hover === i ? 7 : 4.5, 0, 2 * Math.PI); g.fill();
  });
  g.globalAlpha = 1;
  if (state.mapMark) {
    const [px, py] = scale.toPx(state.mapMark);
    g.strokeStyle = '#dc2626'; g.lineWidth = 2.5;
    g.beginPath(); g.moveTo(px - 7, py - 7); g.lineTo(px + 7, py + 7); g.moveTo(px + 7, py - 7); g.lineTo(px - 7, py + 7); g.stroke();
    g.lineWidth = 1;
  }
  const legend = $('map-legend');
  legend.replaceChildren();
  if (attr && values.length) {
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.background = `linear-gradient(90deg, ${[0, 0.25, 0.5, 0.75, 1].map(viridis).join(',')})`;
    const a = document.createElement('span'), b = document.createElement('span');
    a.textContent = `${attr.replace('_', ' ')} ${lo.toFixed(2)}`; b.textContent = hi.toFixed(2);
    legend.append(a, bar, b);
  }
}

function nearestPoint(px, py) {
  if (!state.map) return -1;
  const scale = mapScale();
  let best = -1, bestD = 8 * 8;
  state.map.points.forEach((p, i) => {
    const [x, y] = scale.toPx(p), d = (x - px) ** 2 + (y - py) ** 2;
    if (d < bestD) { best = i; bestD = d; }
  });
  return best;
}

function canvasXY(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * canvas.width / rect.width,
          (event.clientY - rect.top) * canvas.height / rect.height];
}

$('map-source').onchange = () => { $('map-folder').hidden = $('map-source').value !== 'folder'; };
$('map-colour').onchange = drawMap;

// A map is built by a background job on the server: start it, then ask how
// it goes until it is done (the rest of the page keeps working meanwhile).
function showMapJob(job) {
  state.mapJob = job;
  const running = job.state === 'running';
  $('map-cancel').hidden = !running;
  $('map-go').disabled = running;
  $('map-progress').hidden = !running;
  if (running) {
    const count = job.total ? ` ${job.done} / ${job.total}` : (job.done ? ` ${job.done}` : '');
    $('map-progress').textContent = `${job.cancelling ? 'cancelling' : job.phase}${count} ` +
                                    `(${Math.round(job.seconds)} s)`;
  }
}

async function followMapJob(job) {
  showMapJob(job);
  while (job.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 300));
    job = await fetch('/api/map/status', {headers: {'X-Studio-Token': TOKEN}}).then((r) => r.json());
    showMapJob(job);
  }
  if (job.state === 'done') {
    state.map = job.map;
    state.mapMark = null;
    showMessage(`${state.map.count} windows of ${state.map.source}, ${state.map.method.toUpperCase()}.`, 'info');
    drawMap();
  } else if (job.state === 'failed') {
    showMessage(job.error);
  } else if (job.state === 'cancelled') {
    showMessage('The map was cancelled.', 'info');
  }
}

$('map-go').onclick = async () => {
  clearMessage();
  const source = $('map-source').value;
  const folder = source === 'folder' ? $('map-folder').value.trim() : '';
  if (source === 'folder' && !folder) { showMessage('Type the folder of MIDI files to map.'); return; }
  try {
    const job = await api('/api/map', {source, folder, method: $('map-method').value, seed: 0},
                          {busyText: 'starting the map'});
    await followMapJob(job);
  } catch (error) { showMessage(error.message); showMapJob({state: 'none'}); }
};
$('map-cancel').onclick = async () => {
  try { showMapJob(await api('/api/map/cancel', {})); } catch (error) { showMessage(error.message); }
};
$('map-canvas').addEventListener('mousemove', (event) => {
  if (!state.map) return;
  const i = nearestPoint(...canvasXY($('map-canvas'), event));
  if (i !== state.map.hover) { state.map.hover = i; drawMap(); }
  $('map-hover').textContent = i >= 0 ? state.map.labels[i] : 'empty space: click to decode this place';
});
$('map-canvas').addEventListener('click', async (event) => {
  if (!state.map) return;
  const [px, py] = canvasXY($('map-canvas'), event);
  clearMessage();
  const i = nearestPoint(px, py);
  try {
    let data;
    if (i >= 0) {
      data = await api('/api/map/point', {index: i});
      state.mapMark = null;
    } else {
      const [x, y] = mapScale().fromPx(px, py);
      data = await api('/api/map/decode', {x, y, temperature: 0.2, seed: 0, ...decodeOver()},
                       {busyText: 'decoding'});
      state.mapMark = [x, y];
    }
    drawMap();
    showItems($('map-result'), data.items, true);
    await player.play(data.items[0].id, false);
  } catch (error) { showMessage(error.message); }
});

// -- 6. attributes -----------------------------------------------------------------------
function setBase(id) {
  state.base = id;
  $('attr-base').textContent = id ? state.items[id].title : 'z = 0 (the centre)';
  if (id) showMessage(`Attribute base: ${state.items[id].title}`, 'info');
}
$('attr-base-clear').onclick = () => setBase('');

const attrLive = latestOnly(async (amounts) => {
  let data;
  try {
    data = await api('/api/attribute', {
      base: state.base, amounts, temperature: Number($('attr-temperature').value), seed: 0,
      ...decodeOver()},
      {busyText: 'decoding'});
  } catch (error) {   // 409: the map behind the vectors is being built; show its progress
    if (error.status === 409 && !(state.mapJob && state.mapJob.state === 'running')) {
      fetch('/api/map/status', {headers: {'X-Studio-Token': TOKEN}}).then((r) => r.json())
        .then(followMapJob).catch(() => {});
    }
    throw error;
  }
  showItems($('attr-result'), data.items, true);
  await player.play(data.items[0].id, false);
});

function attributeAmounts() {
  const amounts = {};
  document.querySelectorAll('#attr-sliders input').forEach((s) => { amounts[s.dataset.attr] = Number(s.value); });
  return amounts;
}

function buildSliders(names) {
  const box = $('attr-sliders');
  box.replaceChildren();
  if (!names.length) { box.textContent = 'This model has no attribute sliders (melody models only).'; return; }
  for (const name of names) {
    const label = document.createElement('label');
    const text = document.createElement('span');
    text.textContent = name.replace('_', ' ');
    const slider = document.createElement('input');
    slider.type = 'range'; slider.min = -3; slider.max = 3; slider.step = 0.1; slider.value = 0;
    slider.dataset.attr = name;
    const out = document.createElement('output');
    out.textContent = '0.0';
    slider.addEventListener('input', () => { out.textContent = Number(slider.value).toFixed(1); });
    slider.addEventListener('change', () => { clearMessage(); attrLive(attributeAmounts()); });
    label.append(text, slider, out);
    box.appendChild(label);
  }
}
$('attr-reset').onclick = () => {
  document.querySelectorAll('#attr-sliders input').forEach((s) => { s.value = 0; s.dispatchEvent(new Event('input')); });
};

// -- tabs and start ------------------------------------------------------------------------
document.querySelectorAll('.tab').forEach((tab) => {
  tab.onclick = () => {
    document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t === tab));
    document.querySelectorAll('.panel').forEach((p) => p.classList.toggle('active', p.id === 'tab-' + tab.dataset.tab));
    if (tab.dataset.tab === 'map') drawMap();
    if (tab.dataset.tab === 'mix') drawPad();
  };
});
window.addEventListener('resize', () => {
  Object.keys(state.items).forEach((id) => redrawCards(id, null));
});

// A chord-conditioned model's progression ('' for other models: the field is hidden).
function chordsText() { return state.info && state.info.chords ? $('chords').value.trim() : ''; }
// What every decode of new music plays over, as request fields: a chord
// model's chords, or a multicontrol model's chords, rhythm, contour and
// register (controls.js sets `state.controls`; it throws for an unfinished choice).
function decodeOver() { return state.controls ? state.controls() : {chords: chordsText()}; }

async function start() {
  try {
    state.info = await api('/api/info', undefined, {busyText: 'loading'});
  } catch (error) { showMessage(error.message); return; }
  const i = state.info;
  $('model-info').textContent = `${i.model || i.encoding} · ${i.slice_bars} bars · z ${i.z_size} · ` +
    `step ${i.step} · ${i.pretrained ? 'pretrained ' + i.pretrained : i.workdir}`;
  $('upload-limit').textContent = `up to ${(i.max_upload_bytes / 1e6).toFixed(1)} MB each`;
  $('map-method').replaceChildren(...i.projections.map((m) => new Option(
      {pca: 'PCA', umap: 'UMAP', tsne: 't-SNE (openTSNE)'}[m] || m, m)));
  $('map-colour').replaceChildren(...(i.attributes.length ? i.attributes : ['']).map(
      (a) => new Option(a ? a.replace('_', ' ') : '(none)', a)));
  $('chords-bar').hidden = !i.chords;
  const evalOption = $('map-source').querySelector('option[value=eval]');
  if (i.eval_set) {   // no eval set of its own: say why, start on "a folder"
    evalOption.disabled = true;
    evalOption.textContent = "the run's eval set (not available)";
    evalOption.title = i.eval_set;
    $('map-source').value = 'folder';
    $('map-folder').hidden = false;
  }
  $('map-roots').textContent = 'Folders the map may read: ' +
    (i.map_roots.length ? i.map_roots.join(', ') : 'none') +
    ` (more with --data_dir; at most ${i.map_max_files} files each).`;
  buildSliders(i.attributes);
  renderMix();
  drawMap();
  emit('studio:ready', i);
  document.body.dataset.ready = '1';
  // A map still being built (e.g. for the attribute sliders, or before a reload).
  fetch('/api/map/status', {headers: {'X-Studio-Token': TOKEN}}).then((r) => r.json())
    .then((job) => { if (job.state === 'running') followMapJob(job); }).catch(() => {});
}
// After the feature scripts below this one have run (they listen for 'studio:ready').
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
