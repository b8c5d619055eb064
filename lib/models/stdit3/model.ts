// The STDiT3 graph (Open-Sora 1.2) on the native ops.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { keepGroup, keepHistory, keepRows, keptRows, measure, observeProbe, rowSlot } from '../../cache/kept.js';
import { blockName, type Observation, ResidualCache, type RowOutcome, RowTensor, type StepPlan, rowFlags } from '../../cache/plan.js';
import { RowPick } from '../../cache/rows.js';
import { openCheckpoint } from '../../io/checkpoint.js';
import { ops } from '../../ops/index.js';
import { empty, isTensor, tensor, zeros, type Device, type DType, type Tensor } from '../../tensor.js';
import { Scope } from '../../util/scope.js';
import type { TemporalKvHooks } from '../layers/attention.js';
import { CaptionState, embedScalars, captionKeyMask, encodeCaptionKv, siluLinear, tableModulation } from '../layers/conditioning.js';
import { positionEmbedding2D } from '../layers/sinusoid.js';
import { blockForward, computeDtype, modulationRow, type BlockReuse, type Grid } from './block.js';
import { ConfigError, outChannels, parseConfig, type STDiT3Config } from './config.js';
import { loadWeights, weightTensors, type LoadOptions, type STDiT3Weights } from './weights.js';

type Numbers = number | ArrayLike<number> | Tensor;

export interface ForwardInputs {
  /** [B, C_in, T, H, W] noisy latent */
  x: Tensor;
  /** [B] diffusion time in [0, 1000] */
  timestep: Numbers;
  /** [B, 1, L, caption_channels] caption embeddings (or pass `caption` from encodeCaption) */
  y?: Tensor;
  /** [b, L] with b dividing B: 1 = word, 0 = padding; default all words */
  mask?: Tensor | ArrayLike<number>[];
  caption?: CaptionState;
  /** [B] or one value (default the config's nominal 24) */
  fps?: Numbers;
  /** nominal pixel height/width (default 8 × latent size); only the first value is used */
  height?: Numbers;
  width?: Numbers;
  /** [B, T] (a tensor or rows): true = noisy frame (timestep), false = clean conditioning frame (timestep 0) */
  x_mask?: Tensor | ArrayLike<boolean | number>[];
}

export { CaptionState } from '../layers/conditioning.js';
export type { TemporalKvHooks } from '../layers/attention.js';

export interface RunOptions {
  /** Return only the first C_in output channels (the rectified-flow velocity). */
  velocityOnly?: boolean;
  /** Caching decision of this step (default: compute, no probes). */
  plan?: StepPlan;
  residualCache?: ResidualCache;
  /** Keep the stack residual of the rows that compute, for rows that reuse it later (default: with a residual cache). */
  keepStack?: boolean;
  temporalKv?: TemporalKvHooks;
  /** Stop after the blocks (a cache-writing pass needs only the K/V hooks). */
  blocksOnly?: boolean;
}

export interface RunResult {
  out: Tensor | null;
  observations: Observation[];
  /** per row of the batch */
  rows: RowOutcome[];
}

const COMPUTE_ALL: StepPlan = Object.freeze({ compute: true, probes: Object.freeze([]) });

/** What the blocks of one model call share. */
interface BlockStage {
  modRows: Tensor;
  caption: CaptionState;
  grid: Grid;
  /** the rows of the plan's batch this call runs */
  pick: RowPick;
  plan: StepPlan;
  cache: ResidualCache | undefined;
  options: RunOptions;
  scope: Scope;
  observations: Observation[];
}


function hostNumbers(v: Numbers | undefined, n: number, fallback: number, name: string): Float32Array {
  if (v === undefined) return new Float32Array(n).fill(fallback);
  if (typeof v === 'number') return new Float32Array(n).fill(v);
  const arr = isTensor(v) ? v.toFloat32Array() : Float32Array.from(v);
  if (arr.length === n) return arr;
  if (arr.length > 0 && n % arr.length === 0) return Float32Array.from({ length: n }, (_, i) => arr[i % arr.length]!);
  throw new RangeError(`${name}: expected ${n} values (or a divisor of ${n}), got ${arr.length}`);
}

export class STDiT3 {
  readonly config: STDiT3Config;
  readonly weights: STDiT3Weights;
  readonly device: Device;
  readonly dir: string | undefined;
  #posCache = new Map<string, Tensor>();

