// Decisions per group of rows, and a step-level policy composed with a branch-level one, both as
// one CachePolicy. A step-level policy is written as if it decided for the whole batch (its gate
// has the one group EVERY_ROW, its probes no rows); perGroup() runs one instance per group of
// rows, each seeing only its rows' signals, so sample 0 never decides for sample 1.
import type { Gate, Observation, RowOutcome, RowRange, StepPlan } from './plan.js';
import type { CachePolicy, Evaluation, StepContext } from './policy.js';

/** Who decides together: the whole batch (as the authors' code does), each CFG branch, or each row. */
export type DecisionGroups = 'batch' | 'branch' | 'sample';

/** The one group of a policy that decides for the whole batch. */
export const EVERY_ROW: RowRange = Object.freeze([0, Number.POSITIVE_INFINITY]) as RowRange;

/** The groups of rows that decide together, for `rows` rows ([conditional; unconditional] with CFG). */
export function decisionGroups(mode: DecisionGroups, rows: number, cfg: boolean): RowRange[] {
  switch (mode) {
    case 'batch':
      return [[0, rows]];
    case 'branch':
      return cfg && rows % 2 === 0 ? [[0, rows / 2], [rows / 2, rows]] : [[0, rows]];
    case 'sample':
      return Array.from({ length: rows }, (_, r): RowRange => [r, r + 1]);
    default:
      throw new TypeError(`decide must be 'batch', 'branch' or 'sample', got ${String(mode)}`);
  }
}

function rowsOf(range: RowRange, rows: number): number[] {
  return Array.from({ length: Math.min(range[1], rows) - range[0] }, (_, i) => range[0] + i);
}

const sameRange = (a: RowRange | undefined, b: RowRange) => a !== undefined && a[0] === b[0] && a[1] === b[1];

/** One instance of a batch-deciding policy per group of rows. */
export function perGroup(create: () => CachePolicy, mode: DecisionGroups): CachePolicy {
  const first = create();
  let units: { range: RowRange; policy: CachePolicy }[] = [];
  let rows = 0;
  return {
    name: first.name.endsWith(`/${mode}`) ? first.name : `${first.name}/${mode}`,
    caches: first.caches,
    get evaluations(): Evaluation[] {
      return units
        .flatMap(({ range, policy }) => policy.evaluations.map((e) => ({ ...e, rows: range })))
        .sort((a, b) => a.step - b.step);
    },
    start(totalSteps: number, context?: StepContext) {
      if (!context) throw new TypeError(`${first.name}/${mode}: decisions per group need the batch (start(steps, context))`);
      rows = context.rows;
      units = decisionGroups(mode, rows, context.cfg).map((range, i) => ({ range, policy: i === 0 ? first : create() }));
      for (const u of units) u.policy.start(totalSteps, context);
    },
    plan(step: number): StepPlan {
      const plans = units.map((u) => u.policy.plan(step));
      const compute = new Array<boolean>(rows).fill(true);
      const gated: { range: RowRange; gate: Gate }[] = [];
      plans.forEach((p, i) => {
        const { range } = units[i]!;
        if (typeof p.compute !== 'boolean') throw new TypeError(`${first.name}: a policy deciding per group plans one compute flag for its rows`);
        for (const r of rowsOf(range, rows)) compute[r] = p.compute;
        if (p.gate) {
          if (p.gate.groups.length !== 1) throw new TypeError(`${first.name}: a policy deciding per group gates one group`);
          gated.push({ range, gate: p.gate });
        }
      });
      const base = plans[0]!;
      const gate: Gate | undefined =
        gated.length === 0
          ? undefined
          : {
              signal: gated[0]!.gate.signal,
              groups: gated.map((g) => g.range),
              decide: (changes) => gated.map((g, i) => g.gate.decide([changes[i]!])[0]!),
            };
      return {
        ...base,
        compute,
        probes: plans.flatMap((p, i) => p.probes.map((q) => ({ ...q, rows: units[i]!.range }))),
        ...(gate ? { gate } : {}),
      };
    },
    observe(step: number, observations: readonly Observation[], outcome?: readonly RowOutcome[]) {
      for (const { range, policy } of units) {
        if (outcome && !rowsOf(range, rows).some((r) => outcome[r] === 'compute')) continue;
        policy.observe(step, observations.filter((o) => sameRange(o.probe.rows, range)), outcome);
      }
    },
  };
}

/**
 * A step-level policy (which rows run the block stack, its gate, head and probes) with a
 * branch-level one (branch reuse inside the blocks, absent rows, CFG-Cache).
 */
export function compose(step: CachePolicy, branch: CachePolicy): CachePolicy {
  return {
    name: `${step.name}+${branch.name}`,
    caches: step.caches,
    get evaluations(): Evaluation[] {
      return [...step.evaluations, ...branch.evaluations].sort((a, b) => a.step - b.step);
    },
    start(totalSteps: number, context?: StepContext) {
      step.start(totalSteps, context);
      branch.start(totalSteps, context);
    },
    plan(n: number): StepPlan {
      const s = step.plan(n);
      const b = branch.plan(n);
      const { compute, gate, head, probes } = s;
      return {
        ...b,
        compute,
        probes: [...probes, ...b.probes],
        ...(gate ? { gate } : {}),
        ...(head !== undefined ? { head } : {}),
      };
    },
    observe(n: number, observations: readonly Observation[], outcome?: readonly RowOutcome[]) {
      step.observe(n, observations, outcome);
      branch.observe(n, [], outcome);
    },
  };
}
