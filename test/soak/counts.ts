// Per-section counts the soak run collects (cases tried, faults injected, invariant checks, violations). Test files
// call recordSoakCounts; when SOAK_COUNTS_FILE is set (npm run soak) the counts are appended there as JSON lines.
import { appendFileSync } from 'node:fs';

export interface SoakCounts {
  cases?: number;
  faults?: number;
  checks?: number;
  violations?: number;
  [extra: string]: unknown;
}

export function recordSoakCounts(section: string, counts: SoakCounts): void {
  const file = process.env.SOAK_COUNTS_FILE;
  if (!file) return;
  appendFileSync(file, JSON.stringify({ section, ...counts }) + '\n');
}