  constructor(config: STDiT3Config, weights: STDiT3Weights, device: Device, dir?: string) {
    this.config = config;
    this.weights = weights;
    this.device = device;
    this.dir = dir;
  }

  /** Trained parameters (the null caption and the RoPE frequencies are fixed buffers). */
  /** dtype of the activations that meet the weights ('bf16' for a model loaded with dtype 'bf16'). */
  get dtype(): DType {
    return computeDtype(this.weights.spatial[0]!);
  }

  get parameterCount(): number {
    const buffers = this.weights.yNull.numel + this.weights.ropeFreqs.numel;
    return weightTensors(this.weights).reduce((n, t) => n + t.numel, 0) - buffers;
  }

  dispose(): void {
    for (const t of weightTensors(this.weights)) t.dispose();
    for (const t of this.#posCache.values()) t.dispose();
    this.#posCache.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** y_proj(y) and every block's caption K/V (spatial block i at 2i, temporal at 2i + 1), the key mask repeated to the batch. */
  encodeCaption(y: Tensor, mask?: Tensor | ArrayLike<number>[]): CaptionState {
    const { captionChannels: Cc, modelMaxLength } = this.config;
    const keyMask = captionKeyMask(y, mask, Cc, modelMaxLength);
    const w = this.weights;
    const layers = w.spatial.flatMap((s, i) => [s, w.temporal[i]!]).map((b) => ({ kv: b.crossKv, dtype: computeDtype(b) }));
    return encodeCaptionKv(y, keyMask, w.yProj, layers);
  }

  /** One model call: out [B, out_channels, T, H, W] (pred_sigma: the first C_in channels are the velocity). */
  forward(inputs: ForwardInputs): Tensor {
    return this.run(inputs, {}).out!;
  }

  run(inputs: ForwardInputs, options: RunOptions): RunResult {
    const cfg = this.config;
    const { x } = inputs;
    if (!isTensor(x) || x.shape.length !== 5 || x.shape[1] !== cfg.inChannels) {
      throw new RangeError(`x: expected [B, ${cfg.inChannels}, T, H, W], got ${isTensor(x) ? `[${x.shape}]` : typeof x}`);
    }
    const B = x.shape[0]!;
    const plan = options.plan ?? COMPUTE_ALL;
    const present = rowFlags(plan.present, B, true);
    if (present.every(Boolean)) return this.#run(inputs, options, plan, RowPick.all(B));

    // Absent rows do not run at all: the present ones run as a smaller batch, and the output
    // holds zeros in the absent rows.
    const pick = RowPick.where(present);
    const velocityOnly = options.velocityOnly === true;
    const [, , T, H, W] = x.shape as [number, number, number, number, number];
    const out = options.blocksOnly ? null : zeros([B, velocityOnly ? cfg.inChannels : outChannels(cfg), T, H, W], { dtype: x.dtype, device: x.device });
    if (pick.size === 0) return { out, observations: [], rows: present.map(() => 'absent' as const) };
    using scope = new Scope();
    const caption = inputs.caption ?? scope.add(this.encodeCaptionFromInputs(inputs));
    if (caption.batch !== B) throw new RangeError(`caption: batch ${caption.batch} does not match x batch ${B}`);
    const subset = (v: Numbers | undefined, fallback: number, name: string) => {
      if (v === undefined) return undefined;
      const all = hostNumbers(v, B, fallback, name);
      return Float32Array.from(pick.ids, (r) => all[r]!);
    };
    const part: ForwardInputs = {
      x: scope.add(pick.take(x)),
      timestep: subset(inputs.timestep, NaN, 'timestep')!,
      caption: caption.select(pick),
      fps: subset(inputs.fps, 24, 'fps'),
      height: inputs.height,
      width: inputs.width,
      ...(inputs.x_mask ? { x_mask: pickFrames(frameMask(inputs.x_mask, B, T), pick, T) } : {}),
    };
    const r = this.#run(part, options, plan, pick);
    if (out && r.out) {
      pick.put(out, r.out);
      r.out.dispose();
    }
    return { ...r, out };
  }

  /** One model call over the rows `pick` of the batch the plan speaks of (inputs hold those rows only). */
  #run(inputs: ForwardInputs, options: RunOptions, plan: StepPlan, pick: RowPick): RunResult {
    const cfg = this.config;
    const { x } = inputs;
    const [B, , T, H, W] = x.shape as [number, number, number, number, number];
    const [pt, ph, pw] = cfg.patchSize;
    const Tp = Math.ceil(T / pt), Hp = Math.ceil(H / ph), Wp = Math.ceil(W / pw);
    const S = Hp * Wp, N = Tp * S, C = cfg.hiddenSize;
    const timestep = hostNumbers(inputs.timestep, B, NaN, 'timestep');
    if (timestep.some((t) => !Number.isFinite(t))) throw new TypeError('timestep: expected B finite values');
    const fps = hostNumbers(inputs.fps, B, 24, 'fps');
    const height = hostNumbers(inputs.height, B, 8 * H, 'height')[0]!;
    const width = hostNumbers(inputs.width, B, 8 * W, 'width')[0]!;
    const xMask = inputs.x_mask ? frameMask(inputs.x_mask, B, T) : null;
    if (xMask && pt !== 1) throw new RangeError('x_mask needs a temporal patch size of 1');

    using scope = new Scope();
    const caption = inputs.caption ?? scope.add(this.encodeCaptionFromInputs(inputs));
    if (caption.batch !== B) throw new RangeError(`caption: batch ${caption.batch} does not match x batch ${B}`);
    const w = this.weights;

    // Patch embedding + 2D position embedding (the same for every frame).
    const tokens = scope.add(ops.patchify(x, cfg.patchSize));
    const xe = scope.add(ops.gemm(tokens, w.patchEmbed.weight, { bias: w.patchEmbed.bias }));
    const xs = scope.add(xe.view([B * N, C]));
    const pos = this.positionEmbedding(Hp, Wp, height, width);
    const posRows = scope.add(pos.view([B * Tp, S, C], { strides: [0, C, 1] }));
    const xFrames = scope.add(xs.view([B * Tp, S, C]));
    ops.add(xFrames, posRows, { out: xFrames });

    // Timestep / fps conditioning; with an x_mask, per-frame rows choosing timestep or 0.
    const t = scope.add(this.timeEmbedding(timestep, fps));
    const tMlp = scope.add(this.tBlock(t));
    let modRows = tMlp; // [G, 6C]
    let t0: Tensor | null = null;
    if (xMask) {
      t0 = scope.add(this.timeEmbedding(new Float32Array(B), fps));
      const t0Mlp = scope.add(this.tBlock(t0));
      modRows = scope.add(selectFrames(tMlp, t0Mlp, xMask, B, T));
    }

    const cache = options.residualCache;
    const keepStack = cache !== undefined && options.keepStack !== false;
    const R = pick.total;
    const stage: BlockStage = { modRows, caption, grid: { B, T: Tp, S, C, heads: cfg.numHeads }, pick, plan, cache, options, scope, observations: [] };

    // Leading blocks every present row runs (First-Block Cache's head), and the gate's signal.
    const head = plan.head ?? 0;
    if (!Number.isInteger(head) || head < 0 || head > 2 * cfg.depth) throw new RangeError(`plan.head must be an integer in [0, ${2 * cfg.depth}], got ${head}`);
    const compute = rowFlags(plan.compute, R, true);
    let headIn: Tensor | null = null;
    if (plan.gate?.signal === 'head-residual') {
      if (head === 0) throw new RangeError("a 'head-residual' gate needs plan.head >= 1");
      headIn = scope.add(xs.clone());
    }
    if (head > 0) this.#blocks(0, head, xs, RowPick.all(B), stage);
    if (plan.gate) {
      if (!cache) throw new Error('a gate needs a residual cache');
      let signal: Tensor;
      if (plan.gate.signal === 'modulated-input') {
        // TeaCache: t2i_modulate(norm1(x), shift_msa, scale_msa) of spatial block 0, modulated by t_mlp.
        const mods = scope.add(this.blockModulation(tMlp, w.spatial[0]!.scaleShiftTable));
        signal = scope.add(ops.layerNorm(xs, { shift: scope.add(modulationRow(mods, 0)), scale: scope.add(modulationRow(mods, 1)) }));
      } else {
        signal = scope.add(ops.axpby(1, xs, -1, headIn!));
      }
      const slot = rowSlot(cache.gates, plan.gate.signal, signal, pick.size, R);
      const always = plan.gate.signal === 'modulated-input';
      const groups = plan.gate.groups.map((g) => pick.within(g));
      const changes = groups.map((g) => (g ? measure(slot, signal, pick, g, 'l1', always) : undefined));
      const decided = plan.gate.decide(changes);
      if (decided.length !== groups.length) throw new RangeError(`gate: decide() returned ${decided.length} decisions for ${groups.length} groups`);
      groups.forEach((g, i) => {
        if (!g) return;
        for (const r of g.rows) compute[r] = decided[i]!;
        // The head residual compared against is that of the group's last computed step.
        if (!always && (decided[i] || changes[i] === null)) keepGroup(slot, signal, pick, g);
      });
    }

    // The rest of the stack: rows that compute run it, the others add their kept stack residual.
    const runs = RowPick.where(pick.ids.map((r) => compute[r]!));
    const reuses = RowPick.where(pick.ids.map((r) => !compute[r]!));
    if (runs.size > 0) {
      const part = runs.isAll ? xs : scope.add(runs.take(xs));
      const xIn = keepStack ? scope.add(part.clone()) : null;
      this.#blocks(head, 2 * cfg.depth, part, runs, stage);
      if (cache && xIn) {
        const rows = pick.map(runs);
        cache.stack ??= new RowTensor(empty([R * N, C], { dtype: xs.dtype, device: xs.device }), R);
        if (rows.consecutive) {
          using dst = rows.take(cache.stack.tensor);
          ops.axpby(1, part, -1, xIn, { out: dst });
        } else {
          using diff = ops.axpby(1, part, -1, xIn);
          rows.put(cache.stack.tensor, diff);
        }
        for (const r of rows.ids) cache.stack.filled[r] = 1;
      }
      if (!runs.consecutive) runs.put(xs, part);
    }
    if (reuses.size > 0) {
      const rows = pick.map(reuses);
      if (!cache?.stack?.has(rows.ids)) throw new Error('a cached step needs a residual cache filled by an earlier computed step');
      using kept = rows.consecutive ? rows.take(cache.stack.tensor) : null;
      const stack = kept ?? scope.add(rows.take(cache.stack.tensor));
      if (reuses.consecutive) {
        using part = reuses.take(xs);
        ops.add(part, stack, { out: part });
      } else {
        using part = reuses.take(xs);
        ops.add(part, stack, { out: part });
        reuses.put(xs, part);
      }
    }
    const rowOutcome: RowOutcome[] = new Array<RowOutcome>(R).fill('absent');
    for (const r of pick.ids) rowOutcome[r] = compute[r] ? 'compute' : 'reuse';
    if (options.blocksOnly) return { out: null, observations: stage.observations, rows: rowOutcome };

    // Final layer: t2i modulation by t (not t_mlp); clean frames are normalised and modulated again by t0.
    const fmods = scope.add(this.finalModulation(t));
    const o = scope.add(ops.layerNorm(xs, { shift: scope.add(modulationRow(fmods, 0)), scale: scope.add(modulationRow(fmods, 1)), dtype: this.dtype }));
    if (xMask && t0) {
      const f0 = scope.add(this.finalModulation(t0));
      for (const [b, t0f, t1f] of cleanRuns(xMask, B, T)) {
        const rows = scope.add(o.view([(t1f - t0f) * S, C], { offset: (b * N + t0f * S) * C }));
        const shift = scope.add(f0.view([1, C], { offset: b * 2 * C }));
        const scale = scope.add(f0.view([1, C], { offset: b * 2 * C + C }));
        ops.layerNorm(rows, { shift, scale, out: rows });
      }
    }
    const lin = scope.add(ops.gemm(o, w.finalLinear.weight, { bias: w.finalLinear.bias, dtype: xs.dtype }));
    const cout = options.velocityOnly ? cfg.inChannels : outChannels(cfg);
    const out = ops.unpatchify(scope.add(lin.view([B, N, lin.shape[1]!])), cfg.patchSize, [B, cout, T, H, W]);
    return { out, observations: stage.observations, rows: rowOutcome };
  }

  /**
   * Blocks at forward positions [from, to) (spatial i at 2i, temporal i at 2i + 1) on x, which
   * holds the rows `rows` of the stage's batch, in place.
   */
  #blocks(from: number, to: number, x: Tensor, rows: RowPick, stage: BlockStage): void {
    const w = this.weights;
    const { plan, cache, scope, grid } = stage;
    const full = stage.pick.map(rows);
    const all = rows.isAll;
    const caption = all ? stage.caption : stage.caption.select(rows);
    const g: Grid = { ...grid, B: rows.size };
    const hooks = stage.options.temporalKv;
    for (let p = from; p < to; p++) {
      const i = p >> 1;
      const kind = p % 2 === 0 ? ('spatial' as const) : ('temporal' as const);
      const blk = kind === 'spatial' ? w.spatial[i]! : w.temporal[i]!;
      const allMods = scope.add(this.blockModulation(stage.modRows, blk.scaleShiftTable));
      const mods = all ? allMods : scope.add(rows.take(allMods));
      const probes = plan.probes.filter((q) => q.kind === kind && q.index === i);
      const bp = plan.blocks?.(kind, i);
      const name = blockName(kind, i);
      const kept = (what: string) => cache?.branches.get(`${name}:${what}`);
      const reuse: BlockReuse = {};
      if (bp?.attn === 'reuse') reuse.attnRes = scope.add(keptRows(kept('attn'), full, `${name} self-attention`));
      else if (bp?.attn) {
        const o1 = scope.add(keptRows(kept('attn-1'), full, `${name} self-attention`));
        const o0 = scope.add(keptRows(kept('attn-0'), full, `${name} self-attention`));
        reuse.attnOut = scope.add(ops.axpby(1 + bp.attn.extrapolate, o1, -bp.attn.extrapolate, o0));
      }
      if (bp?.cross === 'reuse') reuse.crossRes = scope.add(keptRows(kept('cross'), full, `${name} cross-attention`));
      const keep = bp?.keep ?? {};
      const want = {
        attnRes: probes.some((q) => q.branch === 'attn') || (keep.attn === 'gated' && !reuse.attnRes && !reuse.attnOut),
        attnOut: keep.attn === 'history' && !reuse.attnRes && !reuse.attnOut,
        caMlpRes: probes.some((q) => q.branch === 'ca-mlp'),
        crossRes: keep.cross === true && !reuse.crossRes,
      };
      const temporal =
        kind === 'temporal'
          ? {
              causal: this.config.causalTemporal,
              ropeFreqs: w.ropeFreqs,
              prefix: hooks?.prefix?.(i),
              onKv: hooks?.onKv ? (b: number, k: Tensor, v: Tensor) => hooks.onKv!(i, b, k, v) : undefined,
              rows: full.ids,
            }
          : null;
      const before = probes.some((q) => q.branch === 'block') ? scope.add(x.clone()) : null;
      const res = blockForward(x, blk, g, mods, caption.cross[2 * i + (kind === 'spatial' ? 0 : 1)]!, temporal, want, reuse);
      using blockRes = before ? ops.axpby(1, x, -1, before) : null;
      for (const probe of probes) {
        const fresh =
          probe.branch === 'block' ? blockRes! : probe.branch === 'attn' ? (reuse.attnRes || reuse.attnOut ? undefined : res.attnRes) : res.caMlpRes;
        if (!fresh) continue; // a reused branch has nothing new to measure
        const o = observeProbe(probe, fresh, cache, full, g.T);
        if (o) stage.observations.push(o);
      }
      if (cache) {
        const R = full.total;
        if (keep.attn === 'gated' && res.attnRes && want.attnRes) keepRows(rowSlot(cache.branches, `${name}:attn`, res.attnRes, full.size, R), res.attnRes, full, plan.follow);
        if (want.attnOut && res.attnOut) keepHistory(cache.branches, `${name}:attn`, res.attnOut, full, R, plan.follow);
        if (want.crossRes && res.crossRes) keepRows(rowSlot(cache.branches, `${name}:cross`, res.crossRes, full.size, R), res.crossRes, full, plan.follow);
      }
      res.attnRes?.dispose();
      res.attnOut?.dispose();
      res.caMlpRes?.dispose();
      res.crossRes?.dispose();
    }
  }

