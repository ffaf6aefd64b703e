// Shared by the Node runner (bench/node.ts) and the browser page (bench/page/main.ts):
// shapes, data, timing, FLOP counting, ceilings, our kernels, the CPU reference, verification,
// targets and the text table. Nothing here touches Node or DOM APIs, so both sides can import it.
// GPU waits go through the library's awaitGpu (its source, not the build under test, so every
// build is timed the same way): in Node it keeps Dawn's polling from spinning a CPU core that a
// software adapter needs; in the browser it does nothing.
import { awaitGpu } from '../src/await-gpu';
import { softwareAdapter } from '../src/tiles';

// ---------------------------------------------------------------------------------------------
// Shapes

export interface BenchShape {
  /** Stable id used by --shapes filters and to join rows of different implementations. */
  id: string;
  group: 'sweep' | 'headdim' | 'decode' | 'gqa';
  B: number;
  H: number;
  /** Heads of K and V (GQA when < H). */
  Hkv: number;
  Lq: number;
  Lk: number;
  E: number;
  causal: boolean;
}

function shape(group: BenchShape['group'], B: number, H: number, Hkv: number, Lq: number, Lk: number, E: number, causal: boolean): BenchShape {
  const heads = Hkv === H ? `H${H}` : `H${H}kv${Hkv}`;
  const id = `B${B}-${heads}-L${Lq}-S${Lk}-E${E}${causal ? '-causal' : ''}`;
  return { id, group, B, H, Hkv, Lq, Lk, E, causal };
}

export interface ShapeOptions {
  /** Few small shapes, for smoke checks. */
  quick?: boolean;
  /** A real GPU: adds L=S=4096. */
  gpu?: boolean;
  /** Comma-separated substrings; a shape is kept if its id contains any of them. */
  filter?: string;
}

export function buildShapes(opts: ShapeOptions = {}): BenchShape[] {
  let shapes: BenchShape[];
  if (opts.quick) {
    shapes = [
      shape('sweep', 1, 8, 8, 128, 128, 64, false),
      shape('sweep', 1, 8, 8, 256, 256, 64, false),
      shape('sweep', 1, 8, 8, 256, 256, 64, true),
      shape('decode', 1, 8, 8, 1, 1024, 64, false),
      shape('gqa', 1, 32, 8, 128, 128, 64, false),
    ];
  } else {
    const lengths = [128, 256, 512, 1024, 2048, ...(opts.gpu ? [4096] : [])];
    shapes = [];
    for (const causal of [false, true]) for (const L of lengths) shapes.push(shape('sweep', 1, 8, 8, L, L, 64, causal));
    shapes.push(shape('headdim', 1, 8, 8, 512, 512, 128, false));
    // Decoding: one query row against a long cache; no mask (causal with Lq=1 bottom-right is no mask).
    for (const S of [1024, 8192, 65536]) shapes.push(shape('decode', 1, 8, 8, 1, S, 64, false));
    shapes.push(shape('gqa', 1, 32, 8, 256, 256, 64, false));
  }
  if (opts.filter) {
    // "a,b" keeps ids containing a or b; "!c" drops ids containing c.
    const parts = opts.filter.split(',').map((s) => s.trim()).filter(Boolean);
    const keep = parts.filter((p) => !p.startsWith('!'));
    const drop = parts.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
    shapes = shapes.filter((s) => (keep.length === 0 || keep.some((p) => s.id.includes(p))) && !drop.some((p) => s.id.includes(p)));
  }
  return shapes;
}

export function shapeLabel(s: BenchShape): string {
  const heads = s.Hkv === s.H ? `H${s.H}` : `H${s.H}/${s.Hkv}kv`;
  return `B${s.B} ${heads} L${s.Lq} S${s.Lk} E${s.E}${s.causal ? ' causal' : ''}`;
}

/** Attention FLOPs by convention: 4·B·H·Lq·Lk·E (two matmuls; softmax not counted). Causal counts the same nominal FLOPs. */
export function attentionFlops(s: BenchShape): number {
  return 4 * s.B * s.H * s.Lq * s.Lk * s.E;
}

/** Bytes of K and V together (f32): what a decoding step must stream at least once. */
export function kvBytes(s: BenchShape): number {
  return 2 * s.B * s.Hkv * s.Lk * s.E * 4;
}

// ---------------------------------------------------------------------------------------------
// Data

export interface HostTensor {
  data: Float32Array<ArrayBuffer>;
  shape: [number, number, number, number];
}

export interface ShapeData {
  q: HostTensor;
  k: HostTensor;
  v: HostTensor;
}

/** Deterministic inputs in [-1, 1) (xorshift), so every implementation sees the same numbers. */
export function makeData(s: BenchShape, seed = 1): ShapeData {
  let x = (seed * 2654435761) >>> 0 || 1;
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      a[i] = x / 2147483648 - 1;
    }
    return a;
  };
  return {
    q: { data: fill(s.B * s.H * s.Lq * s.E), shape: [s.B, s.H, s.Lq, s.E] },
    k: { data: fill(s.B * s.Hkv * s.Lk * s.E), shape: [s.B, s.Hkv, s.Lk, s.E] },
    v: { data: fill(s.B * s.Hkv * s.Lk * s.E), shape: [s.B, s.Hkv, s.Lk, s.E] },
  };
}

/** [B, Hkv, L, E] -> [B, H, L, E] by repeating each KV head H/Hkv times (for peers without GQA). */
export function repeatKvHeads(t: HostTensor, H: number): HostTensor {
  const [B, Hkv, L, E] = t.shape;
  if (Hkv === H) return t;
  const rep = H / Hkv;
  const out = new Float32Array(B * H * L * E);
  const block = L * E;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const src = (b * Hkv + Math.floor(h / rep)) * block;
      out.set(t.data.subarray(src, src + block), (b * H + h) * block);
    }
  return { data: out, shape: [B, H, L, E] };
}

/** [B, H, L, E] -> [B, L, H*E] (the layout ORT's MultiHeadAttention wants), and back. */
export function toBLD(t: HostTensor): Float32Array<ArrayBuffer> {
  const [B, H, L, E] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++) {
        const src = ((b * H + h) * L + l) * E;
        out.set(t.data.subarray(src, src + E), (b * L + l) * H * E + h * E);
      }
  return out;
}

export function fromBLD(data: Float32Array, B: number, H: number, L: number, E: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++) {
        const dst = ((b * H + h) * L + l) * E;
        out.set(data.subarray((b * L + l) * H * E + h * E, (b * L + l) * H * E + h * E + E), dst);
      }
  return out;
}

/** max |out - ref| / max |ref|: one number that is ~1e-7 for a right f32 answer and ~1 for a wrong one. */
export function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return Infinity;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(out[i] - ref[i]);
    if (Number.isNaN(d)) return Infinity; // a NaN in either is wrong (the bench's inputs have none)
    maxDiff = Math.max(maxDiff, d);
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

