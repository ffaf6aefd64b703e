// The benchmark runners' command line (bench/host.ts): bad values stop with a message naming the
// option, instead of a run with NaN repetitions or no kernels.
import { describe, expect, it } from 'vitest';
import { parseCli, suiteConfig } from '../bench/host.js';

const parse = (...args: string[]) => parseCli('bench:browser', 'browser', args);

describe('bench command line', () => {
  it('takes good values', () => {
    const o = parse('--reps', '7', '--budget', '2.5', '--kernels', 'fused, split-keys', '--peers', '', '--shapes', 'S65536', '--peer-max-gflop', '0');
    expect(o.reps).toBe(7);
    expect(o.budget).toBe(2.5);
    expect(o.kernels).toBe('fused,split-keys');
    expect(o.peers).toBe('');
    expect(o.peerMaxGflop).toBe(0);
    expect(parse().kernels).toBe('auto,fused,staged,split-keys');
    expect(parse().fusedTile).toBeUndefined();
    expect(parse('--fused-tile', 'workgroup-split').fusedTile).toBe('workgroup-split');
    expect(parse().splitTile).toBeUndefined();
    expect(parse('--split-tile', 'workgroup').splitTile).toBe('workgroup');
    expect(() => parse('--split-tile', 'held-keys')).toThrow(/--split-tile <tile>.*'held-keys' is invalid.*auto, invocation, workgroup/);
  });

  it.each([
    [['--reps', '-3'], /--reps <n>.*'-3' is invalid/],
    [['--reps', '2.5'], /--reps <n>.*whole number/],
    [['--reps', '3'], /--reps <n>.*'3' is invalid.*>= 5 \(a median of at least 5 timed runs\)/],
    [['--budget', '0'], /--budget <seconds>.*> 0/],
    [['--timeout', 'abc'], /--timeout <seconds>.*'abc'/],
    [['--staged-max-gflop', '-1'], /--staged-max-gflop <n>.*>= 0/],
    [['--kernels', 'fused,bogus'], /--kernels <list>.*unknown: bogus/],
    [['--kernels', ','], /--kernels <list>.*expected some of/],
    [['--peers', 'tfjs,torch'], /--peers <list>.*unknown: torch/],
    [['--shapes', 'zzz'], /--shapes 'zzz' selects no shape/],
    [['--fused-tile', 'huge'], /--fused-tile <tile>.*expected one of auto, compact/],
  ])('%j → an error naming the option', (args, message) => {
    expect(() => parse(...args)).toThrow(message);
  });

  it('--shapes that select only GPU shapes: an error on a software adapter, not a run of no shapes', () => {
    const o = parse('--shapes', 'L4096');
    expect(() => suiteConfig(o, false)).toThrow(/--shapes 'L4096' selects no shape on this adapter \(L=S=4096 is measured only on a real GPU or with --gpu\)/);
    expect(suiteConfig(o, true).shapes.map((s) => s.id)).toEqual(expect.arrayContaining([expect.stringContaining('L4096')]));
    expect(suiteConfig(parse('--shapes', 'L4096', '--gpu'), false).shapes.length).toBeGreaterThan(0);
  });

  it('in Node: no peers unless asked; TFJS and ORT when asked', () => {
    const node = (...args: string[]) => parseCli('bench', 'node', args);
    expect(node().peers).toBe('');
    expect(node('--peers', 'tfjs').peers).toBe('tfjs');
    expect(node('--peers', 'tfjs,ort').peers).toBe('tfjs,ort');
    expect(() => node('--peers', 'ort,torch')).toThrow(/--peers <list>.*unknown: torch; expected some of tfjs, ort\.$/);
    expect(parse().peers).toBe('tfjs,ort');
  });
});