  private encodeCaptionFromInputs(inputs: ForwardInputs): CaptionState {
    if (!inputs.y) throw new TypeError('forward: give y (and mask) or a caption from encodeCaption()');
    return this.encodeCaption(inputs.y, inputs.mask);
  }

  /** t_embedder(timestep) + fps_embedder(fps), [B, C]. */
  private timeEmbedding(timestep: Float32Array, fps: Float32Array): Tensor {
    const t = embedScalars(timestep, this.weights.tEmbed, this.device);
    return embedScalars(fps, this.weights.fpsEmbed, this.device, t);
  }

  /** t_block(t) = Linear(SiLU(t)), [B, 6C]. */
  private tBlock(t: Tensor): Tensor {
    return siluLinear(t, this.weights.tBlock);
  }

  /** scale_shift_table + rows: [G, 6, C]. */
  private blockModulation(rows: Tensor, table: Tensor): Tensor {
    return tableModulation(rows, table);
  }

  /** final scale_shift_table + t: [B, 2, C] (row 0 shift, row 1 scale). */
  private finalModulation(t: Tensor): Tensor {
    return tableModulation(t, this.weights.finalScaleShift, true);
  }

  private positionEmbedding(Hp: number, Wp: number, height: number, width: number): Tensor {
    const key = `${Hp}x${Wp}@${height}x${width}`;
    let pos = this.#posCache.get(key);
    if (!pos) {
      const C = this.config.hiddenSize;
      pos = tensor(positionEmbedding2D(C, Hp, Wp, height, width, this.config.inputSqSize), [Hp * Wp, C], { device: this.device });
      this.#posCache.set(key, pos);
    }
    return pos;
  }
}

