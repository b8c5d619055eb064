import { readFileSync, writeFileSync } from 'node:fs';

import { CALIBRATED_POLICIES, calibrate, type CalibratedPolicy } from '../cache/calibrate.js';
import { BUNDLED_MODEL, modelFolder, MACHINE_OPTIONS, UsageError, applyMachineOptions, loadCliModel, intOption, numberOption, parse } from './common.js';
import { createProgress } from './progress.js';

export const CALIBRATE_HELP = `ditcache calibrate --prompts FILE --target-speedup X [--policy NAME] [options]

Runs uncached generations of the prompts (one per line), records at every step the signals the
caching policies decide on, and writes the policy's spec fitted to reach the target speedup on
them: AdaCache's codebook (with a MoReg normaliser fitted to these prompts), TeaCache's rescaling
polynomial (degree 4) and threshold, First-Block Cache's threshold, MagCache's magnitude ratios
(from the first prompt) and error threshold. The JSON is accepted by --cache.

  --policy NAME          adacache (default), teacache, fbcache, magcache
  --prompts FILE         one prompt per line
  --target-speedup X     wanted total steps / computed steps (e.g. 2.5)
  --steps N              sampling steps (default: the model's, 30)
  --no-moreg             calibrate the codebook without MoReg
  --model DIR|NAME       a folder or a bundled model's name; default: the bundled tiny model
  --out FILE             default codebook.json (adacache), else NAME.json
  --dtype f32|bf16     weights and GEMM/attention operands (default f32; bf16 runs on AMX tiles where the CPU has them)
  --threads N, --isa amx|avx512_bf16|avx512|avx2|portable`;

export function calibrateCommand(argv: string[]): number {
  const { values } = parse(argv, {
    policy: { type: 'string' },
    prompts: { type: 'string' },
    'target-speedup': { type: 'string' },
    steps: { type: 'string' },
    'no-moreg': { type: 'boolean' },
    model: { type: 'string' },
    out: { type: 'string' },
    ...MACHINE_OPTIONS,
  });
  if (values.help) {
    console.log(CALIBRATE_HELP);
    return 0;
  }
  if (!values.prompts) throw new UsageError('--prompts is required\n\n' + CALIBRATE_HELP);
  const target = numberOption(values['target-speedup'], 'target-speedup');
  if (target === undefined) throw new UsageError('--target-speedup is required\n\n' + CALIBRATE_HELP);
  const policy = (values.policy ?? 'adacache') as CalibratedPolicy;
  if (!CALIBRATED_POLICIES.includes(policy)) throw new UsageError(`--policy must be one of ${CALIBRATED_POLICIES.join(', ')}, got "${values.policy}"`);
  applyMachineOptions(values);
  const prompts = readFileSync(values.prompts, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const model = loadCliModel(modelFolder(values.model, BUNDLED_MODEL), values.dtype);
  const steps = intOption(values.steps, 'steps', model.config.scheduler.numSamplingSteps)!;
  const progress = createProgress({ total: prompts.length, label: 'recording uncached runs' });
  const r = calibrate(model, { policy, prompts, steps, targetSpeedup: target, moreg: !values['no-moreg'], onRun: (d) => progress.tick(d) });
  const out = values.out ?? (policy === 'adacache' ? 'codebook.json' : `${policy}.json`);
  writeFileSync(out, JSON.stringify(r.spec, null, 2) + '\n');
  progress.finish(
    `${policy} for ${target}× on ${prompts.length} prompts: predicted ${r.predictedSpeedup.toFixed(2)}× (computed steps ${r.predictedComputedSteps.join(', ')})${policy === 'adacache' ? `; median motion ${r.medianMotion.toFixed(3)}` : ''} → ${out}`,
  );
  model.dispose();
  return 0;
}
