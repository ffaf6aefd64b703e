// The shared case table on the tiles 'auto' takes only on GPUs (workgroup, workgroup-split, the
// split-keys workgroup tile) and on the held-keys tile, forced, in headless Chromium with real
// WebGPU (its own Tint and SwiftShader), against the built library.
import { expect, test } from '@playwright/test';
import { ALL_KERNELS, cases } from '../cases.js';
import { heldKeysFit } from '../../src/tiles.js';
import { check as checkOn, hasFused, type Mode, seed, type Tile, useHarnessPage } from './harness-page.js';

const harness = useHarnessPage();
const check = (name: string, kernel: string, mode?: Mode, tile?: Tile) => checkOn(harness.page, name, kernel, mode, tile);

// The workgroup tile (keys staged in workgroup memory, barriers), which 'auto' measures only on
// GPUs, compiled by Chromium's Tint and run on its SwiftShader: the fused cases of 256 keys or more.
// On the others the workgroup-split tile (next) does not split and runs this tile's very pipeline.
test(`the fused cases of 256 keys or more on the workgroup tile (seed ${seed})`, async () => {
  const some = cases.filter((c) => hasFused(c) && c.Lk >= 256);
  expect(some.length).toBeGreaterThan(5);
  for (const c of some) await check(c.name, 'fused', 'output', 'workgroup');
});

// The workgroup-split tile (the same kernel with the keys split between workgroups, then
// merge.wgsl), which 'auto' also measures only on GPUs: every fused case, output and log-sum-exp (the
// same pipelines: the log-sum-exp is a parameter of the kernels, params.write_lse).
test(`every fused case on the workgroup-split tile (seed ${seed})`, async () => {
  test.setTimeout(300_000); // a minute alone on SwiftShader; the other worker shares the cores
  for (const c of cases.filter(hasFused)) {
    await check(c.name, 'fused', 'output', 'workgroup-split');
    await check(c.name, 'fused', 'lse', 'workgroup-split');
  }
});

// The split-keys path's workgroup tile (flash-decode.wgsl, then merge.wgsl), GPUs' default: every
// case that runs on split-keys, output and log-sum-exp, compiled by Chromium's Tint.
test(`every split-keys case on the split-keys path's workgroup tile (seed ${seed})`, async () => {
  test.setTimeout(300_000); // a minute alone on SwiftShader; the other worker shares the cores
  for (const c of cases.filter((x) => (x.kernels ?? ALL_KERNELS).includes('split-keys'))) {
    await check(c.name, 'split-keys', 'output', 'split-workgroup');
    if (hasFused(c)) await check(c.name, 'split-keys', 'lse', 'split-workgroup');
  }
});

// The held-keys tile (64 keys per invocation, then merge-rows.wgsl), which 'auto' measures on software
// adapters with 4-lane subgroups (this one): every fused case whose heads it holds, output and
// log-sum-exp, compiled by Chromium's Tint.
test(`every fused case on the held-keys tile (seed ${seed})`, async () => {
  test.setTimeout(300_000); // a minute alone on SwiftShader; the other worker shares the cores
  const held = cases.filter((c) => hasFused(c) && heldKeysFit({ headDim: c.E, valueDim: c.Ev ?? c.E }));
  expect(held.length).toBeGreaterThan(20);
  for (const c of held) {
    const { quad } = await check(c.name, 'fused', 'output', 'held-keys');
    // SwiftShader shares loads across quads: the tile is there (elsewhere it hands every case to wide).
    if (process.env.WEBGPU_ADAPTER !== 'hardware') expect(quad, 'the held-keys context shares loads across quads').toBe(true);
    await check(c.name, 'fused', 'lse', 'held-keys');
  }
});