function frameMask(xMask: Tensor | ArrayLike<boolean | number>[], B: number, T: number): Uint8Array {
  if (isTensor(xMask)) {
    if (xMask.shape.length !== 2 || xMask.shape[0] !== B || xMask.shape[1] !== T) throw new RangeError(`x_mask: expected [${B}, ${T}], got [${xMask.shape}]`);
    return Uint8Array.from(xMask.toFloat32Array(), (v) => (v !== 0 ? 1 : 0));
  }
  if (!Array.isArray(xMask) || xMask.length !== B || xMask.some((r) => r.length !== T)) {
    throw new RangeError(`x_mask: expected ${B} rows of ${T} frames`);
  }
  return Uint8Array.from(xMask.flatMap((r) => Array.from(r, (v) => (v ? 1 : 0))));
}

function pickFrames(mask: Uint8Array, pick: RowPick, T: number): Uint8Array[] {
  return pick.ids.map((r) => mask.subarray(r * T, (r + 1) * T));
}

/** Per-frame rows [B·T, K]: frame (b, t) takes a[b] when xMask is set, else b0[b]. */
function selectFrames(a: Tensor, b0: Tensor, xMask: Uint8Array, B: number, T: number): Tensor {
  const K = a.shape[1]!;
  const ha = a.toFloat32Array(), hb = b0.toFloat32Array();
  const out = new Float32Array(B * T * K);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = xMask[b * T + t] ? ha : hb;
      out.set(src.subarray(b * K, (b + 1) * K), (b * T + t) * K);
    }
  }
  return tensor(out, [B * T, K], { device: a.device });
}

