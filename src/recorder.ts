// Records our kernels into an encoder: pipelines (cached per device), the uniform parameter
// blocks, scratch buffers reserved for the call, and dispatches folded to fit the device's grid.
// A call is planned first and written into the encoder at the end (emit), so a call that fails
// midway leaves nothing in the encoder.
import { awaitGpu } from './await-gpu.js';
import type { BindGroupCache } from './bind-group-cache.js';
import type { BufferPool } from './buffer-pool.js';
import { DeviceLimitError } from './errors.js';
import { BufferUsage } from './gpu-constants.js';
import { kernelSource, SOURCE_CONSTANTS, type KernelName, type Loads } from './shaders.js';
import type { TileTuner } from './tile-tuning.js';
import type { UniformBlocks } from './uniform-blocks.js';
import { softwareAdapter, type DispatchTile, type FusedTileChoice, type SplitTileChoice, type TileName } from './tiles.js';
import { CausalMode, causalOffset, kvRows, type Problem } from './validate.js';

// Cached per device, so a lost or destroyed device takes its pipelines with it.
const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
const moduleCache = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

export type Constants = Record<string, number | boolean>;

function pipelineKey(kernel: KernelName, loads: Loads, constants: Constants): string {
  return `${kernel}:${loads}${JSON.stringify(constants)}`;
}

function pipelineDescriptor(device: GPUDevice, kernel: KernelName, loads: Loads, constants: Constants): GPUComputePipelineDescriptor {
  let modules = moduleCache.get(device);
  if (!modules) moduleCache.set(device, (modules = new Map()));
  // Constants written into the source (SOURCE_CONSTANTS) make a module per value; the rest are overrides.
  const inSource = SOURCE_CONSTANTS[kernel] ?? [];
  const moduleKey = `${kernel}:${loads}${inSource.map((name) => `:${name}=${constants[name]}`).join('')}`;
  let module = modules.get(moduleKey);
  if (!module) {
    module = device.createShaderModule({ code: kernelSource(kernel, loads, constants), label: `webgpu-attention ${kernel}` });
    modules.set(moduleKey, module);
  }
  const numeric: Record<string, number> = {};
  for (const [k, v] of Object.entries(constants)) if (!inSource.includes(k)) numeric[k] = typeof v === 'boolean' ? Number(v) : v;
  return { layout: 'auto', compute: { module, entryPoint: 'main', constants: numeric }, label: `webgpu-attention ${kernel}` };
}

function cacheOf(device: GPUDevice): Map<string, GPUComputePipeline> {
  let pipelines = pipelineCache.get(device);
  if (!pipelines) pipelineCache.set(device, (pipelines = new Map()));
  return pipelines;
}

export function getPipeline(device: GPUDevice, kernel: KernelName, loads: Loads, constants: Constants): GPUComputePipeline {
  const pipelines = cacheOf(device);
  const key = pipelineKey(kernel, loads, constants);
  let pipeline = pipelines.get(key);
  if (!pipeline) {
    pipeline = device.createComputePipeline(pipelineDescriptor(device, kernel, loads, constants));
    pipelines.set(key, pipeline);
  }
  return pipeline;
}

// Pipelines being compiled in the background (createComputePipelineAsync), and ones that failed.
const compiling = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline | null>>>();

/**
 * Compiles a pipeline without blocking (the driver compiles on its own threads) and caches it.
 * Resolves to null if the compile failed (the caller falls back to another pipeline). Once per key.
 */
