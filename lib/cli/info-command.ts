import { loadModel } from '../models/stdit3/model.js';
import { headDim, outChannels } from '../models/stdit3/config.js';
import { runtime } from '../runtime.js';
import { BUNDLED_MODEL, modelFolder, parse } from './common.js';

export const INFO_HELP = `ditcache info [--model DIR|NAME]

Prints the model's configuration, parameter count and memory estimate, and this machine's backends.`;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export function infoCommand(argv: string[]): number {
  const { values } = parse(argv, { model: { type: 'string' } });
  if (values.help) {
    console.log(INFO_HELP);
    return 0;
  }
  const dir = modelFolder(values.model, BUNDLED_MODEL);
  const model = loadModel(dir);
  const c = model.config;
  const [T, H, W] = c.latentBuckets[0]!;
  const [pt, ph, pw] = c.patchSize;
  const tokens = Math.ceil(T / pt) * Math.ceil(H / ph) * Math.ceil(W / pw);
  const params = model.parameterCount;
  const act = 2 * tokens * c.hiddenSize * 4; // one CFG-batch activation [2, N, C] in f32
  const peak = act * (3 + 4 + 4) + 2 * tokens * 3 * c.hiddenSize * 4; // x, residual, norm out, qkv, MLP hidden
  console.log(`model      ${dir}`);
  console.log(`           STDiT3, hidden ${c.hiddenSize}, depth ${c.depth}+${c.depth}, ${c.numHeads} heads (head_dim ${headDim(c)}), mlp ×${c.mlpRatio}`);
  console.log(`           patch ${c.patchSize.join('×')}, in ${c.inChannels} → out ${outChannels(c)} channels, caption ${c.captionChannels}×${c.modelMaxLength}`);
  console.log(`           temporal attention ${c.causalTemporal ? 'causal (Ca2-VDM)' : 'bidirectional'}; sampling ${c.scheduler.numSamplingSteps} steps, CFG ${c.scheduler.cfgScale}`);
  console.log(`parameters ${params.toLocaleString('en-US')} (${mib(params * 4)} in f32)`);
  console.log(`memory     ~${mib(params * 4 + peak)} for a ${T}×${H}×${W} latent with CFG (${tokens} tokens per video); AdaCache adds ${mib(2 * act)} (summed residual + probe slot)`);
  console.log(`backends   ${runtime.backends().map((b) => b.name).join('; ')} — build ${runtime.buildInfo()}`);
  const cuda = runtime.deviceUnavailableReason('cuda');
  console.log(`cuda       ${cuda === null ? 'available' : `unavailable: ${cuda}`}`);
  console.log(`kernels    ${runtime.isa().dispatch}`);
  model.dispose();
  return 0;
}
