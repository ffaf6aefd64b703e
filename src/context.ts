// The AttentionContext: owns (or borrows) a device, two buffer pools (attention()'s, encode()'s
// workspace), the uniform blocks, the bind-group cache and two dummy bindings.
// attention() and friends are a thin upload → encode → submit → read layer over encode().
import { awaitGpu } from './await-gpu.js';
import { BindGroupCache } from './bind-group-cache.js';
import { BufferPool, DEFAULT_POOL_LIMITS } from './buffer-pool.js';
import { acquireDevice } from './device.js';
import { encodeProblem, choosePath, maskBytes, type Path, type ProblemBuffers, type Want } from './encode-attention.js';
import {
  AttentionInputError,
  ContextDestroyedError,
  DeviceLimitError,
  DeviceLostError,
  GPUExecutionError,
} from './errors.js';
import { BufferUsage, MapMode } from './gpu-constants.js';
import { compilePipeline, foldGrid, Recorder, type Constants } from './recorder.js';
import { KERNEL_STORAGE_BUFFERS, type KernelName, type Loads } from './shaders.js';
import { TileTuner } from './tile-tuning.js';
import { UniformBlocks } from './uniform-blocks.js';
import {
  autoMayRetile, loadsFor, softwareAdapter, SPLIT_TILE_CHOICES, TILE_CHOICES, type DispatchTile, type FusedTileChoice, type SplitTileChoice,
  type TileName,
} from './tiles.js';
import type {
  AttentionBuffers,
  AttentionContext,
  AttentionOptions,
  AttentionResultWithLogSumExp,
  AttentionResultWithWeights,
  AttentionShape,
  CreateAttentionOptions,
  EncodeOptions,
  PrepareOptions,
  Tensor,
  TileMeasurement,
} from './types.js';
import {
  checkTileMeasurements, kvRows, PREPARE_OPTIONS, prepareWants, rejectUnknownKeys, resolveEncodeProblem, resolveProblem, type CpuProblem, type Problem,
} from './validate.js';

/** What the kernels write as the log-sum-exp of a row with nothing to attend to. */
const LOWEST_F32 = -3.4028234663852886e38;
const CREATE_OPTIONS = ['device', 'powerPreference', 'fusedTile', 'splitKeysTile', 'tileMeasurements'];
const BUFFER_NAMES: readonly (keyof AttentionBuffers)[] = ['q', 'k', 'v', 'output', 'mask', 'weights', 'logSumExp'];

/** Everything that belongs to one device; replaced when an owned device is lost. */
interface DeviceState {
  device: GPUDevice;
  gpu?: GPU;
  pool: BufferPool;
  /**
   * encode()'s scratch. Only the kernels ever write these buffers (never the queue), and each call
   * writes every byte it reads before reading it. So a recording returns them at once: another call
   * may take them before the caller submits, and both command buffers are still right in any order
   * of submission. Lent, so never destroyed before the context is (DroppedBuffers).
   */
  workspace: BufferPool;
  uniforms: UniformBlocks;
  bindGroups: BindGroupCache;
  dummies: { read: GPUBuffer; write: GPUBuffer };
  lostError: DeviceLostError | null;
  /** Rejects with DeviceLostError when the device is lost. */
  lost: Promise<never>;
  /**
   * The rejecters of the GPU waits in flight (Context.#gpuWait), rejected with DeviceLostError when
   * the device is lost, or by destroy() (a state serves one context). Each wait removes its own when it settles: racing every wait against the
   * long-lived `lost` promise instead left a reaction behind per wait (~1 KB a call, for good).
   */
  waiters: Set<(e: Error) => void>;
}

export interface ContextDebugOptions {
  /**
   * Fill outputs, and the scratch buffers a call takes (partials, stats, scores), with NaN before
   * each run, so an element a kernel forgets to write shows (tests).
   */
  poisonOutputs?: boolean;
  /**
   * Treat the adapter as this kind for the tile choices (tests: 'gpu' makes fusedTile 'auto' time
   * the workgroup tile on SwiftShader too, with the GPU probe, and splitKeysTile 'auto' take the
   * workgroup tile for decoding). Default: detected (softwareAdapter).
   */
  adapterKind?: 'software' | 'gpu';
  /**
   * Run each of the tile measurement's timed probes this many times in its submit, whatever the
   * measurement asked (tests: GPUs repeat a probe up to 64 times; SwiftShader's take over 30 ms, so once).
   */
  probeRepeats?: number;
  /**
   * Time each tile this many rounds, keeping the fastest (default 5). Tests whose measurement is
   * about what it times and decides, not how well, take 1: the GPU probe (L = S = 2048) on SwiftShader
   * costs ~3 s a run.
   */
  probeRounds?: number;
}

/** The kernels each path runs, for error messages. */
const PATH_KERNELS: Record<Path, string> = {
  staged: 'scores or scores-quad, softmax, weighted-sum or weighted-sum-quad',
  fused: 'flash, flash-quad, flash-tiled (and merge on the workgroup-split tile), or flash-held-keys or flash-held-keys-32 and merge-rows',
  'split-keys': 'flash-split or flash-split-quad and merge, or flash-decode and merge-decode',
};

