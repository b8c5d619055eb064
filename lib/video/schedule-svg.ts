// A caching schedule as a self-contained SVG chart: the policy's signal (and the value its decision
// compares, with the threshold) against the left axis, AdaCache's cache rate against the right
// axis, and strips under the plot marking which steps ran the model and which reused the cache —
// one strip per batch row when rows decide apart — and the share of the block work each step did.
// Data elements carry a class (distance, distance-reg, threshold, rate, computed, cached,
// predicted, work) for styling and inspection.
import { niceTicks } from './axis-ticks.js';

export interface ScheduleEvaluation {
  /** 1-based denoising step at which the distance was measured. */
  step: number;
  distance: number;
  /** The distance after regularisation (MoReg), when the run regularises. */
  distanceReg?: number;
  /** The cache rate chosen from this evaluation: steps until the next computation (AdaCache). */
  rate?: number;
  /** The threshold the decision compared against. */
  threshold?: number;
  /** Evaluations of one group of rows share a line (per-sample or per-branch decisions). */
  group?: string;
}

/** What a batch row did at a step. */
export type RowState = 'computed' | 'cached' | 'predicted' | 'absent';

export interface ScheduleTrace {
  steps: number;
  /** 1-based steps at which the model was run. */
  computedSteps: number[];
  evaluations: ScheduleEvaluation[];
  title?: string;
  /** One strip per batch row (instead of the single computed-step strip): its label and per-step state. */
  rows?: { label: string; states: RowState[] }[];
  /** Per step, the share of a full step's block work done (branch reuse makes it partial). */
  work?: number[];
  /** Legend names of the signal and of the compared value (default 'distance', 'regularised distance'). */
  labels?: { distance?: string; distanceReg?: string };
}

const WIDTH = 760;
const BASE_HEIGHT = 420;
const PLOT = { left: 72, right: WIDTH - 72, top: 96, bottom: BASE_HEIGHT - 92 };
const STRIP = { top: PLOT.bottom + 10, height: 12, gap: 4 };
const COLOR = {
  distance: '#2563eb',
  distanceReg: '#ea580c',
  rate: '#16a34a',
  computed: '#334155',
  cached: '#e2e8f0',
  predicted: '#a78bfa',
  absent: '#ffffff',
  threshold: '#dc2626',
  work: '#0f766e',
  grid: '#e5e7eb',
  axis: '#6b7280',
  text: '#111827',
};
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

