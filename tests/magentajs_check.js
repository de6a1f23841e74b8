// Loads a magenta.js MusicVAE checkpoint with the real client (@magenta/music
// in Node, plain @tensorflow/tfjs CPU backend) and prints, as JSON on the last
// line: mu of fixed inputs (and of NoteSequences, when given) and the greedy
// decode of given z.
//   node magentajs_check.js NODE_MODULES CHECKPOINT_URL INPUT_JSON
// INPUT_JSON fields:
//   tokens [B][T][K] ints and part_depths [K] (one-hots per part, concatenated;
//     -1 is an all-zero row: multitrack padding), or features [B][T][D] floats;
//   z [N][Z]; per_example (encode one example at a time: magenta.js reads
//     variable-length segments only at batch size 1);
//   control_args (optional) {chordProgression: [...], extraControls: {name: [T][C]}};
//   sequences (optional) INoteSequences to encode with model.encode;
//   tensor_sequences (optional) INoteSequences to convert with the model's
//     dataConverter.toTensor (returned as tensors [N][T][D]);
//   decode_depths (optional): return the decode as the argmax of each part
//     (tokens [N][T][K]) instead of the raw decoded tensor [N][T][D].
const path = require('path');
const fs = require('fs');
const [modules, url, inputPath] = process.argv.slice(2);
const tf = require(path.join(modules, '@tensorflow/tfjs'));
const mvae = require(path.join(modules, '@magenta/music/node/music_vae'));

function oneHots(tokens, depths) {
  return tf.tidy(() => {
    const t = tf.tensor3d(tokens, undefined, 'int32');
    const parts = tf.split(t, depths.length, 2);
    return tf.concat(parts.map((p, k) => tf.oneHot(p.squeeze([2]), depths[k])), 2).toFloat();
  });
}

function argmaxParts(decoded, depths) {
  return tf.tidy(() => tf.stack(
      tf.split(decoded, depths, 2).map((p) => p.argMax(2)), 2));
}

async function main() {
  await tf.setBackend('cpu');
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  const model = new mvae.MusicVAE(url);
  await model.initialize();
  const inputs = input.features ? tf.tensor3d(input.features) :
                                  oneHots(input.tokens, input.part_depths);
  let controlArgs;
  if (input.control_args) {
    controlArgs = {};
    if (input.control_args.chordProgression) {
      controlArgs.chordProgression = input.control_args.chordProgression;
    }
    if (input.control_args.extraControls) {
      controlArgs.extraControls = {};
      for (const [name, value] of Object.entries(input.control_args.extraControls)) {
        controlArgs.extraControls[name] = tf.tensor2d(value);
      }
    }
  }
  let mu;
  if (input.per_example) {
    const rows = [];
    for (let b = 0; b < inputs.shape[0]; ++b) {
      const one = inputs.slice([b, 0, 0], [1, -1, -1]);
      rows.push(await model.encodeTensors(one, controlArgs));
    }
    mu = tf.concat(rows, 0);
  } else {
    mu = await model.encodeTensors(inputs, controlArgs);
  }
  const out = {z_size: model.zDims, mu: await mu.array()};
  if (input.sequences) {
    out.mu_sequences = await (await model.encode(input.sequences, controlArgs)).array();
  }
  if (input.tensor_sequences) {
    out.tensors = [];
    for (const sequence of input.tensor_sequences) {
      out.tensors.push(await model.dataConverter.toTensor(sequence).array());
    }
  }
  const decoded = await model.decodeTensors(tf.tensor2d(input.z), undefined, controlArgs);
  out.decoded = await (input.decode_depths ? argmaxParts(decoded, input.decode_depths)
                                           : decoded).array();
  console.log('RESULT ' + JSON.stringify(out));
}

main().catch((error) => { console.error(error); process.exit(1); });
