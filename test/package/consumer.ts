// A TypeScript consumer under module nodenext and strict: the published types, presets as a union.
import { bundledModel, generateSteps, loadModel, type CacheOption, type PresetName } from 'ditcache';
import { timed } from 'ditcache/bench';

const preset: PresetName = 'adacache-fast';
// @ts-expect-error: a misspelt preset does not compile
const misspelt: PresetName = 'adacache-fastt';
const cache: CacheOption = { kind: 'module', module: './my-policy.mjs', options: { interval: 2 } };

export async function steps(): Promise<number> {
  const model = loadModel(bundledModel('stdit3-tiny'));
  let n = 0;
  for await (const step of generateSteps(model, { prompt: 'a red circle resting on night', steps: 2, cache: preset })) n += step.step;
  model.dispose();
  return n + timed.softmax.length + String(misspelt).length + JSON.stringify(cache).length;
}
