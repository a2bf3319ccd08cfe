// Faults (CI version, ~40 s): every fault kind once or more during a short run of the full flow; afterwards the
// invariants hold, every upload is in one terminal state, and the API answered 503 dependency_unavailable (never a
// 500 or a hang) while a dependency was down. The long version runs under `npm run soak`.
import { expect, test } from 'vitest';
import { ALL_FAULTS, runFaults } from './harness.ts';
import { recordSoakCounts } from '../soak/counts.ts';

test('the full flow under injected faults keeps every invariant', async () => {
  const r = await runFaults({
    seconds: Number(process.env.FAULTS_SECONDS ?? 30),
    users: 6,
    apis: 2,
    workers: 2,
    workspaces: 3,
    faults: ALL_FAULTS,
    faultEveryMs: 600,
    outageMs: [1000, 2000],
    multipartShare: 0.1,
    eventShare: 0.3,
    log: (m) => console.log(m),
  });
  console.log(JSON.stringify(r, null, 2));
  recordSoakCounts('faults', { cases: r.uploads.created, faults: Object.values(r.faultsInjected).reduce((a, b) => a + b, 0), checks: r.invariantChecks, violations: r.violations.length });
  expect(r.violations).toEqual([]);
  expect(r.uploads.confirmed).toBeGreaterThan(0);
  for (const f of ALL_FAULTS) expect(r.faultsInjected[f], f).toBeGreaterThan(0);
}, 300_000);
