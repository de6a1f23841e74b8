// The Controls panel of a multicontrol model (/api/info `controls` is
// 'multicontrol'): chords, a rhythm drawn on one toggle per step (a preset
// fills it), a contour (preset or Parsons code), a register, and an upload
// window any of rhythm, contour and register can be taken from. The presets
// come from /api/info `control_choices` (data/control_choices.py), so this
// page names none itself. It sets `state.controls`, which studio.js calls
// for the fields of every decode request (studio/controls.py reads them).
'use strict';

const UPLOAD = 'upload';      // the menus' "from the upload window" value
const rhythm = {steps: [], painting: null};

// -- the rhythm steps -----------------------------------------------------------------------
// A preset's pattern repeated over the window (as control_choices.rhythm_column).
function tiled(pattern, steps) {
  return Array.from({length: steps}, (_, i) => pattern[i % pattern.length] === 'x');
}
function rhythmPattern() { return rhythm.steps.map((on) => (on ? 'x' : '.')).join(''); }
// The drawn pattern, shortened to its shortest repeating unit that fills the window.
function shortestPattern() {
  const text = rhythmPattern(), n = text.length;
  for (let p = 1; p < n; p++) {
    if (n % p === 0 && text.slice(0, p).repeat(n / p) === text) return text.slice(0, p);
  }
  return text;
}

function setStep(i, on) {
  rhythm.steps[i] = on;
  $('rhythm-steps').children[i].setAttribute('aria-pressed', String(on));
}
function showSteps(pattern) {
  tiled(pattern, rhythm.steps.length).forEach((on, i) => setStep(i, on));
}
function drawn() { $('rhythm-preset').value = ''; }   // the steps no longer show a preset

function buildSteps(choices) {
  const box = $('rhythm-steps'), perBar = choices.steps_per_bar, perBeat = perBar / 4;
  box.replaceChildren();
  rhythm.steps = new Array(choices.steps).fill(false);
  for (let i = 0; i < choices.steps; i++) {
    const step = document.createElement('button');
    step.type = 'button';
    step.className = 'step' + (i && i % perBar === 0 ? ' bar' : (i && i % perBeat === 0 ? ' beat' : ''));
    step.dataset.step = String(i);
    step.tabIndex = i === 0 ? 0 : -1;    // one tab stop; arrow keys move inside
    step.setAttribute('aria-pressed', 'false');
    step.setAttribute('aria-label', `bar ${Math.floor(i / perBar) + 1}, 16th ${i % perBar + 1}`);
    step.title = step.getAttribute('aria-label');
    box.appendChild(step);
  }
}

function stepOf(target) {
  const step = target.closest && target.closest('.step');
  return step && !step.disabled ? Number(step.dataset.step) : null;
}
// Click (or drag) to draw: the first step pressed sets what the others get.
$('rhythm-steps').addEventListener('pointerdown', (event) => {
  const i = stepOf(event.target);
  if (i === null || event.button !== 0) return;
  rhythm.painting = !rhythm.steps[i];
  setStep(i, rhythm.painting);
  drawn();
});
$('rhythm-steps').addEventListener('pointerover', (event) => {
  const i = stepOf(event.target);
  if (i !== null && rhythm.painting !== null && event.buttons) setStep(i, rhythm.painting);
});
window.addEventListener('pointerup', () => { rhythm.painting = null; });
// A click from the keyboard (Enter, Space) toggles; the mouse's did so on pointerdown.
$('rhythm-steps').addEventListener('click', (event) => {
  const i = stepOf(event.target);
  if (i === null || event.detail !== 0) return;
  setStep(i, !rhythm.steps[i]);
  drawn();
});
function focusStep(i) {
  const steps = $('rhythm-steps').children;
  i = Math.max(0, Math.min(steps.length - 1, i));
  [...steps].forEach((s, k) => { s.tabIndex = k === i ? 0 : -1; });
  steps[i].focus();
}
$('rhythm-steps').addEventListener('keydown', (event) => {
  const i = stepOf(event.target);
  if (i === null) return;
  const moves = {ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: rhythm.steps.length - 1};
  if (event.key in moves) { event.preventDefault(); event.stopPropagation(); focusStep(moves[event.key]); }
  if (event.code === 'Space') event.stopPropagation();   // toggles this step, not the player
});

