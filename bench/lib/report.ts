// Pure rendering of a benchmark report: text table, Markdown, SVG chart. No I/O, no clock.
import type { BenchResult } from './types.ts';
import type { MachineInfo } from './machine.ts';

export interface ModuleReport {
  name: string;
  status: 'ok' | 'skipped' | 'error';
  /** Why it was skipped, or the error. */
  reason?: string;
  seconds: number;
  results: BenchResult[];
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  quick: boolean;
  command: string;
  machine: MachineInfo;
  modules: ModuleReport[];
}

export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 0.1) return n.toFixed(2);
  if (a >= 0.01) return n.toFixed(3);
  return n.toPrecision(2);
}

export function fmtRatio(r: number | null | undefined): string {
  return r === null || r === undefined || !Number.isFinite(r) ? '–' : `${fmt(r)}×`;
}

export function targetText(r: BenchResult): string {
  if (r.target === null) return '–';
  const op = (r.better ?? 'higher') === 'higher' ? '≥' : '≤';
  return (r.targetOn ?? 'ratio') === 'value' ? `${op} ${fmt(r.target)} ${r.unit}` : `${op} ${fmt(r.target)}×`;
}

export function verdict(r: BenchResult): string {
  if (r.skipped !== undefined) return 'skipped';
  if (r.pass === null) return 'info';
  return r.pass ? 'pass' : 'FAIL';
}

export interface Row {
  module: string;
  figure: string;
  stowage: string;
  baseline: string;
  ratio: string;
  target: string;
  result: string;
}

export function rows(report: Pick<BenchReport, 'modules'>): Row[] {
  const out: Row[] = [];
  for (const m of report.modules) {
    if (m.status !== 'ok') {
      out.push({
        module: m.name,
        figure: m.status === 'skipped' ? `(skipped: ${m.reason ?? ''})` : `(error: ${firstLine(m.reason ?? '')})`,
        stowage: '–',
        baseline: '–',
        ratio: '–',
        target: '–',
        result: m.status === 'skipped' ? 'skipped' : 'ERROR',
      });
      continue;
    }
    for (const r of m.results) {
      const unit = r.unit ? ` ${r.unit}` : '';
      out.push({
        module: m.name,
        figure: r.skipped !== undefined ? `${r.figure} (skipped: ${r.skipped})` : r.figure,
        stowage: r.stowage === null ? '–' : `${fmt(r.stowage)}${unit}`,
        baseline: r.baseline === null ? '–' : `${fmt(r.baseline)}${unit}`,
        ratio: fmtRatio(r.ratio),
        target: targetText(r),
        result: verdict(r),
      });
    }
  }
  return out;
}

function firstLine(s: string): string {
  const l = s.split('\n')[0] ?? '';
  return l.length > 160 ? `${l.slice(0, 157)}…` : l;
}

const HEAD: Row = {
  module: 'module',
  figure: 'figure',
  stowage: 'Stowage',
  baseline: 'baseline',
  ratio: 'ratio',
  target: 'target',
  result: 'result',
};
const COLS: (keyof Row)[] = ['module', 'figure', 'stowage', 'baseline', 'ratio', 'target', 'result'];

/** Plain-text table for the terminal. */
export function renderTable(report: Pick<BenchReport, 'modules'>): string {
  const all = [HEAD, ...rows(report)];
  const width = (k: keyof Row): number => Math.max(...all.map((r) => [...r[k]].length));
  const w = Object.fromEntries(COLS.map((k) => [k, width(k)])) as Record<keyof Row, number>;
  const line = (r: Row): string => COLS.map((k) => pad(r[k], w[k], k === 'module' || k === 'figure')).join('  ');
  const sep = COLS.map((k) => '-'.repeat(w[k])).join('  ');
  return [line(HEAD), sep, ...all.slice(1).map(line)].join('\n');
}

function pad(s: string, n: number, left: boolean): string {
  const fill = ' '.repeat(Math.max(0, n - [...s].length));
  return left ? s + fill : fill + s;
}