export const VERIFY_TOLERANCE = 1e-3;

// ---------------------------------------------------------------------------------------------
// Timing

export interface RepeatPolicy {
  warmup: number;
  /** Timed runs wanted (the median is reported). */
  reps: number;
  /** Fewer timed runs (not under MIN_REPS) when the first timed run says `reps` would exceed this. */
  budgetMs: number;
}

/** The fewest timed runs a measurement takes, however slow (issue 5: the median of at least 5). */
export const MIN_REPS = 5;
/** A measurement's warm-up lasts at least this long (and at least policy.warmup runs). */
export const WARMUP_MIN_MS = 250;
/** Timed runs of a short call fill at least this long, up to MAX_REPS runs (unless policy.reps < MIN_REPS). */
export const MIN_TIMED_MS = 250;
export const MAX_REPS = 200;

export const DEFAULT_POLICY: RepeatPolicy = { warmup: 1, reps: 5, budgetMs: 12_000 };
export const QUICK_POLICY: RepeatPolicy = { warmup: 1, reps: 5, budgetMs: 3_000 };

export interface Sample {
  /** Wall clock from recording (ours) or the call (peers) to onSubmittedWorkDone; around the whole call for end-to-end. */
  wallMs: number;
  /** From timestamp-query, when the device has it. */
  gpuMs?: number;
}

export interface Measurement {
  /** Median of the timed runs: GPU timestamps when available, else wall clock. */
  ms: number;
  wallMs: number;
  gpuMs?: number;
  timing: 'timestamp-query' | 'wall-clock';
  reps: number;
  warmup: number;
  samplesMs: number[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const now = (): number => globalThis.performance.now();

/**
 * Warm-up, then the median of policy.reps timed runs, or fewer when the runs are slow (never under
 * MIN_REPS, unless policy.reps itself is smaller), recorded in `reps`. The first timed run sizes
 * the count: a warm-up run includes one-time costs (compiling, first allocations).
 *
 * Short calls get more of both, for every implementation alike: the warm-up lasts at least
 * WARMUP_MIN_MS and the timed runs fill at least MIN_TIMED_MS (up to MAX_REPS runs; not when
 * policy.reps is under MIN_REPS). A 2-5 ms call with one warm-up run and 9 timed ones was timed
 * within ~40 ms of the previous step, and work that step left running on the CPU (V8 optimizing a
 * peer's code in the background) took one of a software adapter's two cores for all of them:
 * decoding S=1024 measured 2.3-2.9 ms of GPU time in such runs against 1.3-1.6 ms once settled
 * (BENCHMARKS.md, session 11).
 */
export async function measure(run0: () => Promise<Sample>, policy: RepeatPolicy, stop?: Stop): Promise<Measurement> {
  // Once stopped (its step timed out), no further run starts: the loop must not go on timing in the
  // background while the next implementation is measured on the same adapter.
  const run = () => {
    if (stop?.reason) return Promise.reject(stop.reason);
    return run0();
  };
  const samples: Sample[] = [];
  const warmStart = now();
  let warmup = 0;
  while (warmup < policy.warmup || now() - warmStart < WARMUP_MIN_MS) {
    await run();
    warmup++;
  }
  samples.push(await run());
  const firstMs = Math.max(samples[0].wallMs, 1e-3);
  const fit = Math.floor(policy.budgetMs / firstMs);
  let reps = Math.min(policy.reps, Math.max(MIN_REPS, fit));
  // A policy asking for fewer than MIN_REPS (a smoke check) gets what it asks for.
  if (policy.reps >= MIN_REPS) reps = Math.max(reps, Math.min(MAX_REPS, Math.floor(MIN_TIMED_MS / firstMs)));
  while (samples.length < reps) samples.push(await run());
  const wall = median(samples.map((s) => s.wallMs));
  const hasGpu = samples.every((s) => s.gpuMs !== undefined && s.gpuMs > 0);
  const gpu = hasGpu ? median(samples.map((s) => s.gpuMs!)) : undefined;
  return {
    ms: gpu ?? wall,
    wallMs: wall,
    gpuMs: gpu,
    timing: hasGpu ? 'timestamp-query' : 'wall-clock',
    reps,
    warmup,
    samplesMs: samples.map((s) => (hasGpu ? s.gpuMs! : s.wallMs)),
  };
}

/** Set once a measurement's step timed out: measure() then starts no further run. */
export interface Stop {
  reason?: Error;
}

/**
 * Rejects after `ms` so that no step can hang the run. A call in flight is not cancelled, but a
 * `stop` given is set, so a measure() loop it was passed starts no further run.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, stop?: Stop): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new Error(`timeout after ${Math.round(ms / 1000)} s: ${what}`);
        if (stop) stop.reason = e;
        reject(e);
      }, ms);
    }),
  ]);
}

/** measure() under withTimeout: on a timeout, the loop stops after the run in flight. */
export function measureWithin(run: () => Promise<Sample>, policy: RepeatPolicy, ms: number, what: string): Promise<Measurement> {
  const stop: Stop = {};
  return withTimeout(measure(run, policy, stop), ms, what, stop);
}

/**
 * Times work recorded into a command encoder. GPU time comes from two empty compute passes with
 * timestampWrites around the recorded work (so it also covers passes we do not own, like the ones
 * our library records in encode()); wall time runs from recording to onSubmittedWorkDone.
 */
export class GpuTimer {
  readonly hasTimestamps: boolean;
  private querySet?: GPUQuerySet;
  private resolveBuf?: GPUBuffer;
  private readBuf?: GPUBuffer;

  constructor(private device: GPUDevice) {
    this.hasTimestamps = device.features.has('timestamp-query');
    if (this.hasTimestamps) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
      this.resolveBuf = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readBuf = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  async time(record: (encoder: GPUCommandEncoder) => void): Promise<Sample> {
    // The wall clock covers recording too, as the peers' wall clocks cover their own recording.
    const t0 = now();
    const enc = this.device.createCommandEncoder();
    if (this.querySet) enc.beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0 } }).end();
    record(enc);
    if (this.querySet) {
      enc.beginComputePass({ timestampWrites: { querySet: this.querySet, endOfPassWriteIndex: 1 } }).end();
      enc.resolveQuerySet(this.querySet, 0, 2, this.resolveBuf!, 0);
      enc.copyBufferToBuffer(this.resolveBuf!, 0, this.readBuf!, 0, 16);
    }
    const cmd = enc.finish();
    this.device.queue.submit([cmd]);
    await awaitGpu(this.device.queue.onSubmittedWorkDone(), { softwareAdapter: softwareAdapter(this.device) });
    const wallMs = now() - t0;
    if (!this.readBuf) return { wallMs };
    await awaitGpu(this.readBuf.mapAsync(GPUMapMode.READ), { softwareAdapter: softwareAdapter(this.device) });
    const [a, b] = new BigUint64Array(this.readBuf.getMappedRange().slice(0));
    this.readBuf.unmap();
    const gpuMs = Number(b - a) / 1e6;
    return { wallMs, gpuMs: gpuMs > 0 ? gpuMs : undefined };
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.readBuf?.destroy();
  }
}

