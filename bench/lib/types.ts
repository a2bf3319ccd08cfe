// The contract between `npm run bench` (bench/run.ts) and every benchmark module.
//
// A benchmark module is a file bench/<name>.ts (objectstore, sdk, cleanup, edge, control-plane, cost-per-byte, memory)
// that exports
//
//     export async function run(opts: BenchOptions): Promise<BenchResult[]>
//
// `npm run bench` runs every module, `npm run bench -- <name>` runs one, `--quick` asks for a short run (the whole
// quick run must finish in under two minutes, so each module's quick mode should take ≲ 20 s).
//
// Every figure compares Stowage against a BASELINE MEASURED IN THE SAME RUN on the same machine; absolute numbers on a
// shared machine mean little, the ratio is the figure.
//
// Missing prerequisites (RGW not configured, /usr/bin/aws absent, …) are not failures: throw `new BenchSkip(reason)`
// to skip the whole module, or return a row with `skipped: reason` to skip one figure while reporting the others.
// Any other exception is reported as an error of that module; the other modules still run.
// Modules must clean up after themselves (close servers, stop child processes, remove temp dirs) even on error.

export interface BenchOptions {
  /** Short mode: smaller data, fewer seconds. */
  quick: boolean;
  /** Progress lines (to stderr). Optional: modules may also just use console.error. */
  log?: (message: string) => void;
}

export interface BenchResult {
  /** Human name of the figure, unique within the module, e.g. "POST /v1/uploads req/s @64". */
  figure: string;
  /** Stowage's measured value, in `unit`. null only when `skipped`. */
  stowage: number | null;
  /** The baseline's value measured in the same run, in `unit`; null when the figure has no baseline (absolute target). */
  baseline: number | null;
  /** Unit of `stowage` and `baseline`: "req/s", "MiB/s", "ms", "MB", "CPU-s", "uploads/s", … */
  unit: string;
  /**
   * stowage ÷ baseline, exactly as measured (null when there is no baseline or when skipped).
   * Whether higher or lower is better is said by `better` (default "higher"): throughput-like figures are "higher"
   * (≥ 0.8× the baseline), cost-like figures are "lower" (CPU-seconds ≤ 0.01× the baseline).
   */
  ratio: number | null;
  /**
   * The threshold. Compared with `ratio` (default, `targetOn: "ratio"`) or with `stowage` in `unit`
   * (`targetOn: "value"`, e.g. p99 ≤ 25 ms, RSS ≤ 150 MB). null = informational figure, no target.
   */
  target: number | null;
  /** Did the figure meet its target? null when there is no target or when skipped. */
  pass: boolean | null;
  /** "higher" (default): pass iff compared ≥ target. "lower": pass iff compared ≤ target. */
  better?: 'higher' | 'lower';
  /** What `target` is compared with: "ratio" (default) or "value" (stowage, in unit). */
  targetOn?: 'ratio' | 'value';
  /** What the baseline is, e.g. "raw pg INSERT txn, pool 64", "bare node:http → MD5 → file", "aws s3 cp". */
  baselineName?: string;
  /** Anything worth knowing: sizes, durations, caveats. */
  note?: string;
  /** Set (with the reason) when this figure was not measured, e.g. "RGW_ENDPOINT not set". */
  skipped?: string;
}

export type BenchModule = {
  run(opts: BenchOptions): Promise<BenchResult[]>;
};

/** Throw from run() to skip the whole module because a prerequisite is missing. Not a failure. */
export class BenchSkip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'BenchSkip';
  }
}

/**
 * Convenience: builds a BenchResult, computing ratio and pass consistently.
 *   result({figure:'PUT 256 MiB', stowage: 812, baseline: 900, unit: 'MiB/s', target: 0.8, baselineName: '…'})
 *   result({figure:'API CPU-s', stowage: 0.3, baseline: 60, unit: 'CPU-s', target: 0.01, better: 'lower'})
 *   result({figure:'p99', stowage: 12, baseline: 4, unit: 'ms', target: 25, targetOn: 'value', better: 'lower'})
 */
export function result(r: {
  figure: string;
  stowage: number;
  baseline: number | null;
  unit: string;
  target: number | null;
  better?: 'higher' | 'lower';
  targetOn?: 'ratio' | 'value';
  baselineName?: string;
  note?: string;
}): BenchResult {
  const ratio = r.baseline !== null && r.baseline !== 0 && Number.isFinite(r.stowage) ? r.stowage / r.baseline : null;
  const better = r.better ?? 'higher';
  const targetOn = r.targetOn ?? 'ratio';
  const compared = targetOn === 'value' ? r.stowage : ratio;
  const pass =
    r.target === null || compared === null || !Number.isFinite(compared)
      ? null
      : better === 'higher'
        ? compared >= r.target
        : compared <= r.target;
  const out: BenchResult = {
    figure: r.figure,
    stowage: r.stowage,
    baseline: r.baseline,
    unit: r.unit,
    ratio,
    target: r.target,
    pass,
    better,
    targetOn,
  };
  if (r.baselineName !== undefined) out.baselineName = r.baselineName;
  if (r.note !== undefined) out.note = r.note;
  return out;
}

/** Convenience: a row for a figure that could not be measured (prerequisite absent). */
export function skipped(figure: string, unit: string, reason: string, target: number | null = null): BenchResult {
  return { figure, stowage: null, baseline: null, unit, ratio: null, target, pass: null, skipped: reason };
}
