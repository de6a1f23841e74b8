// Web MIDI out: what plays is also sent to a MIDI port the musician picks
// (a synth, a DAW through a virtual port). Sent, at play time:
//  * note on / note off: melody and other pitched parts on channels 1-9 and
//    11-16 (part 1 on channel 1, ...), drums on channel 10, the result's
//    velocities, at the page's tempo and transpose (drums are not transposed);
//  * MIDI clock: Start (0xFA) when playback starts, Timing Clock (0xF8) 24 per
//    quarter note at the playing tempo, Stop (0xFC) when it stops;
//  * on stop: note off for every note still sounding, then All Notes Off
//    (CC 123) on each channel used.
// Browsers without Web MIDI (or that refuse it) get a message; playback is
// unaffected.
'use strict';

const LOOKAHEAD_MS = 120, PUMP_MS = 25;

function midiChannel(note) {          // [pitch, start, end, velocity, drum, instrument]
  if (note[4]) return 9;
  const part = note[5] % 15;
  return part >= 9 ? part + 1 : part;
}

// [time ms, bytes] of one pass through `item` at `stretch` and `transpose`, in time order
// (a note's off before another's on at the same moment).
function midiEvents(item, stretchBy, transpose) {
  const events = [];
  for (const note of item.notes) {
    const channel = midiChannel(note), pitch = note[4] ? note[0] : shiftPitch(note[0], transpose);
    const on = note[1] * stretchBy * 1000, off = Math.max(note[2] * stretchBy * 1000, on + 1);
    events.push([on, [0x90 | channel, pitch, Math.max(1, Math.min(127, note[3]))]]);
    events.push([off, [0x80 | channel, pitch, 0]]);
  }
  events.sort((a, b) => a[0] - b[0] || (a[1][0] & 0xf0) - (b[1][0] & 0xf0));
  return events;
}

const midiOut = {
  access: null, port: null, timer: null, run: null,
  sent: 0,                            // messages sent (the page shows it; tests read it)
  status(text, kind) {
    $('midi-status').textContent = text;
    $('midi-status').className = 'midi-status' + (kind ? ' ' + kind : '');
  },
  async enable() {
    if (!navigator.requestMIDIAccess) {
      this.status('This browser has no Web MIDI: MIDI out needs Chrome, Edge or Opera ' +
                  '(playback here is not affected).', 'bad');
      return false;
    }
    try {
      this.access = await navigator.requestMIDIAccess({sysex: false});
    } catch (error) {
      this.status('MIDI access was refused (allow MIDI for this page in the browser settings).', 'bad');
      return false;
    }
    this.access.onstatechange = () => this.listPorts();
    this.listPorts();
    return true;
  },
  listPorts() {
    const select = $('midi-port'), chosen = select.value;
    const outputs = [...this.access.outputs.values()];
    select.replaceChildren(new Option('(no MIDI out)', ''),
                           ...outputs.map((o) => new Option(o.name || o.id, o.id)));
    select.hidden = false;
    select.value = outputs.some((o) => o.id === chosen) ? chosen : '';
    if (select.value !== (this.port ? this.port.id : '') || !this.port) this.choose(select.value);
    if (!outputs.length) this.status('No MIDI outputs: connect a device or start a virtual port.', 'bad');
  },
  choose(id) {
    this.stop();
    this.port = id && this.access ? this.access.outputs.get(id) || null : null;
    if (this.port) {
      this.status(`sending notes and clock to ${this.port.name || this.port.id}`);
      emit('studio:midi-port', {id});
    } else if (this.access) {
      this.status('choose a port to send what plays');
    }
  },
  send(bytes, at) {
    try { this.port.send(bytes, at); this.sent += 1; } catch (error) {
      this.status(`MIDI out failed: ${error.message}`, 'bad');
      this.stop();
    }
  },
  start(item, loop) {
    this.stop();
    if (!this.port) return;
    const stretchBy = stretch(item), bpm = state.playback.bpm || item.qpm || 120;
    const now = performance.now();
    this.run = {events: midiEvents(item, stretchBy, state.playback.transpose), next: 0,
                base: now, period: item.duration * stretchBy * 1000, loop,
                tick: 60000 / bpm / 24, clock: now, sounding: new Map()};
    if (!(this.run.period > 0)) this.run.loop = false;
    this.send([0xFA], now);
    this.pump();
    this.timer = setInterval(() => this.pump(), PUMP_MS);
  },
  pump() {
    const run = this.run;
    if (!run || !this.port) return;
    const horizon = performance.now() + LOOKAHEAD_MS;
    for (;;) {
      if (run.next >= run.events.length) {
        if (!run.loop) break;
        run.base += run.period;           // the next time round
        run.next = 0;
        if (!run.events.length) break;
      }
      const [time, bytes] = run.events[run.next];
      const at = run.base + time;
      if (at > horizon) break;
      this.send(bytes, at);
      const key = (bytes[0] & 0x0f) * 128 + bytes[1];
      if ((bytes[0] & 0xf0) === 0x90) run.sounding.set(key, bytes[0] & 0x0f);
      else run.sounding.delete(key);
      run.next += 1;
      if (!this.run) return;
    }
    const end = run.loop ? Infinity : run.base + run.period;
    while (run.clock <= horizon && run.clock < end) {
      this.send([0xF8], run.clock);
      run.clock += run.tick;
    }
    if (!run.loop && run.next >= run.events.length && performance.now() > end) this.stop();
  },
  stop() {
    clearInterval(this.timer);
    this.timer = null;
    const run = this.run;
    this.run = null;
    if (!run || !this.port) return;
    if (this.port.clear) { try { this.port.clear(); } catch (error) { /* not supported */ } }
    const at = performance.now() + (this.port.clear ? 0 : LOOKAHEAD_MS);  // after what was queued
    const channels = new Set(run.events.map(([, bytes]) => bytes[0] & 0x0f));
    for (const [key, channel] of run.sounding) this.send([0x80 | channel, key % 128, 0], at);
    for (const channel of channels) this.send([0xB0 | channel, 123, 0], at);
    this.send([0xFC], at);
  },
};
window.studioMidi = midiOut;

$('midi-enable').onclick = async () => {
  if (await midiOut.enable()) $('midi-enable').hidden = true;
};
$('midi-port').onchange = () => midiOut.choose($('midi-port').value);
document.addEventListener('studio:play', (e) => midiOut.start(e.detail.item, e.detail.loop));
document.addEventListener('studio:stop', () => midiOut.stop());
$('player-loop').addEventListener('change', () => {   // loop switched while playing
  if (midiOut.run) midiOut.run.loop = $('player-loop').checked && midiOut.run.period > 0;
});
