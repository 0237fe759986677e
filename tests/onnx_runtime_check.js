// Runs an exported model in ONNX Runtime (npm onnxruntime-node) on a .npy batch of pixel values and compares
// its logits with minicnn's (`minicnn predict --logits`): the argmax of every image must agree and the largest
// difference must be at most 1e-4 of the logits' scale (their largest magnitude).
// Usage: node onnx_runtime_check.js MODEL.onnx IMAGES.npy MINICNN_LOGITS.npy
// onnxruntime-node is looked for in $MINICNN_ORT_DIR (the folder `npm install onnxruntime-node` ran in), then
// in Node's usual places. Prints one JSON line; exits 0 when the two agree, 1 when not, 2 on a usage error.
'use strict';
const fs = require('fs');
const path = require('path');

const kRelativeTolerance = 1e-4;

// A .npy file (versions 1-3, C order) as {shape, data: Float32Array}; float32, float64 and uint8 values.
function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x934e554d || b.toString('latin1', 4, 6) !== 'PY') {
    throw new Error(`${file}: not a .npy file (no \\x93NUMPY magic)`);
  }
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const count = shape.reduce((a, d) => a * d, 1);
  const body = b.subarray(start + headerLen);
  const data = new Float32Array(count);
  const read = {'<f4': (i) => body.readFloatLE(4 * i), '<f8': (i) => body.readDoubleLE(8 * i), '|u1': (i) => body[i]}[descr];
  if (!read) throw new Error(`${file}: dtype ${descr} is not supported (float32, float64 or uint8)`);
  for (let i = 0; i < count; ++i) data[i] = read(i);
  return {shape, data};
}

// onnxruntime-node and its version.
function loadOrt() {
  const places = [process.env.MINICNN_ORT_DIR, process.cwd()].filter(Boolean).map((p) => path.resolve(p));
  const paths = places.concat(module.paths);
  return {ort: require(require.resolve('onnxruntime-node', {paths})),
          version: require(require.resolve('onnxruntime-node/package.json', {paths})).version};
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; ++i) if (row[i] > row[best]) best = i;
  return best;
}

function compare(ours, theirs, N, classes) {
  let maxDiff = 0, scale = 0, agree = 0;
  for (let n = 0; n < N; ++n) {
    const a = ours.subarray(n * classes, (n + 1) * classes), b = theirs.subarray(n * classes, (n + 1) * classes);
    for (let c = 0; c < classes; ++c) {
      maxDiff = Math.max(maxDiff, Math.abs(a[c] - b[c]));
      scale = Math.max(scale, Math.abs(a[c]));
    }
    if (argmax(a) === argmax(b)) ++agree;
  }
  return {images: N, max_abs_diff: maxDiff, logit_scale: scale, max_rel_diff: scale > 0 ? maxDiff / scale : maxDiff,
          argmax_agree: agree};
}

async function main() {
  const [modelPath, imagesPath, logitsPath] = process.argv.slice(2);
  if (!logitsPath) {
    console.error('usage: node onnx_runtime_check.js MODEL.onnx IMAGES.npy MINICNN_LOGITS.npy');
    process.exit(2);
  }
  const {ort, version} = loadOrt();
  const images = readNpy(imagesPath);
  const shape = images.shape.length === 3 ? [images.shape[0], 1, images.shape[1], images.shape[2]] : images.shape;
  const reference = readNpy(logitsPath);
  const [N, classes] = reference.shape;
  if (shape[0] !== N) throw new Error(`${imagesPath} holds ${shape[0]} images but ${logitsPath} ${N} rows of logits`);
  const session = await ort.InferenceSession.create(modelPath);
  const result = await session.run({input: new ort.Tensor('float32', images.data, shape)});
  const logits = result.logits;
  if (logits.dims.length !== 2 || logits.dims[0] !== N || logits.dims[1] !== classes) {
    throw new Error(`ONNX Runtime gives logits of shape [${logits.dims}], but minicnn [${N}, ${classes}]`);
  }
  const r = compare(reference.data, logits.data, N, classes);
  r.ok = r.argmax_agree === N && r.max_rel_diff <= kRelativeTolerance;
  r.onnxruntime = version;
  console.log(JSON.stringify(r));
  process.exit(r.ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`onnx_runtime_check: ${e.message}`);
  process.exit(1);
});