/** How long a call whose GPU work failed waits for device.lost to report before giving up on it. */
const LOSS_GRACE_MS = 2000;

function makeState(device: GPUDevice, gpu: GPU | undefined, owned: boolean): DeviceState {
  const bindGroups = new BindGroupCache(device);
  const pool = new BufferPool(device);
  const workspace = new BufferPool(device, { ...DEFAULT_POOL_LIMITS, lent: true });
  const dummy = (label: string) =>
    device.createBuffer({ size: 16, usage: BufferUsage.STORAGE, label: `webgpu-attention ${label}` });
  let reject!: (e: DeviceLostError) => void;
  const state: DeviceState = {
    device,
    gpu,
    pool,
    workspace,
    uniforms: new UniformBlocks(device),
    bindGroups,
    dummies: { read: dummy('no mask'), write: dummy('no log-sum-exp') },
    lostError: null,
    lost: new Promise<never>((_, rej) => (reject = rej)),
    waiters: new Set(),
  };
  state.lost.catch(() => {}); // observed by calls in flight; never an unhandled rejection
  const markLost = (reason: string | undefined, message: string) => {
    if (state.lostError) return;
    state.lostError = new DeviceLostError(
      `The GPU device was lost (${reason ?? 'unknown'}: ${message || 'no message'}). ` +
        (owned
          ? 'The next attention or prepare() call creates a new device (ctx.device); encode() cannot, as it is synchronous: ' +
            'await ctx.prepare(shape) first, then record with buffers and an encoder of the new ctx.device.'
          : 'Create a new device and a new context.'),
      reason,
    );
    reject(state.lostError);
    for (const w of state.waiters) w(state.lostError);
    state.waiters.clear();
  };
  device.lost.then(
    (info) => markLost(info.reason, info.message),
    (e) => markLost('unknown', String(e)),
  );
  if (owned) {
    // Our own device: whoever destroys it (ctx.device.destroy()) marks it lost at once, so the very
    // next call replaces it rather than running on a dead device before device.lost has settled.
    const destroy = device.destroy.bind(device);
    device.destroy = () => {
      markLost('destroyed', 'device was destroyed');
      destroy();
    };
  }
  return state;
}

interface Dispatch {
  kernel: KernelName;
  loads: Loads;
  constants: Constants;
  /** The tile this dispatch belongs to (a fused tile, or the split-keys workgroup tile). */
  tile?: DispatchTile;
}

/**
 * Runs the path choice and every size check of a recording without recording anything, so a
 * request the device cannot hold throws DeviceLimitError before any GPU work (no buffers, no
 * uploads, no half-recorded pass in the caller's encoder). Returns the path that will run.
 */
function preflight(
  device: GPUDevice, p: Problem, want: Want, fusedTile: FusedTileChoice, splitTile: SplitTileChoice, software: boolean, collect?: Dispatch[],
  measured: TileName = 'compact',
): Path {
  const none = {} as GPUBuffer;
  const dry = {
    device,
    fusedTile,
    splitTile,
    // Limits: as if 'auto' kept compact (the workgroup tile can dispatch up to 16x more workgroups
    // at 16 rows, still far below what foldGrid cannot fold). prepare(): the measured tile (a call
    // the held-keys tile declines gets compact, as in calls).
    measuredTile: () => measured,
    ready: () => true,
    software,
    reserved: [] as GPUBuffer[],
    dummyRead: none,
    dummyWrite: none,
    scratch: () => none,
    params: () => none,
    // Typed from Recorder.dispatch, so a change of its parameters cannot silently skip this check.
    dispatch: (...[kernel, loads, constants, , workgroups, tile]: Parameters<Recorder['dispatch']>) => {
      if (workgroups > 0) foldGrid(workgroups, device.limits.maxComputeWorkgroupsPerDimension);
      collect?.push({ kernel, loads, constants, tile });
    },
  };
  const b: ProblemBuffers = { q: none, k: none, v: none, output: none };
  if (p.mask) b.mask = none;
  if (want.weights) b.weights = none;
  if (want.logSumExp) b.logSumExp = none;
  return encodeProblem(dry as unknown as Recorder, p, b, want);
}

/**
 * Returns buffers in the reverse order they were taken: the pool hands out the last returned
 * first, so a repeated call gets the same buffer for each role and finds its bind groups cached.
 */
function releaseAll(pool: BufferPool, buffers: GPUBuffer[]): void {
  for (let i = buffers.length - 1; i >= 0; i--) pool.release(buffers[i]);
}

/**
 * A call's error scopes, out-of-memory around validation: push them, record and submit with nothing
 * awaited, then popScopes (so the scopes of calls in flight at once never interleave).
 */
function pushScopes(device: GPUDevice): void {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
}

/**
 * Pops pushScopes' two. An allocation that ran out of memory also fails validation wherever the
 * buffer is used later: the out-of-memory error is the cause, so it is the one given.
 */