/**
 * Requests a device with timestamp-query and subgroups when the adapter has them (and the adapter's
 * largest buffers): the features the library's own device would ask for, so ours runs as a user's would.
 */
export async function requestBenchDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const features: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
  if (adapter.features.has('subgroups')) features.push('subgroups' as GPUFeatureName);
  return adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Ceilings

export interface Ceilings {
  fma: { gflops: number; flops: number; measurement: Measurement };
  /** The first ceiling kernel (one FMA step per loop iteration): on SwiftShader it measures loop overhead. For comparison only. */
  fmaLooped?: { gflops: number; flops: number; measurement: Measurement };
  copy: { gbps: number; bytesMoved: number; bufferBytes: number; measurement: Measurement };
}

export interface CeilingShaders {
  fma: string;
  /** bench/shaders/fma-looped.wgsl (optional). */
  fmaLooped?: string;
  copy: string;
}

/** FLOPs per loop iteration of the FMA ceiling kernel: each vec4 `fma(` in its loop is 4 lanes x 2. */
export function fmaFlopsPerIteration(wgsl: string): number {
  const code = wgsl.replace(/\/\/.*$/gm, '');
  const steps = code.match(/\bfma\(/g)?.length ?? 0;
  if (steps === 0) throw new Error('FMA ceiling shader: no fma( calls to count FLOPs by');
  return steps * 4 * 2;
}

/** Median time of one ceiling kernel: its buffers bound to bindings 0, 1, ... in order, `workgroups` in x. */
function timeKernel(device: GPUDevice, timer: GpuTimer, wgsl: string, buffers: GPUBuffer[], workgroups: number, policy: RepeatPolicy): Promise<Measurement> {
  const pipe = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: wgsl }), entryPoint: 'main' },
  });
  const bind = device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return measure(
    () =>
      timer.time((enc) => {
        const pass = enc.beginComputePass();
        pass.setPipeline(pipe);
        pass.setBindGroup(0, bind);
        pass.dispatchWorkgroups(workgroups);
        pass.end();
      }),
    { ...policy, reps: Math.max(policy.reps, 5) },
  );
}

/** One FMA kernel: 1024 workgroups of 64 invocations, `iterations` loop iterations each. */
async function measureFma(device: GPUDevice, timer: GpuTimer, wgsl: string, iterations: number, policy: RepeatPolicy, destroy: GPUBuffer[]) {
  const workgroups = 1024;
  const invocations = workgroups * 64;
  const flops = invocations * iterations * fmaFlopsPerIteration(wgsl);
  const params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const pv = new ArrayBuffer(16);
  new Uint32Array(pv, 0, 1)[0] = iterations;
  new Float32Array(pv, 4, 2).set([0.9999, 0.0001]);
  device.queue.writeBuffer(params, 0, pv);
  const sink = device.createBuffer({ size: invocations * 16, usage: GPUBufferUsage.STORAGE });
  destroy.push(params, sink);
  const measurement = await timeKernel(device, timer, wgsl, [params, sink], workgroups, policy);
  return { gflops: flops / (measurement.ms * 1e6), flops, measurement };
}

/**
 * A ceiling kernel should run for milliseconds: the sizes below take ~0.1 s on SwiftShader but
 * ~0.15 ms on an H200, where launch gaps and timer resolution would be a large part of the time.
 */
const CEILING_MIN_MS = 2;

/** measureFma, again with more iterations where the first run took under CEILING_MIN_MS. */
async function measureFmaLongEnough(device: GPUDevice, timer: GpuTimer, wgsl: string, iterations: number, policy: RepeatPolicy, destroy: GPUBuffer[]) {
  const first = await measureFma(device, timer, wgsl, iterations, policy, destroy);
  if (first.measurement.ms >= CEILING_MIN_MS) return first;
  const scale = Math.min(256, Math.ceil(CEILING_MIN_MS / Math.max(first.measurement.ms, 1e-3)));
  return measureFma(device, timer, wgsl, iterations * scale, policy, destroy);
}

/** Copy bandwidth: `bufferBytes` read and written once by the copy kernel. */
async function measureCopy(device: GPUDevice, timer: GpuTimer, wgsl: string, bufferBytes: number, policy: RepeatPolicy, destroy: GPUBuffer[]) {
  const src = device.createBuffer({ size: bufferBytes, usage: GPUBufferUsage.STORAGE });
  const dst = device.createBuffer({ size: bufferBytes, usage: GPUBufferUsage.STORAGE });
  destroy.push(src, dst);
  const measurement = await timeKernel(device, timer, wgsl, [src, dst], 4096, policy);
  return { gbps: (2 * bufferBytes) / (measurement.ms * 1e6), bytesMoved: 2 * bufferBytes, bufferBytes, measurement };
}