export function compilePipeline(device: GPUDevice, kernel: KernelName, loads: Loads, constants: Constants): Promise<GPUComputePipeline | null> {
  const key = pipelineKey(kernel, loads, constants);
  const done = cacheOf(device).get(key);
  if (done) return Promise.resolve(done);
  let inFlight = compiling.get(device);
  if (!inFlight) compiling.set(device, (inFlight = new Map()));
  let p = inFlight.get(key);
  if (!p) {
    p = awaitGpu(device.createComputePipelineAsync(pipelineDescriptor(device, kernel, loads, constants)), { softwareAdapter: softwareAdapter(device) }).then(
      (pipeline) => {
        // A call may have compiled the same pipeline meanwhile (getPipeline): keep that one, which
        // its bind groups already name.
        const pipelines = cacheOf(device);
        const cached = pipelines.get(key);
        if (cached) return cached;
        pipelines.set(key, pipeline);
        return pipeline;
      },
      () => null,
    );
    inFlight.set(key, p);
  }
  return p;
}

/** Whether a pipeline is compiled; if not, starts compiling it in the background. */
export function pipelineReady(device: GPUDevice, kernel: KernelName, loads: Loads, constants: Constants): boolean {
  if (cacheOf(device).has(pipelineKey(kernel, loads, constants))) return true;
  void compilePipeline(device, kernel, loads, constants);
  return false;
}

export interface ParamFields {
  bhOffset: number;
  bhCount: number;
  splits?: number;
  keysPerSplit?: number;
  /**
   * The log-sum-exp is written (params.write_lse; flash, flash-tiled and the merges read it): a
   * parameter, not a constant, so calls with and without it share their pipelines (not their
   * uniform blocks, which differ in this word).
   */
  writeLse?: boolean;
}

const PARAM_WORDS = 20; // 20 fields, a multiple of 16 bytes

interface Command {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: [number, number, number];
}

export class Recorder {
  /** Scratch buffers this recording took: attention() returns them once its GPU work is done, encode() at once. */
  readonly reserved: GPUBuffer[] = [];
  private readonly commands: Command[] = [];

  constructor(
    readonly device: GPUDevice,
    private readonly pool: BufferPool,
    private readonly uniforms: UniformBlocks,
    private readonly dummies: { read: GPUBuffer; write: GPUBuffer },
    private readonly bindGroups: BindGroupCache,
    /** The context's fusedTile option (or the tile a probe forces). */
    readonly fusedTile: FusedTileChoice = 'auto',
    /** The context's measurement of the fused tiles on this adapter (fusedTile 'auto'). */
    private readonly tuner?: TileTuner,
    /** The context's splitKeysTile option. */
    readonly splitTile: SplitTileChoice = 'auto',
    /** Tests (debug.poisonOutputs): fill scratch with NaN as it is taken, so a slot a kernel forgets to write shows. */
    private readonly poison = false,
    /**
     * Whether this recording may start the tile measurement (attention calls, whose context submits).
     * encode() may not: the measurement submits probes on the device, and encode() promises no submit.
     */
    private readonly mayMeasure = true,
  ) {}

  /** Whether the adapter counts as a software one for the tile choice (the tuner's view, else detected). */
  get software(): boolean {
    return this.tuner?.software ?? softwareAdapter(this.device);
  }

  /**
   * fusedTile 'auto': the tile this adapter's measurement chose for these head sizes, once `ready`
   * says its pipeline is compiled (ready starts what is missing, in the background); compact until
   * then. A verdict the call `declined` (held-keys: heldKeysServes) gives compact, the one tile timed
   * beside held-keys, never asked for itself.
   */
  measuredTile(
    loads: Loads, shape: { headDim: number; valueDim: number }, flops: number, ready: (tile: TileName) => boolean,
    declined: (tile: TileName) => boolean,
  ): TileName {
    const verdict = this.tuner?.verdict(loads, shape.headDim, shape.valueDim, this.mayMeasure ? flops : null);
    if (!verdict || verdict === 'compact') return 'compact';
    if (declined(verdict)) return 'compact';
    return ready(verdict) ? verdict : 'compact';
  }

  /** Whether a pipeline is compiled (if not, its compile starts in the background). */
  ready(kernel: KernelName, loads: Loads, constants: Constants): boolean {
    return pipelineReady(this.device, kernel, loads, constants);
  }

