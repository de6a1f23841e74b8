// Runs @magenta/music's own melody control and chord encoders on given inputs
// and prints their outputs as JSON on the last line.
//   node melody_controls_check.js NODE_MODULES INPUT_JSON
// INPUT_JSON fields:
//   min_pitch, max_pitch, num_steps, boundaries (register bin edges);
//   melodies [M][T] event ints (rhythm, shape, register of each);
//   note_lists [S][n] of [pitch, start, end] (Melody.fromNoteSequence);
//   chords [{encoder, progression: [...symbols], num_steps}].
const path = require('path');
const fs = require('fs');
const Module = require('module');
const [modules, inputPath] = process.argv.slice(2);

// core.js also bundles the audio player, which needs Tone (browser only): stub it.
const load = Module._load;
Module._load = function(request) {
  if (request === 'tone' || request.startsWith('tone/')) {
    return new Proxy({}, {get: () => function() {}});
  }
  return load.apply(this, arguments);
};
const tf = require(path.join(modules, '@tensorflow/tfjs'));
const core = require(path.join(modules, '@magenta/music/node/core.js'));
const {Melody, MelodyRhythm, MelodyShape, MelodyRegister} = core.melodies;

function rows(tensor) {
  return tensor.arraySync();
}

async function main() {
  await tf.setBackend('cpu');
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const out = {rhythm: [], shape: [], register: [], events: [], chords: []};
  const register = new MelodyRegister(input.boundaries);
  for (const events of input.melodies) {
    const melody = new Melody(events, input.min_pitch, input.max_pitch);
    out.rhythm.push(rows(new MelodyRhythm().extract(melody)));
    out.shape.push(rows(new MelodyShape().extract(melody)));
    out.register.push(rows(register.extract(melody)));
  }
  for (const notes of input.note_lists) {
    const sequence = {
      notes: notes.map(([pitch, start, end]) => ({
        pitch, quantizedStartStep: start, quantizedEndStep: end})),
      quantizationInfo: {stepsPerQuarter: 4},
      totalQuantizedSteps: input.num_steps,
    };
    const melody = Melody.fromNoteSequence(
        sequence, input.min_pitch, input.max_pitch, true, input.num_steps);
    out.events.push(Array.from(melody.events));
  }
  for (const c of input.chords) {
    const encoder = core.chords.chordEncoderFromType(c.encoder);
    try {
      out.chords.push(rows(encoder.encodeProgression(c.progression, c.num_steps)));
    } catch (error) {
      out.chords.push(null);   // a symbol this encoder refuses
    }
  }
  console.log(JSON.stringify(out));
}

main().catch((error) => { console.error(error); process.exit(1); });
