// The benchmark report writer is pure: these check its arithmetic and output shape, never a timing.
import { describe, expect, it } from 'vitest';
import { fmt, plotted, renderMarkdown, renderSvg, renderTable, rows, summary, type BenchReport } from '../../bench/lib/report.ts';
import { result, skipped } from '../../bench/lib/types.ts';

const machine = {
  cpuModel: 'Test CPU',
  cores: 2,
  memoryGiB: 4,
  os: 'linux',
  node: 'v20.20.2',
  postgres: 'PostgreSQL 18.4',
  loadAverage1m: 0.5,
  hostname: 'h',
};

function report(): BenchReport {
  return {
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    durationSeconds: 60,
    quick: true,
    command: 'npm run bench -- --quick',
    machine,
    modules: [
      {
        name: 'control-plane',
        status: 'ok',
        seconds: 20,
        results: [
          result({ figure: 'create rps', stowage: 1500, baseline: 2000, unit: 'req/s', target: 0.6, baselineName: 'raw <insert>' }),
          result({ figure: 'create p99', stowage: 30, baseline: 60, unit: 'ms', target: 25, targetOn: 'value', better: 'lower' }),
          skipped('vs RGW', 'MiB/s', 'RGW_ENDPOINT not set'),
        ],
      },
      {
        name: 'cost-per-byte',
        status: 'ok',
        seconds: 30,
        results: [result({ figure: 'CPU-s', stowage: 0.02, baseline: 5, unit: 'CPU-s', target: 0.01, better: 'lower' })],
      },
      { name: 'sdk', status: 'skipped', reason: 'awscli missing', seconds: 0, results: [] },
      { name: 'edge', status: 'error', reason: 'Error: boom\n  at x', seconds: 1, results: [] },
    ],
  };
}

describe('result()', () => {
  it('computes ratio and pass for higher-is-better ratios', () => {
    const r = result({ figure: 'f', stowage: 1500, baseline: 2000, unit: 'req/s', target: 0.6 });
    expect(r.ratio).toBe(0.75);
    expect(r.pass).toBe(true);
    expect(result({ figure: 'f', stowage: 1000, baseline: 2000, unit: 'req/s', target: 0.6 }).pass).toBe(false);
  });
  it('compares lower-is-better ratios and absolute limits', () => {
    expect(result({ figure: 'f', stowage: 0.02, baseline: 5, unit: 'CPU-s', target: 0.01, better: 'lower' }).pass).toBe(true);
    expect(result({ figure: 'f', stowage: 0.1, baseline: 5, unit: 'CPU-s', target: 0.01, better: 'lower' }).pass).toBe(false);
    const p99 = result({ figure: 'p99', stowage: 30, baseline: 60, unit: 'ms', target: 25, targetOn: 'value', better: 'lower' });
    expect(p99.ratio).toBe(0.5);
    expect(p99.pass).toBe(false);
  });
  it('has no ratio without a baseline and no verdict without a target', () => {
    const r = result({ figure: 'f', stowage: 3, baseline: null, unit: 'MB', target: null });
    expect(r.ratio).toBeNull();
    expect(r.pass).toBeNull();
  });
});

describe('report rendering', () => {
  it('lists every figure, skip and error in the table', () => {
    const rep = report();
    const r = rows(rep);
    expect(r.map((x) => x.result)).toEqual(['pass', 'FAIL', 'skipped', 'pass', 'skipped', 'ERROR']);
    expect(r[0]).toMatchObject({ stowage: '1,500 req/s', baseline: '2,000 req/s', ratio: '0.75×', target: '≥ 0.60×' });
    expect(r[1].target).toBe('≤ 25.0 ms');
    expect(r[3].target).toBe('≤ 0.010×');
    expect(summary(rep)).toEqual({ pass: 2, fail: 1, info: 0, skipped: 2, errors: 1 });
    const table = renderTable(rep).split('\n');
    expect(table[0]).toMatch(/^module\s+figure\s+Stowage\s+baseline\s+ratio\s+target\s+result$/);
    expect(new Set(table.slice(2).map((l) => [...l].length)).size).toBe(1);
  });

  it('writes Markdown with the machine, the duration and an escaped table', () => {
    const md = renderMarkdown(report());
    expect(md).toContain('2 cores (Test CPU), 4 GiB');
    expect(md).toContain('PostgreSQL 18.4');
    expect(md).toContain('took **1 min 0 s**');
    expect(md).toContain('| control-plane | create rps | 1,500 req/s | 2,000 req/s | 0.75× | ≥ 0.60× | pass |');
    expect(md).toContain('baseline: raw <insert>');
    expect(md).not.toContain('machine was busy');
    const busy = renderMarkdown({ ...report(), machine: { ...machine, loadAverage1mEnd: 9 } });
    expect(busy).toContain('load average up to 9 on 2 cores');
  });

  it('draws well-formed SVG with a bar and a target tick per plotted figure', () => {
    const rep = report();
    const pts = plotted(rep);
    expect(pts.map((p) => [p.value, p.target])).toEqual([
      [0.75, 0.6],
      [30 / 25, 1],
      [0.004, 0.01],
    ]);
    const svg = renderSvg(rep);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('control-plane: create rps');
    expect(svg.match(/<rect /g)?.length).toBe(1 + pts.length);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    expect(svg).toContain('#c62828');
    expect(svg).toContain('#2e7d32');
  });

  it('formats numbers compactly', () => {
    expect(fmt(12345.6)).toBe('12,346');
    expect(fmt(123.4)).toBe('123');
    expect(fmt(12.34)).toBe('12.3');
    expect(fmt(1.234)).toBe('1.23');
    expect(fmt(0.75)).toBe('0.75');
    expect(fmt(0.0123)).toBe('0.012');
    expect(fmt(0.00123)).toBe('0.0012');
    expect(fmt(null)).toBe('–');
  });
});