/** Runs of clean frames: [b, first, end) for every maximal run with xMask false. */
function cleanRuns(xMask: Uint8Array, B: number, T: number): [number, number, number][] {
  const runs: [number, number, number][] = [];
  for (let b = 0; b < B; b++) {
    let t = 0;
    while (t < T) {
      if (xMask[b * T + t]) {
        t++;
        continue;
      }
      const start = t;
      while (t < T && !xMask[b * T + t]) t++;
      runs.push([b, start, t]);
    }
  }
  return runs;
}

export type LoadModelOptions = LoadOptions;

/** Loads an STDiT3 checkpoint folder: config.json + model.safetensors (or its sharded index). */
export function loadModel(dir: string, options: LoadModelOptions = {}): STDiT3 {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read ${join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  if ((json as { model_type?: unknown } | null)?.model_type === 'CausalSTDiT2') {
    throw new ConfigError(`${dir} holds a CausalSTDiT2 (Ca2-VDM): load it with loadCausalSTDiT2() or openModel()`);
  }
  const config = parseConfig(json, (m) => process.emitWarning(m, 'ConfigWarning'));
  const reader = openCheckpoint(dir);
  try {
    return new STDiT3(config, loadWeights(reader, config, options), options.device ?? 'cpu', dir);
  } finally {
    reader.close();
  }
}