  scratch(bytes: number, usage: number, label: string): GPUBuffer {
    // Poisoned scratch needs COPY_DST for the write; INDIRECT (unused) keeps it in a pool class of
    // its own, apart from the uploads (STORAGE | COPY_DST), so a repeated call still gets the same
    // buffer for each role (tests only). The write lands before this recording's commands run:
    // queue writes precede any later submit.
    const poisoned = usage | BufferUsage.COPY_DST | BufferUsage.INDIRECT;
    const b = this.pool.acquire(bytes, this.poison ? poisoned : usage, label);
    this.reserved.push(b);
    if (this.poison) this.device.queue.writeBuffer(b, 0, new Float32Array(Math.ceil(bytes / 4)).fill(NaN));
    return b;
  }

  get dummyRead(): GPUBuffer {
    return this.dummies.read;
  }

  get dummyWrite(): GPUBuffer {
    return this.dummies.write;
  }

  /** The uniform block holding one dispatch's parameters, found by content (UniformBlocks). */
  params(p: Problem, f: ParamFields): GPUBuffer {
    const s = p.shape;
    const buf = new ArrayBuffer(PARAM_WORDS * 4);
    const u = new Uint32Array(buf);
    const fl = new Float32Array(buf);
    const i = new Int32Array(buf);
    u.set([s.batch, s.heads, s.kvHeads, s.queryLength, s.keyLength, s.headDim, s.valueDim, s.heads / s.kvHeads]);
    fl[8] = p.scale;
    u[9] = p.causal === CausalMode.None ? 0 : 1;
    i[10] = causalOffset(p.causal, s);
    u[11] = p.mask?.batchStride ?? 0;
    u[12] = p.mask?.headStride ?? 0;
    u[13] = f.bhOffset;
    u[14] = f.bhCount;
    u[15] = f.splits ?? 1;
    u[16] = f.keysPerSplit ?? s.keyLength;
    u[17] = kvRows(s);
    u[18] = p.mask?.rowStride ?? 0;
    u[19] = f.writeLse ? 1 : 0;
    // Scratch from a lent pool means encode(): the caller submits, maybe much later.
    return this.uniforms.get(buf, this.pool.lent, 'webgpu-attention params');
  }

  /**
   * Records one dispatch of `workgroups` workgroups, folded into 2-D/3-D where needed. `_tile`: the
   * tile this dispatch is (only preflight's dry run reads it, to word a compile failure).
   */
  dispatch(
    kernel: KernelName, loads: Loads, constants: Constants, bindings: [number, GPUBuffer][], workgroups: number,
    _tile?: DispatchTile,
  ): void {
    if (workgroups === 0) return;
    const pipeline = getPipeline(this.device, kernel, loads, constants);
    const bindGroup = this.bindGroups.get(pipeline, bindings, `webgpu-attention ${kernel}`);
    const grid = foldGrid(workgroups, this.device.limits.maxComputeWorkgroupsPerDimension);
    this.commands.push({ pipeline, bindGroup, grid });
  }

  /** Writes the planned call into `encoder`, as one compute pass. */
  emit(encoder: GPUCommandEncoder): void {
    const pass = encoder.beginComputePass({ label: 'webgpu-attention' });
    for (const c of this.commands) {
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.bindGroup);
      pass.dispatchWorkgroups(...c.grid);
    }
    pass.end();
  }
}

/** Splits n workgroups into x·y·z ≥ n with each ≤ max; kernels skip the surplus. */
export function foldGrid(n: number, max: number): [number, number, number] {
  if (n <= max) return [n, 1, 1];
  const y = Math.ceil(n / max);
  if (y <= max) return [Math.ceil(n / y), y, 1];
  const z = Math.ceil(n / (max * max));
  if (z > max) {
    throw new DeviceLimitError(
      `${n} workgroups exceed maxComputeWorkgroupsPerDimension³ (${max}³); split the problem into smaller calls`,
    );
  }
  return [max, max, z];
}
