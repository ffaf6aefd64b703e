// `npm run check:gpu` (scripts/gpu-check.ts), the case table outside vitest that GPU machines run:
// it passes on this adapter for a tile, counts its checks, and refuses a tile it does not know.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cases } from './cases.js';
import { numericsScenarios } from './numerics-scenarios.js';

const root = resolve(import.meta.dirname, '..');

function check(...args: string[]) {
  const r = spawnSync('npx', ['tsx', '--import', './scripts/raw-import.mjs', 'scripts/gpu-check.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('npm run check:gpu', () => {
  // The cases themselves are test/gpu.test.ts's and the forced-tile suites'; here the script's plumbing, on a few of them
  // (--cases: names containing 'decode'; E = 8 to 64, as E = 128's compiles take ~20 s here and the
  // forced-tile suites check them).
  it('runs the fused cases, output and log-sum-exp, on a forced tile (and the split-keys cases on a split-keys tile), and the numerics scenarios, and reports them passed', () => {
    const r = check('--tiles', 'workgroup,split-workgroup', '--seed', '7', '--cases', 'decode');
    const picked = cases.filter((c) => c.name.includes('decode'));
    const fused = picked.filter((c) => (c.kernels ?? ['fused']).includes('fused')).length;
    const split = picked.filter((c) => (c.kernels ?? ['split-keys']).includes('split-keys')).length;
    expect(fused).toBeGreaterThan(3);
    expect(split).toBeGreaterThan(3);
    expect(r.out).toMatch(/^adapter: /m);
    // Plus the numerics scenarios that apply to each context's kernel and tile.
    const scenarios = (kernel: 'fused' | 'split-keys', tile: string) => numericsScenarios.filter((x) => x.applies({ kernel, tile })).length;
    expect(scenarios('fused', 'workgroup')).toBe(11); // all but the two of the staged weights
    expect(r.out).toContain(`fusedTile workgroup: ${2 * fused + scenarios('fused', 'workgroup')} checks, 0 failed`);
    expect(r.out).toContain(`splitKeysTile workgroup: ${split + fused + scenarios('split-keys', 'split-workgroup')} checks, 0 failed`);
    expect(r.out).toContain('gpu-check: all passed (seed 7');
    expect(r.status).toBe(0);
  }, 240_000);

  it('refuses an unknown tile with the list of tiles, a seed that is not a whole number, and cases that match nothing', () => {
    const r = check('--tiles', 'huge');
    expect(r.out).toMatch(/--tiles: unknown huge; expected some of auto, compact, wide, workgroup, workgroup-split, held-keys, split-invocation, split-workgroup/);
    expect(r.status).toBe(2);
    const s = check('--seed', 'abc');
    expect(s.out).toMatch(/--seed: expected a whole number, got "abc"/);
    expect(s.status).toBe(2);
    const c = check('--cases', 'no such case');
    expect(c.out).toMatch(/--cases: no case name contains "no such case"/);
    expect(c.status).toBe(2);
  });
});
