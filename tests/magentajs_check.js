// Loads a magenta.js MusicVAE checkpoint with the real client (@magenta/music
// in Node, plain @tensorflow/tfjs CPU backend) and prints, as JSON on the last
// line: mu of fixed inputs (as tensors and as NoteSequences) and the greedy
// (argmax) decode of given z.
//   node magentajs_check.js NODE_MODULES CHECKPOINT_URL INPUT_JSON
// INPUT_JSON: {"tokens": [[t, ...], ...], "depth": 90, "sequences": [...], "z": [[...]]}
const path = require('path');
const fs = require('fs');
const [modules, url, inputPath] = process.argv.slice(2);
const tf = require(path.join(modules, '@tensorflow/tfjs'));
const mvae = require(path.join(modules, '@magenta/music/node/music_vae'));

async function main() {
  await tf.setBackend('cpu');
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const model = new mvae.MusicVAE(url);
  await model.initialize();
  const oneHots = tf.oneHot(tf.tensor2d(input.tokens, undefined, 'int32'), input.depth)
                      .toFloat();
  const mu = await model.encodeTensors(oneHots, undefined);
  const muNs = await model.encode(input.sequences);
  const decoded = await model.decodeTensors(tf.tensor2d(input.z), undefined, undefined);
  const out = {
    z_size: model.zDims,
    mu: await mu.array(),
    mu_sequences: await muNs.array(),
    tokens: await decoded.argMax(-1).array(),
  };
  console.log('RESULT ' + JSON.stringify(out));
}

main().catch((error) => { console.error(error); process.exit(1); });