// -- menus ------------------------------------------------------------------------------------
function fillMenu(select, names, extra) {
  select.replaceChildren(...names.map((n) => new Option(n, n)),
                         ...extra.map(([value, text]) => new Option(text, value)));
}

function uploadChoice() {
  const upload = $('control-upload').value, bar = Math.round(Number($('control-bar').value));
  if (!upload) throw new Error('Choose an upload window first: upload a file in Your MIDI, then pick it under the Controls.');
  return `upload:${upload}@${bar}`;
}

function rhythmChoice() {
  const preset = $('rhythm-preset').value;
  if (preset === UPLOAD) return uploadChoice();
  return preset || shortestPattern();
}
function contourChoice() {
  const preset = $('contour-preset').value;
  if (preset === UPLOAD) return uploadChoice();
  return preset || $('contour-code').value.trim();
}
function registerChoice() {
  const value = $('register').value;
  return value === UPLOAD ? uploadChoice() : value;
}

// The request fields of every decode (studio.js's decodeOver).
function controlFields() {
  return {chords: $('mc-chords').value.trim(), rhythm: rhythmChoice(),
          contour: contourChoice(), register: registerChoice()};
}

// "from the upload window": the steps give way to the window's name.
function showFromUpload() {
  const fromUpload = $('rhythm-preset').value === UPLOAD;
  $('rhythm-steps').hidden = fromUpload;
  [...$('rhythm-steps').children].forEach((s) => { s.disabled = fromUpload; });
  $('contour-code').disabled = $('contour-preset').value === UPLOAD;
  const upload = $('control-upload').selectedOptions[0], bar = Number($('control-bar').value);
  $('rhythm-from').hidden = !fromUpload;
  $('rhythm-from').textContent = upload && upload.value
    ? `the rhythm of ${upload.dataset.name}, bars ${bar}\u2013${bar + state.info.slice_bars - 1}`
    : 'the rhythm of the upload window (upload a file in Your MIDI first)';
}

function setUpControls(info) {
  const choices = info.control_choices;
  buildSteps(choices);
  fillMenu($('rhythm-preset'), Object.keys(choices.rhythms),
           [['', 'drawn (click the steps)'], [UPLOAD, 'from the upload window']]);
  fillMenu($('contour-preset'), Object.keys(choices.contours),
           [['', 'Parsons code \u2192'], [UPLOAD, 'from the upload window']]);
  fillMenu($('register'), choices.registers, [[UPLOAD, 'from the upload window']]);
  $('rhythm-preset').value = choices.defaults.rhythm;
  showSteps(choices.rhythms[choices.defaults.rhythm]);
  $('contour-preset').value = choices.defaults.contour;
  $('contour-code').placeholder = choices.contours[choices.defaults.contour] || 'uudr';
  $('register').value = choices.defaults.register;
  $('rhythm-preset').onchange = () => {
    const pattern = choices.rhythms[$('rhythm-preset').value];
    if (pattern) showSteps(pattern);
    showFromUpload();
  };
  $('contour-preset').onchange = () => {
    const code = choices.contours[$('contour-preset').value];
    if (code) { $('contour-code').value = ''; $('contour-code').placeholder = code; }
    showFromUpload();
  };
  $('contour-code').addEventListener('input', () => { $('contour-preset').value = ''; });
  $('control-upload').onchange = showFromUpload;
  $('control-bar').addEventListener('input', showFromUpload);
  $('controls-bar').hidden = false;
  state.controls = controlFields;
}

document.addEventListener('studio:ready', (event) => {
  if (event.detail.controls === 'multicontrol' && event.detail.control_choices) setUpControls(event.detail);
});
// Each upload can give the controls set to "from the upload window".
document.addEventListener('studio:upload', (event) => {
  const info = event.detail, select = $('control-upload');
  const placeholder = select.querySelector('option[value=""]');
  if (placeholder) placeholder.remove();
  const option = new Option(`${info.name} (${info.bars} bars)`, info.upload);
  option.dataset.name = info.name;
  select.appendChild(option);
  select.value = info.upload;
  $('control-bar').max = info.bars;
  $('control-bar').value = info.first_bar;
  if (state.controls) showFromUpload();
});
