// face-api's own end-to-end pipeline (its SSD MobileNet detector, its crop, its expression
// network; @vladmandic/face-api 1.7.15 on TensorFlow.js 4.22, pure-JS CPU backend) on raw
// frames: the reference of reference/face_api_agreement.py.
//
// Usage: node face_api_pipeline.cjs MODEL_DIR JOB_DIR
// JOB_DIR holds `<frame>.u8` (RGB bytes) with `<frame>.json` ([h, w, 3]); prints one line per
// detected face: `<frame> <expression> <probability> <x> <y> <w> <h>`.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

async function main() {
  const [modelDir, jobDir] = process.argv.slice(2);
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  for (const file of fs.readdirSync(jobDir).filter((f) => f.endsWith('.u8')).sort()) {
    const shape = JSON.parse(fs.readFileSync(path.join(jobDir, file.replace('.u8', '.json'))));
    const image = tf.tensor3d(new Uint8Array(fs.readFileSync(path.join(jobDir, file))), shape, 'int32');
    const faces = await faceapi.detectAllFaces(image, options).withFaceExpressions();
    for (const f of faces) {
      const [best] = f.expressions.asSortedArray();
      const b = f.detection.box;
      console.log([file.slice(0, -3), best.expression, best.probability.toFixed(4),
        b.x.toFixed(1), b.y.toFixed(1), b.width.toFixed(1), b.height.toFixed(1)].join(' '));
    }
    image.dispose();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
