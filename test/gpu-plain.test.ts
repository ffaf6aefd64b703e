// The fused, split-keys and staged cases on the plain kernels (a device without subgroups, as GPUs
// run them), against the float64 reference (test/gpu.test.ts's table).
import { describe, expect, it } from 'vitest';
import { quadSharing } from '../src/tiles.js';
import { agrees } from './compare.js';
import { runCase } from './run-case.js';
import { fusedCases, fusedChecks, splitCases, weightCases } from './fused-checks.js';
import { useGPUFixture, usePlainFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';

const seed = runSeed();
const { checkFused, checkFusedLse } = fusedChecks(seed);

// The library's own device, to check whether it shares loads across quads.
const fixture = useGPUFixture();

// Where the adapter has 4-lane subgroups (SwiftShader), the other gpu suites run the fused kernel
// with k and v shared across quads (flash-quad) and split-keys with the dims split across quads
// (flash-split-quad). A device without the 'subgroups' feature runs the plain kernels, as real
// GPUs do: every fused case on the compact tile, on the wide tile the cases with heads up to 8 dims
// (each head size is a ~10-30 s compile of the wide tile), and every split-keys case.
describe(`every fused, split-keys and staged case on the plain kernels, without subgroups (seed ${seed})`, { timeout: 300_000 }, () => {
  const plainCompact = usePlainFixture();
  const plainWide = usePlainFixture({ fusedTile: 'wide' });

  it('the device has no subgroups, so no quad sharing', () => {
    expect(quadSharing(plainCompact.current.ctx.device)).toBe(false);
  });

  it("on SwiftShader the library's own device shares loads across quads (so the other gpu suites test flash-quad and flash-split-quad)", () => {
    const device = fixture.current.ctx.device;
    const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    // SwiftShader in Dawn: 'subgroups', 4-lane subgroups, a fallback adapter. Elsewhere: the plain kernel.
    // Without adapterInfo both sides would read false: the device must describe its adapter.
    expect(info?.architecture, 'adapterInfo.architecture').toBeTruthy();
    const expected = info?.architecture === 'swiftshader';
    expect(quadSharing(device)).toBe(expected);
  });

  it('only SwiftShader shares loads across quads: another CPU adapter with 4-lane subgroups keeps the plain kernels', () => {
    // Stand-in devices: quadSharing reads only the features and the adapter's info.
    const device = (architecture: string, subgroups = 4, features = ['subgroups']) => ({
      features: new Set(features),
      adapterInfo: { architecture, isFallbackAdapter: true, subgroupMinSize: subgroups, subgroupMaxSize: subgroups },
    }) as unknown as GPUDevice;
    expect(quadSharing(device('swiftshader'))).toBe(true);
    expect(quadSharing(device('llvmpipe'))).toBe(false); // its lanes need not be a quad's invocations in order
    expect(quadSharing(device(''))).toBe(false);
    expect(quadSharing(device('swiftshader', 8))).toBe(false);
    expect(quadSharing(device('swiftshader', 4, []))).toBe(false);
  });

  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, compact', (name, c) => checkFused(plainCompact.current, 'plain compact', name, c));
  const small = fusedCases.filter((c) => c.E <= 8 && (c.Ev ?? c.E) <= 8);
  it.each(small.map((c) => [c.name, c] as const))('%s, wide', (name, c) => checkFused(plainWide.current, 'plain wide', name, c));
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, compact, log-sum-exp', (name, c) => checkFusedLse(plainCompact.current, 'plain compact', name, c));
  it.each(splitCases.map((c) => [c.name, c] as const))('%s, split-keys', (name, c) => checkFused(plainCompact.current, 'plain split-keys', name, c, 'split-keys'));
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, split-keys, log-sum-exp', (name, c) => checkFusedLse(plainCompact.current, 'plain split-keys', name, c, 'split-keys'));
  // The staged kernels without quad sharing (scores and weighted-sum; the other gpu suites run scores-quad and weighted-sum-quad on SwiftShader).
  it.each(weightCases.map((c) => [c.name, c] as const))('%s, staged, weights', async (name, c) => {
    for (const [result, a] of await runCase(plainCompact.current.ctx, c, seed, 'staged', 'weights')) {
      expect(agrees(a), `${name} ${result} on the plain staged kernels, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    }
    expect(plainCompact.current.errors).toEqual([]);
  });
});