/** The chart as SVG text. Non-finite distances are left out of the lines rather than distorting the axes. */
export function scheduleSvg(trace: ScheduleTrace): string {
  checkTrace(trace);
  const { steps, evaluations } = trace;
  const computed = new Set(trace.computedSteps);
  const hasReg = evaluations.some((e) => e.distanceReg !== undefined && Number.isFinite(e.distanceReg));
  const hasRate = evaluations.some((e) => e.rate !== undefined);
  const thresholds = [...new Set(evaluations.flatMap((e) => (e.threshold !== undefined && Number.isFinite(e.threshold) ? [e.threshold] : [])))];
  const labels = { distance: trace.labels?.distance ?? 'distance', distanceReg: trace.labels?.distanceReg ?? 'regularised distance' };
  const strips = trace.rows ?? [{ label: '', states: Array.from({ length: steps }, (_, i): RowState => (computed.has(i + 1) ? 'computed' : 'cached')) }];
  const stripCount = strips.length + (trace.work ? 1 : 0);
  const height = BASE_HEIGHT + (stripCount - 1) * (STRIP.height + STRIP.gap);
  const stripsBottom = STRIP.top + stripCount * (STRIP.height + STRIP.gap) - STRIP.gap;
  const distances = [...evaluations.flatMap((e) => [e.distance, e.distanceReg ?? 0]), ...thresholds].filter(Number.isFinite);
  // Headroom keeps the largest distance and rate off the plot's top edge.
  const yTicks = niceTicks(Math.max(0, ...distances) * 1.05, 5);
  const maxRate = Math.max(1, ...evaluations.flatMap((e) => (e.rate === undefined ? [] : [e.rate]))) + 1;
  const rateTicks = niceTicks(maxRate, Math.min(5, maxRate), true);

  const plotW = PLOT.right - PLOT.left;
  const plotH = PLOT.bottom - PLOT.top;
  const cell = plotW / steps;
  // Step s sits at the centre of its cell in the strip, so lines and strip line up.
  const x = (step: number) => PLOT.left + (step - 0.5) * cell;
  // Several evaluations in one step (one per evaluating block) spread across the step's cell.
  const evalX = spreadWithinSteps(evaluations).map((offset, i) => x(evaluations[i]!.step) + offset * cell);
  const yDist = (v: number) => PLOT.bottom - (v / yTicks.max) * plotH;
  const yRate = (v: number) => PLOT.bottom - (v / rateTicks.max) * plotH;

  const parts: string[] = [];
  const title = trace.title ?? 'Caching schedule';
  const cachedCount = steps - computed.size;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} font-size="12" fill="${COLOR.text}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="28" font-size="16" font-weight="600">${escapeXml(title)}</text>`,
    `<text x="${PLOT.left}" y="48" fill="${COLOR.axis}">${computed.size} of ${steps} steps computed, ${cachedCount} served from the cache (${formatPercent(cachedCount / steps)})</text>`,
  );

  parts.push(legend(hasReg, hasRate, thresholds.length > 0, !!trace.rows?.some((r) => r.states.includes('predicted')), labels));

  // Grid and left axis (distance).
  for (const v of yTicks.values) {
    const y = round(yDist(v));
    parts.push(
      `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="${COLOR.grid}"/>`,
      `<text x="${PLOT.left - 8}" y="${y + 4}" text-anchor="end" fill="${COLOR.distance}">${v.toFixed(yTicks.decimals)}</text>`,
    );
  }
  // Right axis (rate).
  for (const v of rateTicks.values) {
    const y = round(yRate(v));
    parts.push(
      `<line x1="${PLOT.right}" y1="${y}" x2="${PLOT.right + 5}" y2="${y}" stroke="${COLOR.axis}"/>`,
      `<text x="${PLOT.right + 9}" y="${y + 4}" fill="${COLOR.rate}">${v.toFixed(0)}</text>`,
    );
  }
  parts.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${plotW}" height="${plotH}" fill="none" stroke="${COLOR.axis}"/>`,
    verticalLabel('residual distance', 20, (PLOT.top + PLOT.bottom) / 2, COLOR.distance),
    verticalLabel('cache rate (steps per computation)', WIDTH - 16, (PLOT.top + PLOT.bottom) / 2, COLOR.rate),
  );

  // Computed / cached strips (one per row when rows decide apart), the work strip, and the step axis under them.
  const cellX = (s: number) => round(PLOT.left + (s - 1) * cell + 0.5);
  const cellW = round(Math.max(cell - 1, 0.5));
  strips.forEach((strip, k) => {
    const y = STRIP.top + k * (STRIP.height + STRIP.gap);
    if (strip.label) parts.push(`<text x="${PLOT.left - 6}" y="${y + STRIP.height - 2}" text-anchor="end" font-size="10" fill="${COLOR.axis}">${escapeXml(strip.label)}</text>`);
    for (let s = 1; s <= steps; s++) {
      const kind = strip.states[s - 1] ?? 'cached';
      const who = strip.label ? `${escapeXml(strip.label)}, ` : '';
      parts.push(`<rect class="${kind}" x="${cellX(s)}" y="${y}" width="${cellW}" height="${STRIP.height}" fill="${COLOR[kind]}"${kind === 'absent' ? ' stroke="#cbd5e1"' : ''}><title>${who}step ${s}: ${kind}</title></rect>`);
    }
  });
  if (trace.work) {
    const y = STRIP.top + strips.length * (STRIP.height + STRIP.gap);
    parts.push(`<text x="${PLOT.left - 6}" y="${y + STRIP.height - 2}" text-anchor="end" font-size="10" fill="${COLOR.axis}">work</text>`);
    trace.work.forEach((share, i) => {
      parts.push(`<rect class="work" x="${cellX(i + 1)}" y="${y}" width="${cellW}" height="${STRIP.height}" fill="${COLOR.work}" fill-opacity="${round(Math.max(0, Math.min(1, share)) * 100) / 100}"><title>step ${i + 1}: ${formatPercent(share)} of the block work</title></rect>`);
    });
  }
  const stepTicks = niceTicks(steps, Math.min(10, steps), true).values.map((v) => Math.max(1, v)).filter((v) => v <= steps);
  for (const s of new Set([...stepTicks, steps])) {
    const sx = round(x(s));
    parts.push(
      `<line x1="${sx}" y1="${stripsBottom}" x2="${sx}" y2="${stripsBottom + 5}" stroke="${COLOR.axis}"/>`,
      `<text x="${sx}" y="${stripsBottom + 19}" text-anchor="middle">${s}</text>`,
    );
  }
  parts.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${height - 18}" text-anchor="middle" fill="${COLOR.axis}">denoising step</text>`);
  for (const t of thresholds) {
    const y = round(yDist(t));
    parts.push(`<line class="threshold" x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="${COLOR.threshold}" stroke-width="1.5" stroke-dasharray="2 3"><title>threshold ${formatValue(t)}</title></line>`);
  }

  // Rate: a step line holding the rate in force (the last evaluation's of a step) until the next
  // step that evaluates, then to the end.
  const rateAt = new Map(evaluations.flatMap((e) => (e.rate === undefined ? [] : [[e.step, e.rate] as const])));
  const rateSteps = [...rateAt.keys()];
  if (rateSteps.length > 0) {
    const points = rateSteps.flatMap((s, i) => {
      const y = round(yRate(rateAt.get(s)!));
      return [`${round(x(s))},${y}`, `${round(x(rateSteps[i + 1] ?? steps + 0.5))},${y}`];
    });
    parts.push(`<polyline class="rate" points="${points.join(' ')}" fill="none" stroke="${COLOR.rate}" stroke-width="2" stroke-linejoin="round" opacity="0.85"/>`);
  }
  // One line per group of rows that decided together.
  const groups = [...new Set(evaluations.map((e) => e.group ?? ''))];
  for (const g of groups) {
    const idx = evaluations.flatMap((e, i) => ((e.group ?? '') === g ? [i] : []));
    const evs = idx.map((i) => evaluations[i]!), xs = idx.map((i) => evalX[i]!);
    if (hasReg) parts.push(series(evs, xs, (e) => e.distanceReg, yDist, 'distance-reg', COLOR.distanceReg, labels.distanceReg, '6 4'));
    parts.push(series(evs, xs, (e) => e.distance, yDist, 'distance', COLOR.distance, labels.distance));
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function checkTrace(trace: ScheduleTrace): void {
  if (typeof trace !== 'object' || trace === null) throw new TypeError('scheduleSvg: trace must be an object');
  const { steps, computedSteps, evaluations } = trace;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`scheduleSvg: steps must be a positive integer, got ${steps}`);
  if (!Array.isArray(computedSteps)) throw new TypeError('scheduleSvg: computedSteps must be an array of steps');
  for (const s of computedSteps) {
    if (!Number.isInteger(s) || s < 1 || s > steps) throw new RangeError(`scheduleSvg: computed step ${s} is outside 1..${steps}`);
  }
  if (!Array.isArray(evaluations)) throw new TypeError('scheduleSvg: evaluations must be an array');
  for (const [i, r] of (trace.rows ?? []).entries()) {
    if (!Array.isArray(r.states) || r.states.length !== steps) throw new RangeError(`scheduleSvg: rows[${i}] must have one state per step (${steps})`);
    for (const st of r.states) if (!['computed', 'cached', 'predicted', 'absent'].includes(st)) throw new TypeError(`scheduleSvg: rows[${i}] has an unknown state ${String(st)}`);
  }
  if (trace.work && (trace.work.length !== steps || !trace.work.every(Number.isFinite))) throw new RangeError(`scheduleSvg: work must hold one finite share per step (${steps})`);
  for (const [i, e] of evaluations.entries()) {
    if (!Number.isInteger(e.step) || e.step < 1 || e.step > steps) {
      throw new RangeError(`scheduleSvg: evaluations[${i}].step ${e.step} is outside 1..${steps}`);
    }
    if (e.rate !== undefined && (!Number.isFinite(e.rate) || e.rate < 0)) throw new RangeError(`scheduleSvg: evaluations[${i}].rate must be a finite number >= 0, got ${e.rate}`);
    if (i > 0 && e.step < evaluations[i - 1]!.step) throw new RangeError(`scheduleSvg: evaluations must be in step order (evaluations[${i}])`);
  }
}