export async function measureCeilings(device: GPUDevice, shaders: CeilingShaders, policy: RepeatPolicy): Promise<Ceilings> {
  const timer = new GpuTimer(device);
  const destroy: GPUBuffer[] = [];
  try {
    // 1024 x 64 invocations x 128 iterations x 1024 FLOPs = 8.6 GFLOP (~0.13 s on SwiftShader, 2 cores).
    // (On a GPU, more iterations: measureFmaLongEnough.)
    const fma = await measureFmaLongEnough(device, timer, shaders.fma, 128, policy, destroy);
    // The looped kernel: 512 iterations x 64 FLOPs = 2.1 GFLOP.
    const fmaLooped = shaders.fmaLooped ? await measureFmaLongEnough(device, timer, shaders.fmaLooped, 512, policy, destroy) : undefined;

    // Copy: 64 MiB -> 64 MiB (below the 128 MiB binding limit of small adapters); where that takes
    // under CEILING_MIN_MS (a GPU, whose cache may hold a good part of it), 512 MiB where allowed.
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    let copy = await measureCopy(device, timer, shaders.copy, Math.min(64 << 20, limit), policy, destroy);
    if (copy.measurement.ms < CEILING_MIN_MS && limit > 64 << 20) {
      copy = await measureCopy(device, timer, shaders.copy, Math.min(512 << 20, limit), policy, destroy);
    }
    return { fma, ...(fmaLooped ? { fmaLooped } : {}), copy };
  } finally {
    timer.destroy();
    for (const b of destroy) b.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Results

export interface BenchRow {
  /** e.g. 'ours:fused', 'ours:staged', 'ours:auto', 'ours:split-keys', 'tfjs', 'ort', 'cpu-reference'. */
  impl: string;
  shapeId: string;
  shape: BenchShape;
  flops: number;
  /** GPU-resident: inputs already on the GPU, no transfers. */
  resident?: Measurement;
  /** End to end: upload, run, read back to a Float32Array. */
  e2e?: Measurement;
  /** Relative error against the CPU reference on this shape, when checked here. */
  relError?: number;
  error?: string;
  notes?: string[];
}

/** Library surface the bench uses (dist/index.js), typed loosely so the bench builds before the core does. */
export interface AttentionLib {
  createAttention(opts?: { device?: GPUDevice; fusedTile?: string; splitKeysTile?: string }): Promise<AttentionCtx> | AttentionCtx;
  attentionReference(q: HostTensor, k: HostTensor, v: HostTensor, opts?: Record<string, unknown>): { data: Float32Array | Float64Array; shape: readonly number[] } | Promise<{ data: Float32Array | Float64Array; shape: readonly number[] }>;
}

export interface AttentionCtx {
  attention(q: HostTensor, k: HostTensor, v: HostTensor, opts?: Record<string, unknown>): Promise<{ data: Float32Array; shape: readonly number[] }>;
  encode(encoder: GPUCommandEncoder, buffers: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; output: GPUBuffer }, shape: Record<string, number>, opts?: Record<string, unknown>): void;
  /** Compiles the pipelines a shape will use (under 'auto', after measuring the fused tiles). */
  prepare?(shape: Record<string, number>, opts?: Record<string, unknown>): Promise<void>;
  /** The library's one-time measurements of its fused tiles against each other. */
  tileMeasurements?(): { compactMs: number; wideMs?: number; workgroupMs?: number; workgroupSplitMs?: number; heldKeysMs?: number; verdict: string; probe: Record<string, number> }[];
  destroy(): void;
}

export function gflops(row: BenchRow, which: 'resident' | 'e2e'): number | undefined {
  const m = row[which];
  return m ? row.flops / (m.ms * 1e6) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Our kernels and the CPU reference

/** Kernels timed for a shape: split-keys only where it is meant to be used (decoding). */
export function kernelsFor(s: BenchShape, wanted: string[]): string[] {
  return wanted.filter((k) => k !== 'split-keys' || s.group === 'decode');
}

function upload(device: GPUDevice, data: Float32Array<ArrayBuffer>): GPUBuffer {
  const buf = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

export async function readBuffer(device: GPUDevice, buf: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await awaitGpu(staging.mapAsync(GPUMapMode.READ), { softwareAdapter: softwareAdapter(device) });
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

export function attentionShapeOf(s: BenchShape): Record<string, number> {
  return { batch: s.B, heads: s.H, kvHeads: s.Hkv, queryLength: s.Lq, keyLength: s.Lk, headDim: s.E, valueDim: s.E };
}

export interface OursOptions {
  device: GPUDevice;
  ctx: AttentionCtx;
  policy: RepeatPolicy;
  /** Also time attention() end to end (upload + run + readback). */
  e2e: boolean;
  /** Check against this reference output (same shape) and refuse to time a wrong answer. */
  reference?: ArrayLike<number>;
  timeoutMs: number;
}

/** The tile measurements already noted on a row, by what they measured (tileMeasurements() returns copies). */
const notedMeasurements = new Set<string>();

export async function benchOurs(s: BenchShape, data: ShapeData, kernel: string, o: OursOptions): Promise<BenchRow> {
  const row: BenchRow = { impl: `ours:${kernel}`, shapeId: s.id, shape: s, flops: attentionFlops(s), notes: [] };
  const opts = { kernel, causal: s.causal };
  const { device } = o;
  const bufs: GPUBuffer[] = [];
  const timer = new GpuTimer(device);
  try {
    if (o.ctx.prepare) {
      // Compile first (the wide fused tile takes ~30 s on SwiftShader) so no timing includes it.
      const t0 = performance.now();
      await withTimeout(o.ctx.prepare(attentionShapeOf(s), opts), o.timeoutMs, `${row.impl} prepare`);
      const ms = performance.now() - t0;
      if (ms > 100) row.notes?.push(`prepare ${(ms / 1000).toFixed(1)} s`);
      for (const m of o.ctx.tileMeasurements?.() ?? []) {
        const id = JSON.stringify(m); // the same measurement reads the same
        if (notedMeasurements.has(id)) continue;
        notedMeasurements.add(id);
        const p = m.probe;
        const timed = [['compact', m.compactMs], ['wide', m.wideMs], ['workgroup', m.workgroupMs], ['workgroup-split', m.workgroupSplitMs], ['held-keys', m.heldKeysMs]] as const;
        const times = timed.filter(([, ms]) => ms !== undefined).map(([t, ms]) => `${t} ${(ms as number).toFixed(1)} ms`);
        row.notes?.push(`tile probe (L=S=${p.queryLength} H${p.heads} E${p.headDim}): ${times.join(', ')} -> ${m.verdict}`);
      }
    }
    if (o.reference) {
      const out = await withTimeout(o.ctx.attention(data.q, data.k, data.v, opts), o.timeoutMs, `${row.impl} verify`);
      row.relError = relativeError(out.data, o.reference);
      if (!(row.relError <= VERIFY_TOLERANCE)) throw new Error(`wrong answer: relative error ${row.relError.toExponential(2)}`);
    }
    const q = upload(device, data.q.data);
    const k = upload(device, data.k.data);
    const v = upload(device, data.v.data);
    const output = device.createBuffer({ size: data.q.data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    bufs.push(q, k, v, output);
    const shapeDesc = attentionShapeOf(s);
    // A validation error scope around our encode() calls, popped even when a step throws.
    device.pushErrorScope('validation');
    let failure: unknown;
    try {
      if (o.reference) {
        // encode() is a different entry point from attention(): check its output too, before timing it.
        await withTimeout(timer.time((enc) => o.ctx.encode(enc, { q, k, v, output }, shapeDesc, opts)), o.timeoutMs, `${row.impl} verify encode`);
        const e = relativeError(await readBuffer(device, output, data.q.data.byteLength), o.reference);
        row.relError = Math.max(row.relError ?? 0, e);
        if (!(e <= VERIFY_TOLERANCE)) throw new Error(`wrong answer from encode(): relative error ${e.toExponential(2)}`);
      }
      row.resident = await measureWithin(
        () => timer.time((enc) => o.ctx.encode(enc, { q, k, v, output }, shapeDesc, opts)),
        o.policy,
        o.timeoutMs,
        `${row.impl} resident`,
      );
    } catch (e) {
      failure = e;
    }
    const err = await device.popErrorScope();
    if (err) throw new Error(`validation error: ${err.message}`);
    if (failure) throw failure;
    if (o.e2e) {
      row.e2e = await measureWithin(
        async () => {
          const t0 = now();
          await o.ctx.attention(data.q, data.k, data.v, opts);
          return { wallMs: now() - t0 };
        },
        o.policy,
        o.timeoutMs,
        `${row.impl} end-to-end`,
      );
    }
  } catch (e) {
    row.error = errorText(e);
  } finally {
    timer.destroy();
    for (const b of bufs) b.destroy();
  }
  return row;
}

/** The CPU reference runs ~1.5-5 GFLOP/s (float64 JS, one core): skip shapes above this many FLOPs (L=S >= 1024 at H8 E64). */
export const CPU_REFERENCE_MAX_FLOPS = 4 * 8 * 512 * 512 * 128;

export async function benchCpuReference(s: BenchShape, data: ShapeData, lib: AttentionLib, policy: RepeatPolicy): Promise<BenchRow> {
  const row: BenchRow = { impl: 'cpu-reference', shapeId: s.id, shape: s, flops: attentionFlops(s), notes: [] };
  if (row.flops > CPU_REFERENCE_MAX_FLOPS) {
    row.error = 'skipped: too slow on the CPU (L >= 1024)';
    return row;
  }
  try {
    // A smaller budget than the GPU rows: one float64 run at L=S=512 takes ~0.2-0.4 s.
    row.e2e = await measure(
      async () => {
        const t0 = now();
        await lib.attentionReference(data.q, data.k, data.v, { causal: s.causal });
        return { wallMs: now() - t0 };
      },
      { warmup: 1, reps: policy.reps, budgetMs: Math.min(policy.budgetMs, 6000) },
    );
    row.notes!.push('float64 JS, single thread; end-to-end = wall clock of the call');
  } catch (e) {
    row.error = errorText(e);
  }
  return row;
}

export function errorText(e: unknown): string {
  const msg = e instanceof Error ? `${e.name !== 'Error' ? e.name + ': ' : ''}${e.message}` : String(e);
  return msg.split('\n')[0].slice(0, 200);
}

// ---------------------------------------------------------------------------------------------
// Summary: speed-ups, targets, table

export interface BenchResults {
  runner: 'node' | 'browser';
  meta: Record<string, unknown>;
  ceilings?: Ceilings;
  shapes: BenchShape[];
  rows: BenchRow[];
  targets?: TargetResult[];
}

/**
 * The row of ours that the targets judge: 'auto' (what users get), else fused, else split-keys, else
 * staged, whichever this run has first, failed or not: a kernel of ours that failed or gave a wrong
 * answer on a shape is a miss there, not a reason to judge another kernel. Only a row this run chose
 * to skip (`skipped: ...`, the staged path above --staged-max-gflop) passes to the next.
 */
export function primaryOurs(rows: BenchRow[], shapeId: string): BenchRow | undefined {
  for (const impl of ['ours:auto', 'ours:fused', 'ours:split-keys', 'ours:staged']) {
    const r = rows.find((x) => x.impl === impl && x.shapeId === shapeId && !x.error?.startsWith('skipped'));
    if (r) return r;
  }
  return undefined;
}

/** Whether a row of ours failed: an error, or no resident time. */
const failedRow = (r: BenchRow) => !!r.error || !r.resident;

/**
 * Peer time / our time on the same shape, GPU-resident against GPU-resident: GPU time against GPU
 * time where both sides have it (ours: timestamp-query around our passes; TFJS: tf.time(), the
 * sum of its kernels' timestamp-query times), else wall clock against wall clock (submit -> queue
 * done; ORT). `wallRatio` is the wall-clock ratio either way. GPU time is the default because a
 * short call's wall clock in Chromium is mostly the browser noticing the work is done: a ~2.5 ms
 * floor, and a whole extra millisecond when the work ends just after one of its checks
 * (BENCHMARKS.md, session 11).
 */
export interface Speedup {
  ratio: number;
  basis: 'gpu' | 'wall';
  wallRatio: number;
}

export function speedup(rows: BenchRow[], row: BenchRow, peer: string): Speedup | undefined {
  const p = rows.find((x) => x.impl === peer && x.shapeId === row.shapeId);
  if (!p?.resident || !row.resident || p.error || row.error) return undefined;
  const wallRatio = p.resident.wallMs / row.resident.wallMs;
  const [pg, og] = [p.resident.gpuMs, row.resident.gpuMs];
  if (pg !== undefined && og !== undefined) return { ratio: pg / og, basis: 'gpu', wallRatio };
  return { ratio: wallRatio, basis: 'wall', wallRatio };
}

export interface TargetResult {
  target: string;
  value: string;
  met: boolean | null;
}

export function evaluateTargets(res: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  // A row of ours on a shape the run should have verified, without a verified answer (the CPU
  // reference failed there): that shape is not judged (neither our answer nor the peer's was checked).
  const verifyMax = (res.meta.config as { verifyMaxFlops?: number } | undefined)?.verifyMaxFlops;
  const unverified = (r: BenchRow | undefined) => !!r && !r.error && verifyMax !== undefined && r.flops <= verifyMax && r.relError === undefined;
  const ceil = res.ceilings?.fma.gflops;
  const looped = res.ceilings?.fmaLooped?.gflops;
  const fusedId = 'B1-H8-L1024-S1024-E64';
  const fused = res.rows.find((r) => r.impl === 'ours:fused' && r.shapeId === fusedId);
  const fusedG = fused && gflops(fused, 'e2e');
  out.push({
    target: 'fused B1 H8 L=S=1024 E64 >= 50% of FMA ceiling end to end',
    value:
      (fusedG !== undefined && ceil
        ? `${fusedG.toFixed(3)} GFLOP/s = ${((100 * fusedG) / ceil).toFixed(1)}% of ${ceil.toFixed(2)}` +
          (looped ? ` (${((100 * fusedG) / looped).toFixed(1)}% of the looped kernel's ${looped.toFixed(2)}, which is not a ceiling)` : '')
        : fused?.error ?? 'not measured') + (unverified(fused) ? ' (not verified: the CPU reference failed; not judged)' : ''),
    // Our fused kernel failing on the shape is a miss; not timing it (another --kernels, --no-e2e) is undecided.
    met: unverified(fused) ? null : fusedG !== undefined && ceil ? fusedG >= 0.5 * ceil : fused?.error ? false : null,
  });
  for (const [peer, factor] of [
    ['tfjs', 10],
    ['ort', 1.5],
  ] as const) {
    const ratios: { id: string; ratio: number; wall: number; basis: Speedup['basis'] }[] = [];
    // Shapes where ours failed or was wrong while the peer ran: misses, named with our error.
    const oursFailed: { id: string; error: string }[] = [];
    // "Every shape" is the issue's table (L=S=4096 added on a GPU run), not just this run's shapes:
    // a --quick or --shapes run can show a miss but never a pass.
    // A real GPU's table has L=S=4096 even where --shapes left it out (results from before the
    // config recorded gpuTable: inferred from the shapes).
    const gpuTable = (res.meta.config as { gpuTable?: boolean } | undefined)?.gpuTable ?? res.shapes.some((s) => s.Lq === 4096);
    const table = buildShapes({ gpu: gpuTable }).map((s) => s.id);
    for (const s of res.shapes) {
      const ours = primaryOurs(res.rows, s.id);
      if (ours && failedRow(ours)) {
        const p = res.rows.find((x) => x.impl === peer && x.shapeId === s.id);
        if (p?.resident && !p.error) oursFailed.push({ id: s.id, error: `${ours.impl} ${ours.error ?? 'not timed'}` });
        continue;
      }
      if (unverified(ours)) continue; // counted below among the shapes without a comparison
      const sp = ours && speedup(res.rows, ours, peer);
      if (sp) ratios.push({ id: s.id, ratio: sp.ratio, wall: sp.wallRatio, basis: sp.basis });
    }
    const any = ratios.length > 0 || oursFailed.length > 0;
    // Judged on the unrounded ratios; the shapes below are named with 3 decimals, so a 9.997x
    // never reads as a pass.
    const below = ratios.filter((r) => r.ratio < factor);
    const all = below.length === 0 && oursFailed.length === 0;
    const min = Math.min(...ratios.map((r) => r.ratio));
    const missing = table.filter((id) => !ratios.some((r) => r.id === id) && !oursFailed.some((r) => r.id === id)).length;
    const bases = [...new Set(ratios.map((r) => r.basis))];
    const basis = bases.length === 1 ? (bases[0] === 'gpu' ? 'GPU time' : 'wall clock') : 'GPU time where both sides have it, else wall clock';
    const wallBelow = ratios.filter((r) => r.wall < factor);
    const wallMin = Math.min(...ratios.map((r) => r.wall));
    out.push({
      target: `>= ${factor}x ${peer.toUpperCase()} on every shape (GPU-resident)`,
      value: any
        ? (oursFailed.length ? `ours failed on ${oursFailed.length} shape(s) the peer ran (${oursFailed.map((r) => `${r.id}: ${r.error}`).join('; ')}); ` : '') +
          (ratios.length === 0
            ? 'no shape compared'
            : `by ${basis}: ${below.length} of ${ratios.length} shapes below` +
              (below.length ? ` (${below.map((r) => `${r.id}: ${r.ratio.toFixed(3)}x`).join(', ')})` : '') +
              `; min ${min.toFixed(below.length ? 3 : 2)}x`) +
          (bases.includes('gpu')
            ? `; by wall clock: ${wallBelow.length} below` +
              (wallBelow.length ? ` (${wallBelow.map((r) => `${r.id}: ${r.wall.toFixed(3)}x`).join(', ')})` : '') +
              `, min ${wallMin.toFixed(2)}x`
            : '') +
          (missing ? `; ${missing} of the table's ${table.length} shapes without a comparison in this run` : '') +
          (res.runner !== 'browser' ? '; a Node run: the target is judged in the browser run (npm run bench:browser)' : '')
        : 'not measured in this run',
      // A miss on any compared shape is a miss; all compared shapes passing while some could not be
      // compared (peer skipped or wrong) is not a pass: it stays undecided. So is a Node run's
      // comparison (the peers on Dawn through a navigator.gpu shim): the issue asks for a browser run.
      met: !any ? null : !all ? false : missing || res.runner !== 'browser' ? null : true,
    });
  }
  const decodeId = 'B1-H8-L1-S65536-E64';
  const dec = primaryOurs(res.rows, decodeId);
  const decShape = res.shapes.find((s) => s.id === decodeId);
  if (dec && failedRow(dec) && decShape) {
    out.push({ target: 'decode L=1 vs S=65536 within 2x of streaming K and V once at copy bandwidth', value: `${dec.impl} failed: ${dec.error ?? 'not timed'}`, met: false });
  } else if (unverified(dec)) {
    out.push({ target: 'decode L=1 vs S=65536 within 2x of streaming K and V once at copy bandwidth', value: `${dec!.impl} not verified (the CPU reference failed)`, met: null });
  } else if (dec?.resident && decShape && res.ceilings) {
    const streamMs = kvBytes(decShape) / (res.ceilings.copy.gbps * 1e6);
    const ratio = dec.resident.ms / streamMs;
    out.push({
      target: 'decode L=1 vs S=65536 within 2x of streaming K and V once at copy bandwidth',
      value: `${dec.impl} ${dec.resident.ms.toFixed(2)} ms vs ${streamMs.toFixed(2)} ms stream time = ${ratio.toFixed(2)}x`,
      met: ratio <= 2,
    });
  } else {
    out.push({ target: 'decode L=1 vs S=65536 within 2x of streaming K and V once at copy bandwidth', value: 'not measured in this run', met: null });
  }
  return out;
}

function fmt(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (x >= 1000) return x.toFixed(0);
  if (x >= 100) return x.toFixed(1);
  return x.toFixed(digits);
}

const times = (x: number | undefined): string => (x === undefined ? '-' : `${fmt(x)}x`);
const speedupCell = (sp: Speedup | undefined): string =>
  !sp ? '-' : sp.basis === 'gpu' ? `${times(sp.ratio)} (wall ${times(sp.wallRatio)})` : `${times(sp.ratio)} (wall)`;

/** A plain-text (and Markdown-compatible) table of every row. */
export function formatTable(res: BenchResults): string {
  const ceil = res.ceilings?.fma.gflops;
  const bw = res.ceilings?.copy.gbps;
  const hasPeers = res.rows.some((r) => r.impl === 'tfjs' || r.impl === 'ort');
  const header = ['impl', 'shape', 'ms resident', 'ms e2e', 'GFLOP/s res', 'GFLOP/s e2e', '% FMA ceil (res)', '% FMA ceil (e2e)', 'reps', ...(hasPeers ? ['vs TFJS', 'vs ORT'] : []), 'KV-stream ratio', 'note'];
  // Where other rows have GPU time, a wall-clock resident time (ORT's) is marked as such.
  const anyGpuTime = res.rows.some((r) => r.resident?.timing === 'timestamp-query');
  const lines: string[][] = [];
  for (const s of res.shapes) {
    for (const r of res.rows.filter((x) => x.shapeId === s.id)) {
      const gRes = gflops(r, 'resident');
      const gE2e = gflops(r, 'e2e');
      const isOurs = r.impl.startsWith('ours:');
      const stream = s.group === 'decode' && bw && r.resident ? r.resident.ms / (kvBytes(s) / (bw * 1e6)) : undefined;
      const reps = [r.resident?.reps, r.e2e?.reps].filter((x) => x !== undefined).join('/');
      const note = r.error ? `ERROR: ${r.error}` : [r.relError !== undefined ? `relErr ${r.relError.toExponential(1)}` : '', ...(r.notes ?? [])].filter(Boolean).join('; ');
      lines.push([
        r.impl,
        shapeLabel(s),
        fmt(r.resident?.ms) + (anyGpuTime && r.resident?.timing === 'wall-clock' ? ' (wall)' : ''),
        fmt(r.e2e?.ms),
        fmt(gRes, 3),
        fmt(gE2e, 3),
        ceil && gRes !== undefined ? `${fmt((100 * gRes) / ceil, 1)}%` : '-',
        ceil && gE2e !== undefined ? `${fmt((100 * gE2e) / ceil, 1)}%` : '-',
        reps || '-',
        ...(hasPeers ? [isOurs ? speedupCell(speedup(res.rows, r, 'tfjs')) : '', isOurs ? speedupCell(speedup(res.rows, r, 'ort')) : ''] : []),
        stream !== undefined ? times(stream) : '',
        note,
      ]);
    }
  }
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i].length)));
  const line = (l: string[]) => '| ' + l.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  const out = [line(header), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...lines.map(line)];
  return out.join('\n');
}

export function formatCeilings(c: Ceilings): string {
  const f = c.fma.measurement;
  const m = c.copy.measurement;
  return [
    `FMA ceiling:    ${c.fma.gflops.toFixed(3)} GFLOP/s  (${f.ms.toFixed(2)} ms for ${(c.fma.flops / 1e9).toFixed(2)} GFLOP, median of ${f.reps}, ${f.timing})`,
    ...(c.fmaLooped
      ? [`  (looped kernel, one FMA step per iteration, for comparison: ${c.fmaLooped.gflops.toFixed(3)} GFLOP/s)`]
      : []),
    `Copy bandwidth: ${c.copy.gbps.toFixed(3)} GB/s     (${m.ms.toFixed(2)} ms to read+write ${(c.copy.bufferBytes / 2 ** 20).toFixed(0)} MiB, median of ${m.reps}, ${m.timing})`,
  ].join('\n');
}

export function formatTargets(t: TargetResult[]): string {
  return t.map((x) => `[${x.met === null ? 'n/a ' : x.met ? 'MET ' : 'MISS'}] ${x.target}: ${x.value}`).join('\n');
}

export const TIMING_NOTES = [
  'FLOPs = 4*B*H*Lq*Lk*E; causal rows count the same nominal FLOPs as non-causal ones.',
  "ms resident: inputs already on the GPU, median GPU time (timestamp-query around the recorded passes where the adapter has it, else wall clock from recording to onSubmittedWorkDone). ORT's is always wall clock from its session.run to onSubmittedWorkDone (ORT Web keeps its kernels' GPU times to itself), marked '(wall)' where other rows have GPU time, and so are its GFLOP/s and its curve in the chart; the ORT target compares it with our wall clock.",
  '% FMA ceil: GFLOP/s as a fraction of the FMA ceiling measured in the same run, resident and end to end.',
  'ms e2e: wall clock of the whole call from Float32Arrays to a Float32Array (upload, run, read back).',
  "vs TFJS / vs ORT: peer resident time / ours on the same shape (higher is better for us): GPU time against GPU time where both have it (TFJS: tf.time(), the sum of its kernels' timestamp-query times, gaps between kernels left out), else wall clock against wall clock (ORT); the wall-clock ratio in brackets.",
  'KV-stream ratio (decode rows): resident ms / (bytes of K and V / measured copy bandwidth); copy bandwidth counts read + write bytes.',
  'reps: timed runs (resident/e2e) after a warm-up of at least one run and 250 ms each: at least 5; up to --reps where the budget allows; short calls up to 200, to fill 250 ms.',
  "Node: every GPU wait (ours, the ceilings, and inside attention() from the library's awaitGpu) lets Dawn's polling tick about once a millisecond after its first 2 ms instead of spinning a CPU core; on a software adapter the polls of those first 2 ms sleep 50 µs each instead of spinning, and each peer call runs inside such a wait too.",
  "On a real GPU each shape's first kernel of ours is timed twice and the first timing dropped (the GPU idles during the shape's CPU reference; on an H200 the kernel timed first after it ran up to 2.8x slower).",
];

// ---------------------------------------------------------------------------------------------
// Peers (implemented in bench/page/peers.ts; the interfaces live here so the loop below can drive them)

export interface PeerRunner {
  /** End-to-end output in [B, H, Lq, E] order, for verification. */
  output(): Promise<Float32Array>;
  resident(): Promise<Sample>;
  e2e(): Promise<Sample>;
  dispose(): Promise<void> | void;
  notes: string[];
}

export interface Peer {
  name: string;
  /** Loads the library and its backend; returns a version string. */
  init(): Promise<string>;
  prepare(s: BenchShape, data: ShapeData): Promise<PeerRunner>;
}

/**
 * Verifies the peer against the CPU reference where the shape is small enough, then times it.
 * `failedOn`: a shape where this peer gave a wrong answer; it is then not timed on shapes too large to check.
 * `software`: the device's adapter is a software one; then each of the peer's calls runs inside an
 * awaitGpu wait, so that in Node Dawn's polling during the call naps as it does during ours
 * instead of spinning one of the cores the adapter computes on (in the browser this changes nothing).
 * On a GPU the peers' waits keep the spin, which never makes them slower.
 */
export async function benchPeer(s: BenchShape, data: ShapeData, peer: Peer, cfg: SuiteConfig, software: boolean, reference?: ArrayLike<number>, failedOn?: string): Promise<BenchRow> {
  const row: BenchRow = { impl: peer.name, shapeId: s.id, shape: s, flops: attentionFlops(s), notes: [] };
  if (!reference && failedOn) {
    row.error = `not timed: wrong answer on ${failedOn}, and this shape is too large to verify`;
    return row;
  }
  if (row.flops > cfg.peerMaxFlops) {
    row.error = `skipped: above --peer-max-gflop (${(cfg.peerMaxFlops / 1e9).toFixed(1)} GFLOP) to keep the run short on this adapter`;
    return row;
  }
  let runner: PeerRunner | undefined;
  try {
    runner = await withTimeout(peer.prepare(s, data), cfg.timeoutMs, `${peer.name} prepare`);
    row.notes!.push(...runner.notes);
    const run = runner;
    const wait = <T>(p: Promise<T>) => (software ? awaitGpu(p, { softwareAdapter: true }) : p);
    const r = { output: () => wait(run.output()), resident: () => wait(run.resident()), e2e: () => wait(run.e2e()) };
    if (reference) {
      const out = await withTimeout(r.output(), cfg.timeoutMs, `${peer.name} verify`);
      row.relError = relativeError(out, reference);
      if (!(row.relError <= VERIFY_TOLERANCE)) throw new Error(`wrong answer, not timed: relative error ${row.relError.toExponential(2)}`);
    } else {
      row.notes!.push('not verified on this shape');
    }
    row.resident = await measureWithin(() => r.resident(), cfg.policy, cfg.timeoutMs, `${peer.name} resident`);
    if (cfg.e2e) row.e2e = await measureWithin(() => r.e2e(), cfg.policy, cfg.timeoutMs, `${peer.name} end-to-end`);
  } catch (e) {
    row.error = errorText(e);
  } finally {
    try {
      await runner?.dispose();
    } catch {
      // a failed dispose must not hide the measurement
    }
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// The loop both runners share

export interface SuiteConfig {
  shapes: BenchShape[];
  policy: RepeatPolicy;
  /** Our kernels to time ('auto', 'fused', 'staged', 'split-keys'). */
  kernels: string[];
  /** The fused kernel's tile for our context (createAttention's fusedTile; 'auto' by default). */
  fusedTile?: string;
  /** The split-keys path's tile for our context (createAttention's splitKeysTile; 'auto' by default). */
  splitTile?: string;
  e2e: boolean;
  cpuReference: boolean;
  /** Verify every implementation on shapes up to this many FLOPs (the CPU reference output is computed once per shape). */
  verifyMaxFlops: number;
  /** Peers are skipped above this many FLOPs (they are slow on software adapters). */
  peerMaxFlops: number;
  /** Our staged path (it materializes the [B, H, Lq, Lk] scores) is skipped above this many FLOPs. */
  stagedMaxFlops: number;
  /** Per step (prepare, verify, resident, end-to-end). */
  timeoutMs: number;
  ceilings: boolean;
  /**
   * Time each shape's first kernel twice and keep the second: on a GPU the first kernel timed
   * after the shape's CPU reference (seconds of idle GPU) ran up to 2.8x slower than the same
   * kernel timed next (an H200, session 17: likely its clock ramping up from idle).
   */
  rewarmFirst?: boolean;
  /**
   * The issue's table for this adapter has L=S=4096 (a real GPU, or --gpu): the targets' "every
   * shape" counts it whatever --shapes kept. Recorded in the results' meta.config.
   */
  gpuTable?: boolean;
}

export interface SuiteEnv {
  device: GPUDevice;
  lib?: AttentionLib;
  /** Why the library is missing, when it is. */
  libError?: string;
  shaders: CeilingShaders;
  peers: Peer[];
  log(msg: string): void;
  /** Called with the results so far after each shape (the Node runner saves them: a run cut off by a time limit keeps its shapes). */
  onShape?(partial: BenchResults): void;
}

export async function runSuite(runner: 'node' | 'browser', cfg: SuiteConfig, env: SuiteEnv, meta: Record<string, unknown>): Promise<BenchResults> {
  const res: BenchResults = { runner, meta: { ...meta, config: { ...cfg, shapes: cfg.shapes.map((s) => s.id) }, notes: TIMING_NOTES }, shapes: cfg.shapes, rows: [] };
  const { log } = env;
  if (cfg.ceilings) {
    log('ceilings ...');
    res.ceilings = await measureCeilings(env.device, env.shaders, cfg.policy);
    log(formatCeilings(res.ceilings));
  }
  let ctx: AttentionCtx | undefined;
  let ctxError = env.libError;
  if (env.lib) {
    try {
      ctx = await env.lib.createAttention({
        device: env.device, ...(cfg.fusedTile ? { fusedTile: cfg.fusedTile } : {}), ...(cfg.splitTile ? { splitKeysTile: cfg.splitTile } : {}),
      });
    } catch (e) {
      ctxError = `createAttention failed: ${errorText(e)}`;
    }
  }
  const peers: { peer: Peer; error?: string }[] = [];
  for (const peer of env.peers) {
    try {
      const version = await withTimeout(peer.init(), cfg.timeoutMs, `${peer.name} init`);
      (res.meta.peers ??= {} as Record<string, string>);
      (res.meta.peers as Record<string, string>)[peer.name] = version;
      log(`peer ${version}`);
      peers.push({ peer });
    } catch (e) {
      peers.push({ peer, error: `init failed: ${errorText(e)}` });
      log(`peer ${peer.name} init failed: ${errorText(e)}`);
    }
  }
  const push = (row: BenchRow) => {
    res.rows.push(row);
    const g = gflops(row, 'resident');
    log(
      `  ${row.impl.padEnd(16)} ${row.error ? 'ERROR ' + row.error : `resident ${row.resident?.ms.toFixed(2) ?? '-'} ms, e2e ${row.e2e?.ms.toFixed(2) ?? '-'} ms, ${g?.toFixed(3) ?? '-'} GFLOP/s${row.relError !== undefined ? `, relErr ${row.relError.toExponential(1)}` : ''}`}`,
    );
  };
  const wrongOn = new Map<string, string>();
  for (const s of cfg.shapes) {
    log(`${shapeLabel(s)}  (${(attentionFlops(s) / 1e9).toFixed(3)} GFLOP)`);
    const data = makeData(s);
    let reference: ArrayLike<number> | undefined;
    let referenceFailed: string | undefined;
    if (env.lib && attentionFlops(s) <= cfg.verifyMaxFlops) {
      try {
        reference = (await env.lib.attentionReference(data.q, data.k, data.v, { causal: s.causal })).data;
      } catch (e) {
        log(`  reference failed: ${errorText(e)}`);
        referenceFailed = errorText(e);
      }
    }
    for (const [i, kernel] of kernelsFor(s, cfg.kernels).entries()) {
      if (kernel === 'staged' && attentionFlops(s) > cfg.stagedMaxFlops) {
        push({ impl: 'ours:staged', shapeId: s.id, shape: s, flops: attentionFlops(s), error: `skipped: above --staged-max-gflop (${(cfg.stagedMaxFlops / 1e9).toFixed(1)} GFLOP)` });
        continue;
      }
      if (!ctx) {
        push({ impl: `ours:${kernel}`, shapeId: s.id, shape: s, flops: attentionFlops(s), error: ctxError ?? 'library not loaded' });
        continue;
      }
      const o = { device: env.device, ctx, policy: cfg.policy, e2e: cfg.e2e, reference, timeoutMs: cfg.timeoutMs };
      if (i === 0 && cfg.rewarmFirst) await benchOurs(s, data, kernel, o); // discarded: the GPU warms up
      const row = await benchOurs(s, data, kernel, o);
      if (referenceFailed) row.notes?.push(`not verified: the CPU reference failed (${referenceFailed}); not judged by the targets`);
      push(row);
    }
    for (const { peer, error } of peers) {
      if (error) {
        push({ impl: peer.name, shapeId: s.id, shape: s, flops: attentionFlops(s), error });
        continue;
      }
      const row = await benchPeer(s, data, peer, cfg, softwareAdapter(env.device), reference, wrongOn.get(peer.name));
      if (row.error?.startsWith('wrong answer') && !wrongOn.has(peer.name)) wrongOn.set(peer.name, s.id);
      push(row);
    }
    if (cfg.cpuReference) {
      if (env.lib) push(await benchCpuReference(s, data, env.lib, cfg.policy));
      else push({ impl: 'cpu-reference', shapeId: s.id, shape: s, flops: attentionFlops(s), error: ctxError ?? 'library not loaded' });
    }
    env.onShape?.({ ...res, meta: { ...res.meta, partial: `${cfg.shapes.indexOf(s) + 1} of ${cfg.shapes.length} shapes` }, targets: evaluateTargets(res) });
  }
  ctx?.destroy();
  res.targets = evaluateTargets(res);
  return res;
}
