// Which kernels a call ran: the pipelines its compute passes set, recorded on the device, and the
// rule for each forced tile. Shared by the Node fixture (test/gpu-context.ts) and the browser harness.
import { heldKeysFit, namedBlocksFit } from '../src/tiles.js';
import type { Case } from './cases.js';

/** A pipeline a compute pass set: its kernel (the label without 'webgpu-attention ') and override constants. */
export interface Dispatch {
  kernel: string;
  constants: Record<string, number>;
}

/**
 * Records the pipelines compute passes set on `device` (its pipelines are described as they are
 * created), so a test can tell which kernels and tile a call ran, not only that its answer was right.
 */
export function recordDispatches(device: GPUDevice, into: Dispatch[]): void {
  const described = new WeakMap<GPUComputePipeline, Dispatch>();
  const describe = (d: GPUComputePipelineDescriptor): Dispatch => ({
    kernel: (d.label ?? '').replace(/^webgpu-attention /, ''),
    constants: { ...(d.compute.constants ?? {}) } as Record<string, number>,
  });
  const create = device.createComputePipeline.bind(device);
  device.createComputePipeline = (d) => {
    const p = create(d);
    described.set(p, describe(d));
    return p;
  };
  const createAsync = device.createComputePipelineAsync.bind(device);
  device.createComputePipelineAsync = (d) =>
    createAsync(d).then((p) => {
      described.set(p, describe(d));
      return p;
    });
  // The encoder is wrapped in a Proxy, not given own properties: encode()'s tests check that the
  // caller's encoder is left as it was.
  const encoder = device.createCommandEncoder.bind(device);
  device.createCommandEncoder = (d) => {
    const e = encoder(d);
    const beginComputePass = (pd?: GPUComputePassDescriptor) => {
      const pass = e.beginComputePass(pd);
      const set = pass.setPipeline.bind(pass);
      pass.setPipeline = (p) => {
        into.push(described.get(p) ?? { kernel: 'not made on this device', constants: {} });
        set(p);
      };
      return pass;
    };
    return new Proxy(e, {
      get: (target, key) => {
        if (key === 'beginComputePass') return beginComputePass;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}

const heads = (c: Case) => ({ headDim: c.E, valueDim: c.Ev ?? c.E });
/** A fused register tile: wide (RG > 1 row groups an invocation) or compact (RG 1). */
const flash = (ran: Dispatch[], wide: boolean) => ran.some((d) => /^flash(-quad)?$/.test(d.kernel) && (d.constants.RG ?? 1) > 1 === wide);
const noQuad = (ran: Dispatch[]) => ran.every((d) => !d.kernel.endsWith('-quad'));
const has = (ran: Dispatch[], kernel: string) => ran.some((d) => d.kernel === kernel);

/**
 * Whether the pipelines a call set are the forced tile's (a right answer from another tile would
 * pass the reference comparison): each tile label the suites use, and where a tile hands a case to
 * another (wide, where flash.wgsl's named blocks do not hold the heads, to compact; held-keys, where it does not hold the heads, to wide).
 */
export function ranTile(tile: string, c: Case, ran: Dispatch[], quad: boolean): boolean {
  switch (tile) {
    case 'wide':
      return flash(ran, namedBlocksFit(heads(c)));
    case 'plain wide':
      return flash(ran, namedBlocksFit(heads(c))) && noQuad(ran);
    case 'compact': {
      // q held in registers (Q_REGS) only where loads are quad-shared and q has at most 64 dims
      // (past that it cost a 14-16 s compile on SwiftShader); Ev does not count (E 4, Ev 100 has it).
      const qRegs = quad && c.E <= 64;
      return ran.some((d) => /^flash(-quad)?$/.test(d.kernel) && (d.constants.RG ?? 1) === 1 && Boolean(d.constants.Q_REGS) === qRegs);
    }
    case 'plain compact':
      return flash(ran, false) && noQuad(ran);
    case 'plain split-keys':
      return has(ran, 'flash-split') && noQuad(ran);
    case 'plain staged':
      return has(ran, 'scores') && noQuad(ran);
    case 'workgroup':
      return has(ran, 'flash-tiled') && !has(ran, 'merge');
    case 'workgroup-split':
      return has(ran, 'flash-tiled');
    case 'held-keys':
      return quad && heldKeysFit(heads(c))
        ? ran.some((d) => /^flash-held-keys(-32)?$/.test(d.kernel)) && has(ran, 'merge-rows')
        : flash(ran, namedBlocksFit(heads(c)));
    case 'split-keys workgroup':
      return has(ran, 'flash-decode') && has(ran, 'merge-decode');
    case 'split-keys invocation':
      // The dims split across a quad where loads are quad-shared, else one invocation per (row, chunk).
      return has(ran, quad ? 'flash-split-quad' : 'flash-split') && !has(ran, 'flash-decode');
    default:
      throw new Error(`dispatches: no rule for the kernels of tile '${tile}'`);
  }
}

/**
 * The ranTile rule for a context's tile name as the suites and scripts/gpu-check.ts name contexts
 * ('plain': a device without subgroups; 'split-invocation' / 'split-workgroup': the split-keys
 * path's tiles forced; a fused tile's own name), for calls of `kernel` on it.
 */
export function tileRule(tile: string, kernel: string): string {
  if (tile === 'plain') return `plain ${kernel === 'split-keys' || kernel === 'staged' ? kernel : 'compact'}`;
  if (tile === 'split-workgroup') return 'split-keys workgroup';
  if (tile === 'split-invocation') return 'split-keys invocation';
  return tile;
}

/** The kernels that start each path (under 'auto', which tile or variant runs is the context's choice). */
const PATH_KERNELS: Record<string, RegExp> = {
  fused: /^flash(-quad|-tiled|-held-keys(-32)?)?$/,
  'split-keys': /^flash-(split(-quad)?|decode)$/,
  staged: /^scores(-quad)?$/,
};

/** Whether a call asked for `kernel` ran that path (any of its tiles). */
export function ranPath(kernel: string, ran: Dispatch[]): boolean {
  const path = PATH_KERNELS[kernel];
  if (!path) throw new Error(`dispatches: no path named '${kernel}'`);
  return ran.some((d) => path.test(d.kernel));
}
