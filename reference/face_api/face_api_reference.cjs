// The reference side of reference/convert_face_api.py: runs face-api's own networks
// (@vladmandic/face-api 1.7.15 on TensorFlow.js 4.22, pure-JS CPU backend) on given inputs.
//
// Usage: node face_api_reference.cjs MODEL_DIR JOB_DIR
// JOB_DIR holds `<net>.<case>.f32` files (float32 little-endian NHWC RGB in 0..255, with a
// `<net>.<case>.shape.json` [n, h, w, 3]); for each, `<net>.<case>.out.f32` is written: the
// expression net's probabilities [n, 7] or the recognition net's descriptors [n, 128].
// <net> is `expression` (112x112 input) or `recognition` (150x150 input).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

async function main() {
  const [modelDir, jobDir] = process.argv.slice(2);
  // The pure-JS CPU kernels: the reference numerics of TensorFlow.js (no native binary needed).
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const jobs = fs.readdirSync(jobDir).filter((f) => /^(expression|recognition)\.[\w-]+\.f32$/.test(f));
  for (const file of jobs.sort()) {
    const base = file.slice(0, -4);
    const shape = JSON.parse(fs.readFileSync(path.join(jobDir, `${base}.shape.json`)));
    const buf = fs.readFileSync(path.join(jobDir, file));
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const batch = tf.tensor4d(data, shape, 'float32');
    // One tensor per face, as face-api's callers pass them (NetInput takes a list of images).
    const faces = tf.unstack(batch);
    const input = await faceapi.toNetInput(faces);
    const net = base.startsWith('expression') ? faceapi.nets.faceExpressionNet : faceapi.nets.faceRecognitionNet;
    const out = net.forwardInput(input);
    const values = await out.data();
    fs.writeFileSync(path.join(jobDir, `${base}.out.f32`), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    console.log(`${base}: [${shape}] -> [${out.shape}] (${tf.getBackend()})`);
    tf.dispose([batch, out, ...faces]);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
