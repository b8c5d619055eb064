import { SafetensorsReader, writeSafetensors } from '../io/safetensors.js';
import { CausalSTDiT2 } from '../models/causal-stdit2/model.js';
import { modelTypeOf, openModel } from '../models/open.js';
import type { Tensor } from '../tensor.js';
import { Scope } from '../util/scope.js';
import { BUNDLED_MODEL, MACHINE_OPTIONS, UsageError, applyMachineOptions, modelFolder, parse } from './common.js';

/** The arguments of each model's official forward, as the inputs file names them. */
const INPUTS = {
  STDiT3: ['x', 'timestep', 'y', 'mask', 'x_mask', 'fps', 'height', 'width'],
  CausalSTDiT2: ['x', 'timestep', 'y', 'mask', 'mask_channel', 'x_temporal_start'],
} as const;

export const FORWARD_HELP = `ditcache forward --model DIR|NAME --inputs IN.safetensors --out OUT.safetensors

One model call, for comparing against a reference implementation. The inputs file holds the
arguments of the model's official forward by their names; the output is written as "out".

  STDiT3:        x, timestep, y, mask, x_mask, fps, height, width
  CausalSTDiT2:  x, timestep ([B] or [B, T]), y, mask, mask_channel, x_temporal_start

  --model DIR|NAME  a checkpoint folder (config.json + model.safetensors or its sharded index), or a
                    bundled model's name
  --threads N, --isa amx|avx512_bf16|avx512|avx2|portable`;

export async function forwardCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { model: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' }, ...MACHINE_OPTIONS });
  if (values.help) {
    console.log(FORWARD_HELP);
    return 0;
  }
  for (const k of ['model', 'inputs', 'out'] as const) if (!values[k]) throw new UsageError(`--${k} is required\n\n${FORWARD_HELP}`);
  applyMachineOptions(values);
  const dir = modelFolder(values.model, BUNDLED_MODEL);
  const type = modelTypeOf(dir);
  const allowed: readonly string[] = INPUTS[type];
  const reader = SafetensorsReader.open(values.inputs!);
  using scope = new Scope();
  const tensors: Record<string, Tensor> = {};
  let start: number | undefined;
  try {
    for (const name of reader.entries.keys()) {
      if (!allowed.includes(name)) throw new UsageError(`--inputs: "${name}" is not an argument of ${type}.forward; expected ${allowed.join(', ')}`);
      if (name === 'x_temporal_start') start = reader.float32(name)[0];
      else tensors[name] = scope.add(reader.tensor(name));
    }
  } finally {
    reader.close();
  }
  const { x, timestep, ...rest } = tensors;
  if (!x || !timestep) throw new UsageError('--inputs must hold at least x and timestep');
  const model = scope.add(openModel(dir));
  const started = performance.now();
  const out = scope.add(
    model instanceof CausalSTDiT2
      ? model.forward({ x, timestep, ...rest, ...(start !== undefined ? { x_temporal_start: start } : {}) })
      : model.forward({ x, timestep, ...rest }),
  );
  const ms = performance.now() - started;
  writeSafetensors(values.out!, { out: { dtype: 'F32', shape: [...out.shape], data: out.toFloat32Array() } }, { format: 'ditcache-forward' });
  console.log(`${type} forward: [${out.shape}] in ${ms.toFixed(0)} ms → ${values.out}`);
  return 0;
}