// A line with a dot per finite value; a missing or non-finite value breaks the line.
function series(
  evaluations: readonly ScheduleEvaluation[],
  xs: readonly number[],
  value: (e: ScheduleEvaluation) => number | undefined,
  y: (v: number) => number,
  className: string,
  color: string,
  label: string,
  dash?: string,
): string {
  const runs: string[][] = [[]];
  const dots: string[] = [];
  for (const [i, e] of evaluations.entries()) {
    const v = value(e);
    if (v === undefined || !Number.isFinite(v)) {
      runs.push([]);
      continue;
    }
    const [px, py] = [round(xs[i]!), round(y(v))];
    runs[runs.length - 1]!.push(`${px},${py}`);
    const group = e.group ? ` (${escapeXml(e.group)})` : '';
    const rate = e.rate !== undefined ? `, rate ${e.rate}` : '';
    dots.push(`<circle class="${className}" cx="${px}" cy="${py}" r="3.5" fill="${color}"><title>step ${e.step}${group}: ${escapeXml(label)} ${formatValue(v)}${rate}</title></circle>`);
  }
  const lines = runs
    .filter((r) => r.length > 1)
    .map((r) => `<polyline class="${className}" points="${r.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} stroke-linejoin="round"/>`);
  return [...lines, ...dots].join('\n');
}

