// An ES module consumer of the installed package: the main entry and ditcache/bench.
import { bundledModel, generate, loadModel, ops, runtime, tensor } from 'ditcache';
import { fmaPeak, timed } from 'ditcache/bench';

const model = loadModel(bundledModel('stdit3-tiny'));
const { latent, trace } = await generate(model, { prompt: 'a red circle moving right quickly on night', steps: 4, cache: 'fixed-2' });
const x = tensor(new Float32Array([1, 2, 3, 4]), [1, 4]);
const y = ops.softmax(x);
const runs = timed.softmax(3, x);
if (latent.shape.length !== 5 || trace.computedSteps.length !== 2 || runs.length !== 3 || !(fmaPeak(1, 0.01) > 0)) {
  throw new Error('unexpected results from the installed package');
}
console.log(`esm: ditcache ${runtime.version()}, latent [${latent.shape}], softmax sums to ${y.toFloat32Array().reduce((a, b) => a + b, 0).toFixed(3)}`);
for (const t of [latent, x, y]) t.dispose();
model.dispose();
