// The package as a user installs it: `npm pack` of the built library, unpacked into a fresh
// project, then (1) a strict TypeScript consumer typechecks against the shipped .d.ts files with no
// tsconfig help (types: []), and (2) a plain Node ESM script imports it by name and runs attention
// on the GPU against the CPU reference. Needs dist/ (npm test builds it first).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
let dir = '';
let app = '';

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.js')) || !existsSync(join(root, 'dist/index.d.ts'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before this test');
  }
  dir = mkdtempSync(join(tmpdir(), 'webgpu-attention-pack-'));
  const [{ filename, files }] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { filename: string; files: { path: string }[] }[];
  expect(files.map((f) => f.path)).toContain('dist/index.d.ts');
  app = join(dir, 'app');
  const pkg = join(app, 'node_modules', 'webgpu-attention');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['xzf', join(dir, filename), '-C', pkg, '--strip-components=1']);
  // The peers come from this checkout (no network): Dawn's bindings and the WebGPU types.
  mkdirSync(join(app, 'node_modules', '@webgpu'), { recursive: true });
  symlinkSync(join(root, 'node_modules', 'webgpu'), join(app, 'node_modules', 'webgpu'));
  symlinkSync(join(root, 'node_modules', '@webgpu', 'types'), join(app, 'node_modules', '@webgpu', 'types'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships ESM, types and no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/webgpu-attention/package.json'), 'utf8'));
    expect(pkg.type).toBe('module');
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@webgpu/types', 'webgpu']);
  });

  it('typechecks a strict TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { createAttention, attentionReference, AttentionInputError, type AttentionBuffers, type Tensor } from 'webgpu-attention';
const q: Tensor = { data: new Float32Array(8), shape: [2, 4] };
export const out: Tensor = attentionReference(q, q, q, { causal: true });
export async function onGpu(device: GPUDevice, buffers: AttentionBuffers): Promise<number> {
  const ctx = await createAttention({ device, fusedTile: 'auto' });
  const encoder: GPUCommandEncoder = device.createCommandEncoder();
  ctx.encode(encoder, buffers, { batch: 1, heads: 1, kvHeads: 1, queryLength: 2, keyLength: 2, headDim: 4, valueDim: 4 });
  const r = await ctx.attention(q, q, q);
  ctx.destroy();
  return r.data.length + (new AttentionInputError('x') instanceof Error ? 1 : 0);
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [], noEmit: true, skipLibCheck: false },
        files: ['consumer.ts'],
      }),
    );
    // Its exit status decides (a tsc that fails writing only to stderr printed nothing to stdout).
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}${tsc.error ?? ''}`, 'tsc errors in the consumer or the shipped .d.ts').toBe('');
    expect(tsc.status).toBe(0);
  });

  it('imports by name in plain Node and computes attention on the GPU like the reference', () => {
    writeFileSync(
      join(app, 'run.mjs'),
      `import { createAttention, attentionReference } from 'webgpu-attention';
const t = (n, shape) => ({ data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7)), shape });
const q = t(2 * 5 * 8, [2, 5, 8]), k = t(2 * 7 * 8, [2, 7, 8]);
const ctx = await createAttention();
const got = (await ctx.attention(q, k, k, { causal: 'bottom-right' })).data;
const want = attentionReference(q, k, k, { causal: 'bottom-right' }).data;
ctx.destroy();
console.log(JSON.stringify({ n: got.length, maxAbs: Math.max(...got.map((x, i) => Math.abs(x - want[i]))) }));
process.exit(0);
`,
    );
    const out = execFileSync(process.execPath, [join(app, 'run.mjs')], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const { n, maxAbs } = JSON.parse(out.trim().split('\n').pop()!);
    expect(n).toBe(2 * 5 * 8);
    expect(maxAbs).toBeLessThan(1e-5);
  });
});