export function summary(report: Pick<BenchReport, 'modules'>): { pass: number; fail: number; info: number; skipped: number; errors: number } {
  const s = { pass: 0, fail: 0, info: 0, skipped: 0, errors: 0 };
  for (const m of report.modules) {
    if (m.status === 'skipped') s.skipped++;
    else if (m.status === 'error') s.errors++;
    else
      for (const r of m.results) {
        const v = verdict(r);
        if (v === 'pass') s.pass++;
        else if (v === 'FAIL') s.fail++;
        else if (v === 'skipped') s.skipped++;
        else s.info++;
      }
  }
  return s;
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const s = summary(report);
  const out: string[] = [];
  out.push(`# Stowage benchmark report${report.quick ? ' (quick mode)' : ''}`);
  out.push('');
  out.push(`Every figure is a ratio against a baseline measured in the same run on the same machine.`);
  out.push('');
  out.push(`- Command: \`${report.command}\``);
  out.push(`- Started ${report.startedAt}, finished ${report.finishedAt}; the run took **${fmtDuration(report.durationSeconds)}**.`);
  out.push(
    `- Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.os}, load average ${m.loadAverage1m} at start` +
      (m.loadAverage1mEnd !== undefined ? `, ${m.loadAverage1mEnd} at the end` : ''),
  );
  const busy = busyWarning(m);
  if (busy) out.push(`- **${busy}**`);
  out.push(`- Node ${m.node}; ${m.postgres ?? 'Postgres not used'}`);
  out.push(`- Result: ${s.pass} pass, ${s.fail} fail, ${s.info} informational, ${s.skipped} skipped, ${s.errors} errors`);
  out.push('');
  out.push(`| ${COLS.map((k) => HEAD[k]).join(' | ')} |`);
  out.push(`|${COLS.map((k) => (k === 'module' || k === 'figure' ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const r of rows(report)) out.push(`| ${COLS.map((k) => mdCell(r[k])).join(' | ')} |`);
  out.push('');
  const notes: string[] = [];
  for (const mod of report.modules) {
    if (mod.status === 'ok') {
      for (const r of mod.results) {
        const bits = [r.baselineName ? `baseline: ${r.baselineName}` : '', r.note ?? ''].filter(Boolean);
        if (bits.length) notes.push(`- **${mod.name} / ${mdCell(r.figure)}**: ${mdCell(bits.join('; '))}`);
      }
    } else {
      notes.push(`- **${mod.name}** ${mod.status}: ${mdCell(firstLine(mod.reason ?? ''))}`);
    }
  }
  if (notes.length) {
    out.push('## Notes');
    out.push('');
    out.push(...notes);
    out.push('');
  }
  out.push('Module durations: ' + report.modules.map((x) => `${x.name} ${fmtDuration(x.seconds)}`).join(', ') + '.');
  out.push('');
  out.push('![ratios against targets](ratios.svg)');
  out.push('');
  return out.join('\n');
}

/** A warning when other work was competing for the machine (load average above the core count). */
export function busyWarning(m: MachineInfo): string | null {
  const load = Math.max(m.loadAverage1m, m.loadAverage1mEnd ?? 0);
  if (load <= m.cores) return null;
  return `The machine was busy (load average up to ${load} on ${m.cores} cores): absolute numbers are depressed and noisy; same-run ratios less so, but baselines and Stowage did not run at the same instant.`;
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Plotted {
  label: string;
  /** Plotted value on the log axis. */
  value: number;
  /** Target on the same axis, or null. */
  target: number | null;
  pass: boolean | null;
  text: string;
}

/** The points the chart draws: ratios against their targets; absolute limits drawn as value ÷ limit (limit at 1×). */
export function plotted(report: Pick<BenchReport, 'modules'>): Plotted[] {
  const out: Plotted[] = [];
  for (const m of report.modules) {
    if (m.status !== 'ok') continue;
    for (const r of m.results) {
      if (r.skipped !== undefined || r.stowage === null) continue;
      const label = `${m.name}: ${r.figure}`;
      if ((r.targetOn ?? 'ratio') === 'value' && r.target !== null && r.target > 0) {
        const v = r.stowage / r.target;
        if (!(v > 0) || !Number.isFinite(v)) continue;
        out.push({ label, value: v, target: 1, pass: r.pass, text: `${fmt(r.stowage)} ${r.unit} (${targetText(r)})` });
      } else if (r.ratio !== null && r.ratio > 0 && Number.isFinite(r.ratio)) {
        const t = r.target !== null && r.target > 0 ? r.target : null;
        out.push({ label, value: r.ratio, target: t, pass: r.pass, text: `${fmtRatio(r.ratio)} (${t === null ? 'no target' : `target ${targetText(r)}`})` });
      }
    }
  }
  return out;
}

/** Hand-written SVG: one row per figure, a bar on a log axis, a tick at its target; green pass, red fail, grey info. */
export function renderSvg(report: BenchReport): string {
  const pts = plotted(report);
  const rowH = 26;
  const maxLabel = Math.min(72, Math.max(10, ...pts.map((p) => p.label.length)));
  const left = Math.round(24 + maxLabel * 6.7);
  const plotW = 420;
  const right = 230;
  const top = 64;
  const width = left + plotW + right;
  const skippedMods = report.modules.filter((m) => m.status !== 'ok');
  const height = top + Math.max(1, pts.length) * rowH + 50 + skippedMods.length * 16;
  let lo = 0.1;
  let hi = 10;
  for (const p of pts) {
    for (const v of [p.value, p.target ?? p.value]) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  // A little room on both sides, so no bar end or target tick sits on the frame.
  let loE = Math.floor(Math.log10(lo));
  if (Math.log10(lo) - loE < 0.25) loE -= 1;
  let hiE = Math.ceil(Math.log10(hi));
  if (hiE - Math.log10(hi) < 0.25) hiE += 1;
  const x = (v: number): number => left + ((Math.log10(v) - loE) / (hiE - loE)) * plotW;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="12" y="22" font-size="15" font-weight="bold">${esc(`Stowage vs same-run baselines${report.quick ? ' (quick)' : ''}`)}</text>`);
  o.push(`<text x="12" y="40" fill="#555">${esc(`${report.machine.cores} cores, ${report.machine.memoryGiB} GiB, Node ${report.machine.node}, ${report.machine.postgres ?? 'no Postgres'} — ${report.finishedAt}${busyWarning(report.machine) ? ` — busy machine (load up to ${Math.max(report.machine.loadAverage1m, report.machine.loadAverage1mEnd ?? 0)})` : ''}`)}</text>`);
  o.push(`<text x="12" y="56" fill="#555">${esc('bar = Stowage ÷ baseline (log scale); black tick = target; absolute limits drawn as value ÷ limit')}</text>`);
  const bottom = top + Math.max(1, pts.length) * rowH;
  for (let e = loE; e <= hiE; e++) {
    const gx = x(10 ** e);
    o.push(`<line x1="${gx.toFixed(1)}" y1="${top - 4}" x2="${gx.toFixed(1)}" y2="${bottom}" stroke="${e === 0 ? '#333' : '#ddd'}" stroke-width="${e === 0 ? 1.5 : 1}"/>`);
    o.push(`<text x="${gx.toFixed(1)}" y="${bottom + 14}" text-anchor="middle" fill="#555">${e < 0 ? (10 ** e).toFixed(-e) : String(10 ** e)}×</text>`);
  }
  if (pts.length === 0) o.push(`<text x="${left}" y="${top + 16}" fill="#999">no figures measured</text>`);
  pts.forEach((p, i) => {
    const y = top + i * rowH;
    const colour = p.pass === null ? '#9e9e9e' : p.pass ? '#2e7d32' : '#c62828';
    const label = p.label.length > maxLabel ? `${p.label.slice(0, maxLabel - 1)}…` : p.label;
    o.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(label)}</text>`);
    const x0 = x(10 ** loE);
    o.push(`<rect x="${x0.toFixed(1)}" y="${y + 5}" width="${Math.max(1, x(p.value) - x0).toFixed(1)}" height="${rowH - 10}" fill="${colour}" opacity="0.85"><title>${esc(`${p.label}: ${p.text}`)}</title></rect>`);
    if (p.target !== null) {
      const tx = x(p.target).toFixed(1);
      o.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + rowH - 1}" stroke="#000" stroke-width="2.5"/>`);
    }
    o.push(`<text x="${left + plotW + 8}" y="${y + 16}" fill="${colour}">${esc(p.text)}</text>`);
  });
  skippedMods.forEach((m, i) => {
    o.push(`<text x="12" y="${bottom + 36 + i * 16}" fill="#777">${esc(`${m.name}: ${m.status} — ${firstLine(m.reason ?? '')}`.slice(0, 150))}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
