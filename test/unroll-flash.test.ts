// shaders/flash.wgsl's unrolled lines are written by scripts/unroll-flash.mjs from its templates.
// A fix made by hand in the .wgsl and not in the template is undone the next time the script runs
// (session 25 found the `pv` template a signature behind the kernel), so the two are held equal here.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

// Runs the script with --check on a copy of it and of flash.wgsl (text), so that a broken --check
// cannot write over the checkout's kernel.
function check(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'unroll-flash-'));
  try {
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'shaders'));
    copyFileSync(join(root, 'scripts/unroll-flash.mjs'), join(dir, 'scripts/unroll-flash.mjs'));
    writeFileSync(join(dir, 'shaders/flash.wgsl'), text);
    const r = spawnSync(process.execPath, [join(dir, 'scripts/unroll-flash.mjs'), '--check'], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}`, after: readFileSync(join(dir, 'shaders/flash.wgsl'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('scripts/unroll-flash.mjs', () => {
  const text = readFileSync(join(root, 'shaders/flash.wgsl'), 'utf8');

  it('writes exactly the unrolled lines shaders/flash.wgsl has (--check)', () => {
    const r = check(text);
    expect(r.out).toContain('its unrolled lines are what the templates write');
    expect(r.status).toBe(0);
    expect(r.after).toBe(text);
  });

  it('--check fails on a copy whose unrolled line differs from its template, names the line, and writes nothing', () => {
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.includes('if (VALUE_VEC4 > 3u) { let V = v_share('));
    expect(at).toBeGreaterThan(0);
    lines[at] = lines[at].replace('A0_3 = cols(A0_3, corr0) + V * P0;', 'A0_3 = cols(A0_3, corr0) + V * P1;');
    const drifted = lines.join('\n');
    expect(drifted).not.toBe(text);
    const r = check(drifted);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`differs from scripts/unroll-flash.mjs's templates from line ${at + 1}`);
    expect(r.after).toBe(drifted);
  });
});