// Offsets in cells from each evaluation's step centre: 0 when alone, spread over [-0.3, 0.3] when a step has several.
function spreadWithinSteps(evaluations: readonly ScheduleEvaluation[]): number[] {
  const perStep = new Map<number, number>();
  for (const e of evaluations) perStep.set(e.step, (perStep.get(e.step) ?? 0) + 1);
  const seen = new Map<number, number>();
  return evaluations.map((e) => {
    const k = perStep.get(e.step)!;
    const j = seen.get(e.step) ?? 0;
    seen.set(e.step, j + 1);
    return k === 1 ? 0 : -0.3 + (0.6 * j) / (k - 1);
  });
}

function legend(hasReg: boolean, hasRate: boolean, hasThreshold: boolean, hasPredicted: boolean, labels: { distance: string; distanceReg: string }): string {
  const items: [string, string][] = [
    [labels.distance, `<line x1="0" y1="0" x2="22" y2="0" stroke="${COLOR.distance}" stroke-width="2"/><circle cx="11" cy="0" r="3.5" fill="${COLOR.distance}"/>`],
    ...(hasReg
      ? ([[labels.distanceReg, `<line x1="0" y1="0" x2="22" y2="0" stroke="${COLOR.distanceReg}" stroke-width="2" stroke-dasharray="6 4"/><circle cx="11" cy="0" r="3.5" fill="${COLOR.distanceReg}"/>`]] as [string, string][])
      : []),
    ...(hasThreshold ? ([['threshold', `<line x1="0" y1="0" x2="22" y2="0" stroke="${COLOR.threshold}" stroke-width="1.5" stroke-dasharray="2 3"/>`]] as [string, string][]) : []),
    ...(hasRate || !hasThreshold ? ([['cache rate', `<polyline points="0,4 11,4 11,-4 22,-4" fill="none" stroke="${COLOR.rate}" stroke-width="2"/>`]] as [string, string][]) : []),
    ['computed step', `<rect x="4" y="-6" width="14" height="12" fill="${COLOR.computed}"/>`],
    ['cached step', `<rect x="4" y="-6" width="14" height="12" fill="${COLOR.cached}" stroke="#cbd5e1"/>`],
    ...(hasPredicted ? ([['predicted (CFG-Cache)', `<rect x="4" y="-6" width="14" height="12" fill="${COLOR.predicted}"/>`]] as [string, string][]) : []),
  ];
  let cursor = PLOT.left;
  const out: string[] = [];
  for (const [label, swatch] of items) {
    out.push(`<g transform="translate(${cursor},72)">${swatch}<text x="28" y="4">${escapeXml(label)}</text></g>`);
    cursor += 28 + label.length * 6.6 + 22;
  }
  return out.join('\n');
}

function verticalLabel(text: string, x: number, y: number, color: string): string {
  return `<text transform="translate(${x},${y}) rotate(-90)" text-anchor="middle" fill="${color}">${escapeXml(text)}</text>`;
}

// Escapes markup and drops the control characters XML does not allow.
function escapeXml(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function formatValue(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? String(Number(v.toPrecision(4))) : v.toExponential(2);
}

function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}