function popScopes(device: GPUDevice): Promise<{ error: GPUError; kind: 'out-of-memory' | 'validation' } | null> {
  return Promise.all([device.popErrorScope(), device.popErrorScope()]).then(([validation, oom]) =>
    oom ? { error: oom, kind: 'out-of-memory' as const } : validation ? { error: validation, kind: 'validation' as const } : null);
}

/** Waits up to LOSS_GRACE_MS for the device to be reported lost; throws DeviceLostError if it is. */
async function throwIfLostSoon(state: DeviceState): Promise<void> {
  const wait = delay(LOSS_GRACE_MS);
  await Promise.race([state.lost.catch(() => {}), wait.promise]);
  wait.cancel();
  if (state.lostError) throw state.lostError;
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Errors this library raises on purpose; anything else from a GPU await may mean the device died. */
const isOurs = (e: unknown) =>
  e instanceof AttentionInputError || e instanceof DeviceLimitError || e instanceof GPUExecutionError ||
  e instanceof DeviceLostError || e instanceof ContextDestroyedError;

class Context implements AttentionContext {
  #state: DeviceState;
  #owned: boolean;
  #destroyed = false;
  #powerPreference?: GPUPowerPreference;
  #debug: ContextDebugOptions;
  #fusedTile: FusedTileChoice;
  #splitTile: SplitTileChoice;
  #tuner: TileTuner;
  /** createAttention's tileMeasurements: given to every tuner (a replaced device gets a new one). */
  #earlier: readonly TileMeasurement[];
  #replacing: Promise<void> | null = null;

  constructor(state: DeviceState, owned: boolean, options: CreateAttentionOptions & { debug?: ContextDebugOptions }) {
    this.#state = state;
    this.#owned = owned;
    this.#powerPreference = options.powerPreference;
    this.#debug = options.debug ?? {};
    this.#fusedTile = options.fusedTile ?? 'auto';
    this.#splitTile = options.splitKeysTile ?? 'auto';
    this.#earlier = [...(options.tileMeasurements ?? [])];
    this.#tuner = this.#newTuner(state.device);
  }

  get device(): GPUDevice {
    return this.#state.device;
  }

  /**
   * Every await on GPU work goes through here: it settles with the work, or rejects as soon as
   * the device is lost or the context destroyed; in Node, awaitGpu keeps Dawn's polling off the CPU.
   */
  #gpuWait<T>(state: DeviceState, work: Promise<T>): Promise<T> {
    const gpuWork = awaitGpu(work, { softwareAdapter: softwareAdapter(state.device) });
    const early = state.lostError ?? (this.#destroyed ? destroyedWhileRunning() : null);
    if (early) {
      gpuWork.catch(() => {});
      return Promise.reject(early);
    }
    return new Promise<T>((resolve, reject) => {
      state.waiters.add(reject);
      const done = () => state.waiters.delete(reject);
      gpuWork.then(
        (v) => {
          done();
          resolve(v);
        },
        (e: unknown) => {
          done();
          reject(e);
        },
      );
    });
  }

  #checkDestroyed(): void {
    if (this.#destroyed) {
      throw new ContextDestroyedError('This attention context was destroyed; create a new one with createAttention()');
    }
  }

  /** The current device state; an owned device that was lost is replaced first (once, however many calls ask). */
  async #live(): Promise<DeviceState> {
    this.#checkDestroyed();
    if (this.#state.lostError) {
      if (!this.#owned) throw this.#state.lostError;
      this.#replacing ??= this.#replace();
      try {
        await this.#replacing;
      } finally {
        this.#replacing = null;
      }
      this.#checkDestroyed();
    }
    return this.#state;
  }

  async #replace(): Promise<void> {
    const old = this.#state;
    old.pool.destroy();
    old.bindGroups.clear();
    const { device, gpu } = await acquireDevice(this.#powerPreference);
    if (this.#destroyed) {
      device.destroy(); // destroyed while we waited: do not leak the new device
      return;
    }
    this.#state = makeState(device, gpu, true);
    this.#tuner = this.#newTuner(device);
  }

  #newTuner(device: GPUDevice): TileTuner {
    const kind = this.#debug.adapterKind;
    return new TileTuner(device, (shape, tile, repeats) => this.#probe(shape, tile, this.#debug.probeRepeats ?? repeats),
      kind ? kind === 'software' : softwareAdapter(device), this.#earlier, this.#debug.probeRounds);
  }

  /**
   * Records our kernels in their own compute pass. Scratch buffers taken from `pool` go into
   * `reserved` (even when recording fails) for the caller to release: the workspace for encode(),
   * whose caller submits, and for each of the tile probe's repeats; else the pool, and the caller
   * submits before anything else is recorded.
   */
  #record(
    state: DeviceState, pool: BufferPool, encoder: GPUCommandEncoder, p: Problem, b: ProblemBuffers,
    want: Want, reserved: GPUBuffer[], tile: FusedTileChoice = this.#fusedTile, mayMeasure = true,
  ): Path {
    const rec = new Recorder(state.device, pool, state.uniforms, state.dummies, state.bindGroups, tile, this.#tuner, this.#splitTile,
      !!this.#debug.poisonOutputs, mayMeasure);
    try {
      const path = encodeProblem(rec, p, b, want); // throws before anything is written into the encoder
      rec.emit(encoder);
      return path;
    } finally {
      reserved.push(...rec.reserved);
    }
  }

  encode(encoder: GPUCommandEncoder, buffers: AttentionBuffers, shape: AttentionShape, options?: EncodeOptions): void {
    this.#checkDestroyed();
    const state = this.#state;
    if (state.lostError) throw state.lostError;
    const p = resolveEncodeProblem(shape, options);
    if (!buffers || typeof buffers !== 'object') {
      throw new AttentionInputError(`buffers must be { q, k, v, output, mask?, weights?, logSumExp? }, got ${String(buffers)}`);
    }
    rejectUnknownKeys(buffers, BUFFER_NAMES, 'buffers', ['a buffer this call takes', 'buffers']);
    if (buffers.weights && buffers.logSumExp) {
      throw new AttentionInputError(
        'buffers.weights and buffers.logSumExp were both given, but no path writes both (weights come from the staged ' +
          'path, the log-sum-exp from the fused and split-keys paths); record two calls',
      );
    }
    const want = { weights: !!buffers.weights, logSumExp: !!buffers.logSumExp };
    choosePath(p, want);
    // DeviceLimitError before anything is recorded, and before the buffer sizes: a shape no buffer
    // of this device can hold gets that, not advice to allocate a bigger buffer.
    preflight(state.device, p, want, this.#fusedTile, this.#splitTile, this.#tuner.software);
    const s = p.shape;
    const need: [keyof AttentionBuffers, number][] = [
      ['q', s.batch * s.heads * s.queryLength * s.headDim * 4],
      ['k', s.batch * s.kvHeads * kvRows(s) * s.headDim * 4],
      ['v', s.batch * s.kvHeads * kvRows(s) * s.valueDim * 4],
      ['output', s.batch * s.heads * s.queryLength * s.valueDim * 4],
    ];
    if (want.weights) need.push(['weights', s.batch * s.heads * s.queryLength * s.keyLength * 4]);
    if (want.logSumExp) need.push(['logSumExp', s.batch * s.heads * s.queryLength * 4]);
    if (p.mask) {
      need.push(['mask', maskBytes(p.mask)]);
    } else if (buffers.mask) {
      throw new AttentionInputError('buffers.mask was given but options.mask (its kind and shape) was not');
    }
    for (const [name, bytes] of need) {
      const buf = buffers[name];
      if (!buf || typeof buf.size !== 'number' || typeof buf.usage !== 'number') {
        throw new AttentionInputError(`buffers.${name} is missing or not a GPUBuffer`);
      }
      if (buf.size < bytes) {
        throw new AttentionInputError(
          `buffers.${name} has ${buf.size} bytes but the shape needs ${bytes}; allocate at least ${bytes} bytes`,
        );
      }
      // A storage binding's size must be a multiple of 4, and the kernels bind whole buffers.
      if (buf.size % 4 !== 0) {
        throw new AttentionInputError(
          `buffers.${name} has ${buf.size} bytes, not a multiple of 4, and a storage binding's size must be one; ` +
            `allocate ${Math.ceil(buf.size / 4) * 4} bytes`,
        );
      }
      if (!(buf.usage & BufferUsage.STORAGE)) {
        throw new AttentionInputError(
          `buffers.${name} (usage 0x${buf.usage.toString(16)}) lacks GPUBufferUsage.STORAGE; create it with STORAGE usage`,
        );
      }
      // The kernels bind whole buffers, so the whole buffer must fit one binding.
      const maxBinding = state.device.limits.maxStorageBufferBindingSize;
      if (buf.size > maxBinding) {
        throw new DeviceLimitError(
          `buffers.${name} has ${buf.size} bytes, over this device's maxStorageBufferBindingSize (${maxBinding}); ` +
            'the kernels bind whole buffers: give a buffer of at most that size, or request the device with a higher limit',
        );
      }
    }
    // A buffer the kernels write may not be bound a second time in the same dispatch.
    for (const written of ['output', 'weights', 'logSumExp'] as const) {
      const other = need.find(([name]) => name !== written && buffers[name] === buffers[written]);
      if (buffers[written] && other) {
        throw new AttentionInputError(
          `buffers.${written} is the same GPUBuffer as buffers.${other[0]}; the kernels write ${written}, so give it a buffer of its own`,
        );
      }
    }
    if (!encoder || typeof (encoder as { beginComputePass?: unknown }).beginComputePass !== 'function') {
      throw new AttentionInputError(`encoder must be a GPUCommandEncoder, got ${String(encoder)}`);
    }
    // The workspace goes back at once, whenever the caller submits (see DeviceState.workspace).
    const reserved: GPUBuffer[] = [];
    state.uniforms.trim();
    try {
      // No tile measurement from here (it submits): a verdict made by attention calls, prepare() or
      // tileMeasurements is used; without one, compact.
      this.#record(state, state.workspace, encoder, p, buffers as ProblemBuffers, want, reserved, this.#fusedTile, false);
    } finally {
      releaseAll(state.workspace, reserved);
    }
  }

  async #run(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions | undefined, want: Want) {
    this.#checkDestroyed();
    const p = resolveProblem(q, k, v, options);
    choosePath(p, want);
    // The inputs are read as the call is made: with a live device they are uploaded before
    // anything is awaited (writeBuffer copies); a device that must be replaced first gets copies.
    const lost = this.#state.lostError;
    if (lost && !this.#owned) throw lost; // a borrowed device is not replaced
    const data = lost ? copyInputs(p.data) : p.data;
    const state = lost ? await this.#live() : this.#state;
    // Every limit is checked before the first buffer is made: a DeviceLimitError leaves no trace.
    preflight(state.device, p, want, this.#fusedTile, this.#splitTile, this.#tuner.software);
    const { device, pool } = state;
    const s = p.shape;
    const taken: GPUBuffer[] = [];
    const take = (bytes: number, usage: number, label: string) => {
      const b = pool.acquire(bytes, usage, label);
      taken.push(b);
      return b;
    };
    const upload = (view: ArrayBufferView, label: string) => {
      const bytes = Math.ceil(view.byteLength / 4) * 4;
      const b = take(bytes, BufferUsage.STORAGE | BufferUsage.COPY_DST, label);
      // Dawn's Node binding crashes the process on a view of shared memory: such data goes through a
      // copy. Tested by tag, not instanceof, so a SharedArrayBuffer from another realm counts too.
      const shared = Object.prototype.toString.call(view.buffer) === '[object SharedArrayBuffer]';
      if (bytes === view.byteLength && !shared) device.queue.writeBuffer(b, 0, view as ArrayBufferView<ArrayBuffer>);
      else {
        const padded = new Uint8Array(bytes);
        padded.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        device.queue.writeBuffer(b, 0, padded);
      }
      return b;
    };
    const outputs: [string, number][] = [['output', s.batch * s.heads * s.queryLength * s.valueDim]];
    if (want.weights) outputs.push(['weights', s.batch * s.heads * s.queryLength * s.keyLength]);
    if (want.logSumExp) outputs.push(['logSumExp', s.batch * s.heads * s.queryLength]);

    const reserved: GPUBuffer[] = [];
    const staging: GPUBuffer[] = [];
    let failedOnGpu = false;
    try {
      // Upload, record and submit with nothing awaited in between, so the error scopes of calls in
      // flight at the same time never interleave; the scopes are popped whether or not that worked.
      // The uploads are inside them: the call's largest buffers are the likeliest to run out of
      // memory, and their errors are the call's (not uncaptured, nor in a borrowed device's caller's scope).
      pushScopes(device);
      let path: Path | undefined;
      let recordError: unknown = null;
      try {
        const buffers: ProblemBuffers = {
          q: upload(data.q, 'webgpu-attention q'),
          k: upload(data.k, 'webgpu-attention k'),
          v: upload(data.v, 'webgpu-attention v'),
          output: undefined as unknown as GPUBuffer,
        };
        if (data.mask) buffers.mask = upload(data.mask, 'webgpu-attention mask');
        const outBuffers = outputs.map(([name, n]) => {
          const b = take(n * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, `webgpu-attention ${name}`);
          if (this.#debug.poisonOutputs) device.queue.writeBuffer(b, 0, new Float32Array(n).fill(NaN));
          (buffers as unknown as Record<string, GPUBuffer>)[name] = b;
          return b;
        });
        state.uniforms.trim();
        const encoder = device.createCommandEncoder({ label: 'webgpu-attention' });
        path = this.#record(state, pool, encoder, p, buffers, want, reserved);
        outputs.forEach(([name, n], i) => {
          const st = take(n * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST, `webgpu-attention read ${name}`);
          staging.push(st);
          encoder.copyBufferToBuffer(outBuffers[i], 0, st, 0, n * 4);
        });
        device.queue.submit([encoder.finish()]);
      } catch (e) {
        recordError = e;
      }
      const scopes = popScopes(device);
      if (recordError) {
        scopes.catch(() => {});
        throw recordError;
      }
      const gpuError = await this.#gpuWait(state, scopes);
      if (gpuError) {
        failedOnGpu = true;
        state.bindGroups.clear(); // one of them may be what failed: the next call makes fresh ones
        throw new GPUExecutionError(
          `GPU ${gpuError.kind} error in webgpu-attention's '${path}' kernels (${PATH_KERNELS[path!]}): ${gpuError.error.message}`,
          path,
          gpuError.kind,
        );
      }
      // destroy() may have run while we waited: its buffers are gone, so do not map them.
      this.#checkDestroyed();
      if (state.lostError) throw state.lostError;
      await this.#gpuWait(state, Promise.all(staging.map((b) => b.mapAsync(MapMode.READ))));
      const results = outputs.map(([, n], i) => {
        const data = new Float32Array(staging[i].getMappedRange(0, n * 4).slice(0));
        staging[i].unmap();
        return data;
      });
      return { results, p };
    } catch (e) {
      if (this.#destroyed) throw new ContextDestroyedError('The attention context was destroyed while this call ran');
      if (state.lostError) throw state.lostError;
      // A GPU await failed (mapAsync aborts when the device dies): device.lost may settle a moment
      // later, and then the caller should see DeviceLostError, not an AbortError.
      if (!isOurs(e)) await throwIfLostSoon(state);
      throw e;
    } finally {
      if (!state.lostError) {
        for (const b of [...taken, ...reserved]) {
          if (b.mapState !== 'unmapped') {
            try { b.unmap(); } catch { /* already unmapped */ }
          }
        }
        // After a GPU error any of them may be invalid (an allocation that ran out of memory stays
        // so): none goes back to the pool, or the next call of this shape would fail on it too.
        if (failedOnGpu) for (const b of [...taken, ...reserved]) pool.discard(b);
        releaseAll(pool, taken);
        releaseAll(pool, reserved);
      }
    }
  }

  async attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<Tensor> {
    const { results, p } = await this.#run(q, k, v, options, { weights: false, logSumExp: false });
    return { data: results[0], shape: p.outputShape };
  }

  async attentionWithWeights(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<AttentionResultWithWeights> {
    const { results, p } = await this.#run(q, k, v, options, { weights: true, logSumExp: false });
    return { output: { data: results[0], shape: p.outputShape }, weights: { data: results[1], shape: p.weightsShape } };
  }

  async attentionWithLogSumExp(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<AttentionResultWithLogSumExp> {
    const { results, p } = await this.#run(q, k, v, options, { weights: false, logSumExp: true });
    // The kernels mark a row with nothing to attend to by the lowest f32; report it as -Infinity.
    const lse = results[1];
    for (let i = 0; i < lse.length; i++) if (lse[i] <= LOWEST_F32) lse[i] = -Infinity;
    return { output: { data: results[0], shape: p.outputShape }, logSumExp: { data: results[1], shape: p.logSumExpShape } };
  }

  async prepare(shape: AttentionShape, options?: PrepareOptions): Promise<void> {
    this.#checkDestroyed();
    // weights and logSumExp say which calls to prepare for; the rest are the calls' own options.
    const p = resolveEncodeProblem(shape, options, PREPARE_OPTIONS);
    const want = prepareWants(options);
    const path = choosePath(p, want);
    const state = await this.#live();
    // A shape the device cannot hold fails here, before the tile measurement or any compile.
    preflight(state.device, p, want, this.#fusedTile, this.#splitTile, this.#tuner.software);
    let measured: TileName = 'compact';
    const s = p.shape;
    if (this.#fusedTile === 'auto' && path === 'fused' && autoMayRetile(s, this.#tuner.software)) {
      const m = await this.#gpuWait(state, this.#tuner.measure(loadsFor(s), s.headDim, s.valueDim));
      measured = m?.verdict ?? 'compact';
    }
    await this.#compile(state, p, want, this.#fusedTile, measured);
  }

  /** Compiles, without blocking the thread, every pipeline a call of this problem would record. */
  async #compile(
    state: DeviceState, p: Problem, want: Want, tile: FusedTileChoice, measured: TileName,
  ): Promise<void> {
    const dispatches: Dispatch[] = [];
    preflight(state.device, p, want, tile, this.#splitTile, this.#tuner.software, dispatches, measured);
    const compiled = await this.#gpuWait(
      state,
      Promise.all(dispatches.map((d) => compilePipeline(state.device, d.kernel, d.loads, d.constants))),
    );
    const failed = dispatches.filter((_, i) => compiled[i] === null);
    if (failed.length > 0) {
      // Under 'auto', every tile but compact has a fallback: calls use the compact tile.
      // A forced tile has none, and nothing falls back from compact or the other kernels.
      const tiles = new Set(failed.map((d) => (d.tile === 'compact' ? undefined : d.tile)));
      // Where calls fall back (fused: to compact; split-keys: to its invocation tile), compile
      // what they will run now, so that the first of them compiles nothing either.
      const splitFalls = this.#splitTile === 'auto' && tiles.has('split-keys workgroup');
      const fusedFalls = tile === 'auto' && [...tiles].some((t) => t !== undefined && t !== 'split-keys workgroup');
      if ((fusedFalls || splitFalls) && !tiles.has(undefined)) {
        const fallbackDispatches: Dispatch[] = [];
        preflight(state.device, p, want, fusedFalls ? 'compact' : tile, splitFalls ? 'invocation' : this.#splitTile, this.#tuner.software,
          fallbackDispatches, fusedFalls ? 'compact' : measured);
        await this.#gpuWait(state, Promise.all(fallbackDispatches.map((d) => compilePipeline(state.device, d.kernel, d.loads, d.constants))));
      }
      const kernels = [...new Set(failed.map((d) => d.kernel))].join(', ');
      const named = `The ${[...tiles].join(' and ')} fused tile failed to compile for this shape (${kernels})`;
      // The split-keys path's workgroup tile: under 'auto' calls fall back to the invocation tile.
      const split = `The split-keys path's workgroup tile failed to compile for this shape (${kernels})`;
      const splitOnly = failed.every((d) => d.tile === 'split-keys workgroup');
      throw new GPUExecutionError(
        splitOnly
          ? this.#splitTile === 'auto'
            ? `${split}; calls will use the invocation tile. Create the context with splitKeysTile: 'invocation' to skip the attempt`
            : `${split}; with splitKeysTile: 'workgroup' calls of this shape will fail as well. Create the context with ` +
              "splitKeysTile: 'auto' or 'invocation'"
          : tiles.has(undefined)
          ? `A pipeline for this shape failed to compile on this device (${kernels}), so calls of this shape will ` +
              'fail as well; please report it with the adapter (device.adapterInfo) and the shape'
          : tile === 'auto'
            ? `${named}; calls will use the compact tile. Create the context with fusedTile: 'compact' to skip the attempt`
            : `${named}; with fusedTile: '${tile}' calls of this shape will fail as well. Create the context with ` +
              "fusedTile: 'auto' or 'compact'",
        undefined,
        'validation',
      );
    }
  }

  /**
   * The tile measurement's probe: the fused kernel on one tile, `repeats` times in one submit, on
   * inputs cleared to zero first (pooled buffers may hold anything, and the workgroup tile skips
   * keys of weight 0; with zeros every key has weight 1). Resolves to wall-clock ms.
   */
  async #probe(shape: AttentionShape, tile: TileName, repeats: number): Promise<number> {
    const state = await this.#live();
    const { device, pool } = state;
    const p = resolveEncodeProblem(shape, { kernel: 'fused' });
    const want = { weights: false, logSumExp: false };
    try {
      await this.#compile(state, p, want, tile, tile);
    } catch (e) {
      // A device lost mid-compile may fail the compile before device.lost settles: then the loss is
      // the answer, not a tile that cannot compile (which the measurement would drop for good).
      if (e instanceof GPUExecutionError && !this.#destroyed) await throwIfLostSoon(state);
      throw e;
    }
    this.#checkDestroyed(); // destroy() may have run during the compile: take nothing from its pool
    const s = p.shape;
    // The probe's buffers are made and cleared inside error scopes of their own (nothing awaited
    // between push and pop): running out of memory here fails the probe, not some caller's scope.
    pushScopes(device);
    const taken: GPUBuffer[] = [];
    let setupError: unknown = null;
    try {
      for (const [i, n] of [
        s.batch * s.heads * s.queryLength * s.headDim,
        s.batch * s.kvHeads * s.keyLength * s.headDim,
        s.batch * s.kvHeads * s.keyLength * s.valueDim,
        s.batch * s.heads * s.queryLength * s.valueDim,
      ].entries()) {
        taken.push(pool.acquire(n * 4, i < 3 ? BufferUsage.STORAGE | BufferUsage.COPY_DST : BufferUsage.STORAGE, 'webgpu-attention tile probe'));
      }
      const clear = device.createCommandEncoder({ label: 'webgpu-attention tile probe inputs' });
      for (const b of taken.slice(0, 3)) clear.clearBuffer(b);
      device.queue.submit([clear.finish()]);
    } catch (e) {
      setupError = e;
    }
    const setupScopes = popScopes(device);
    try {
      if (setupError) {
        setupScopes.catch(() => {});
        throw setupError;
      }
      const setupFailed = await this.#gpuWait(state, setupScopes);
      if (setupFailed) {
        for (const b of taken) pool.discard(b); // an allocation that ran out of memory stays invalid
        const { kind, error } = setupFailed;
        throw new GPUExecutionError(`GPU ${kind} error making the tile probe's buffers: ${error.message}`, 'fused', kind);
      }
    } catch (e) {
      releaseAll(pool, taken);
      throw e;
    }
    const [q, k, v, output] = taken;
    try {
      await this.#gpuWait(state, device.queue.onSubmittedWorkDone()); // not part of the timing
      this.#checkDestroyed();
      // Push, record, submit and pop with nothing awaited in between (as in #run), so the scopes
      // never interleave with another call's and are popped even if recording throws.
      pushScopes(device);
      let t0 = 0;
      const used = new Set<GPUBuffer>(); // the workspace scratch the repeats took, evicted after a GPU error
      try {
        const encoder = device.createCommandEncoder({ label: 'webgpu-attention tile probe' });
        state.uniforms.trim();
        for (let r = 0; r < repeats; r++) {
          // Scratch from the workspace, back after each repeat, as encode() does: the repeats run in
          // order in this submit and each writes its scratch before reading it, so one set serves all
          // (a set per repeat was up to 64 sets of partials on a GPU, 16-64 MiB each at L=2048).
          const scratch: GPUBuffer[] = [];
          try {
            this.#record(state, state.workspace, encoder, p, { q, k, v, output }, want, scratch, tile);
          } finally {
            scratch.forEach((b) => used.add(b));
            releaseAll(state.workspace, scratch);
          }
        }
        t0 = performance.now();
        device.queue.submit([encoder.finish()]);
      } catch (e) {
        popScopes(device).catch(() => {});
        throw e;
      }
      const [failed] = await this.#gpuWait(state, Promise.all([popScopes(device), device.queue.onSubmittedWorkDone()]));
      const ms = performance.now() - t0;
      if (failed) {
        // Its scratch may be an allocation that ran out of memory: not to be handed to encode() again.
        for (const b of used) state.workspace.discard(b);
        throw new GPUExecutionError(`GPU ${failed.kind} error in the tile probe: ${failed.error.message}`, 'fused', failed.kind);
      }
      return ms;
    } finally {
      if (!state.lostError) releaseAll(pool, taken);
    }
  }

  /** Tile measurements this context has (its own, or shared by another on the same adapter). */
  tileMeasurements(): TileMeasurement[] {
    return this.#tuner.measurements();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    // Waits on an earlier device (replaced after its loss) were rejected when it was lost: only the
    // current state's are pending.
    const waiting = [...this.#state.waiters];
    this.#state.waiters.clear();
    for (const w of waiting) w(destroyedWhileRunning());
    const st = this.#state;
    st.pool.destroy();
    st.workspace.destroy();
    st.uniforms.destroy();
    st.bindGroups.clear();
    st.dummies.read.destroy();
    st.dummies.write.destroy();
    if (this.#owned) st.device.destroy();
  }
}

function destroyedWhileRunning(): ContextDestroyedError {
  return new ContextDestroyedError('The attention context was destroyed while this call ran');
}

function copyInputs(d: CpuProblem['data']): CpuProblem['data'] {
  return { q: d.q.slice(), k: d.k.slice(), v: d.v.slice(), ...(d.mask ? { mask: d.mask.slice() } : {}) };
}

/**
 * Creates an attention context. Without `device`, asks navigator.gpu (browser) or the optional
 * `webgpu` package (Node) for one, which the context owns; a device passed in is borrowed.
 */
export async function createAttention(
  options: CreateAttentionOptions & { debug?: ContextDebugOptions } = {},
): Promise<AttentionContext> {
  if (options === null || typeof options !== 'object') {
    throw new AttentionInputError(`createAttention's options must be an object, got ${String(options)}`);
  }
  // `debug` is the tests' own option: accepted, not listed.
  rejectUnknownKeys(options, [...CREATE_OPTIONS, 'debug'], "createAttention's options", ['an option', 'options'], CREATE_OPTIONS);
  const pref = options.powerPreference;
  if (pref !== undefined && pref !== 'low-power' && pref !== 'high-performance') {
    throw new AttentionInputError(
      `options.powerPreference is ${JSON.stringify(pref)}; expected 'low-power', 'high-performance' or nothing`,
    );
  }
  const dev = options.device as Partial<GPUDevice> | undefined;
  if (dev !== undefined && (!dev || typeof dev.createBuffer !== 'function' || !dev.queue)) {
    throw new AttentionInputError(`options.device must be a GPUDevice (from adapter.requestDevice()), got ${String(dev)}`);
  }
  if (options.fusedTile !== undefined && !TILE_CHOICES.includes(options.fusedTile)) {
    throw new AttentionInputError(
      `options.fusedTile must be one of ${TILE_CHOICES.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(options.fusedTile)}`,
    );
  }
  if (options.splitKeysTile !== undefined && !SPLIT_TILE_CHOICES.includes(options.splitKeysTile)) {
    throw new AttentionInputError(
      `options.splitKeysTile must be one of ${SPLIT_TILE_CHOICES.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(options.splitKeysTile)}`,
    );
  }
  if (options.tileMeasurements !== undefined) checkTileMeasurements(options.tileMeasurements);
  if (options.device) {
    const storage = options.device.limits?.maxStorageBuffersPerShaderStage;
    if (storage < KERNEL_STORAGE_BUFFERS) {
      throw new DeviceLimitError(
        `options.device allows ${storage} storage buffers per shader stage (limits.maxStorageBuffersPerShaderStage) ` +
          `and the attention kernels bind up to ${KERNEL_STORAGE_BUFFERS}: request the device with requiredLimits: ` +
          `{ maxStorageBuffersPerShaderStage: ${KERNEL_STORAGE_BUFFERS} } where its adapter allows that, or from an adapter ` +
          `requested without featureLevel: 'compatibility'`,
      );
    }
    return new Context(makeState(options.device, undefined, false), false, options);
  }
  const { device, gpu } = await acquireDevice(options.powerPreference);
  return new Context(makeState(device, gpu, true), true, options);
}
