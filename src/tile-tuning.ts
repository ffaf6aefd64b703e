// A one-time measurement, per adapter, of which fused tile is fastest (src/tiles.ts).
//
// Which tile is faster depends on the adapter far more than on the call: on SwiftShader (a CPU)
// the wide tile's shared k/v loads made it ~1.6-1.9x faster than compact (since both share loads
// across quads there, ~1.3x at E=64 and slower at E=128; not timed beside held-keys: tiles.ts) and the
// workgroup tile is the slowest; on a real GPU the wide tile's register footprint would spill and
// workgroup memory is what flash attention is built on (and on an NVIDIA H200 wide did not even
// compile in a minute, so GPUs time compact against workgroup and workgroup-split: tileCandidates).
// So under fusedTile 'auto' little is assumed: once a context has run enough work that could take
// another tile (HOT_FLOPS, like a JIT's hotness counter), the candidates' pipelines are compiled in
// the background and every candidate is timed against compact on a fixed probe problem. The
// verdict is cached per adapter (vendor, architecture, device, description), per head size and
// per kernel variant (quad-shared loads or not: a borrowed device may lack 'subgroups'), for every
// context in the page or process; until it is in, calls run compact.

import { GPUExecutionError } from './errors.js';
import { kernelSource, type KernelName, type Loads } from './shaders.js';
import {
  COMPACT, COMPACT_Q_REGS, COMPACT_Q_REGS_MAX_DIM, HELD_KEYS, HELD_KEYS_32, HELD_KEYS_64_MIN_CAUSAL_ROWS, HELD_KEYS_64_MIN_ROWS,
  quadSharing, softwareAdapter, tileCandidates, WIDE, WIDE_8_ROWS, WORKGROUP_ROWS,
  WORKGROUP_SPLIT_MIN_KEYS, WORKGROUP_SPLIT_TARGET, type TileName,
} from './tiles.js';
import type { AttentionShape, TileMeasurement } from './types.js';

/** Work (nominal FLOPs) of calls that could take another tile, after which a context measures the tiles. */
export const HOT_FLOPS = 1e9;

/** A tile must be this much faster than compact to be used (measurements are noisy). */
export const TILE_MARGIN = 0.95;

/** Wall-clock time a probe aims for, so fast adapters repeat the dispatch instead of timing noise. */
const PROBE_TARGET_MS = 30;
const PROBE_MAX_REPEATS = 64;
const PROBE_ROUNDS = 5;
/**
 * The probe's Lq = Lk (B=1, H=8). 512 on a software adapter (~60 ms a run there); 2048 on a GPU,
 * so that every tile fills it: at 512 the workgroup tile would make 64 workgroups and compact 16,
 * fewer than a large GPU has compute units, and the verdict would be about an idle GPU.
 */
const PROBE_LENGTH = { software: 512, gpu: 2048 };

/** The TileMeasurement field holding each tile's time besides compact's (compactMs). */
export const TILE_TIME_FIELDS = {
  wide: 'wideMs',
  workgroup: 'workgroupMs',
  'workgroup-split': 'workgroupSplitMs',
  'held-keys': 'heldKeysMs',
} as const satisfies Record<Exclude<TileName, 'compact'>, keyof TileMeasurement>;

/** The fastest of the timed tiles if it was at least 5 % faster than compact (TILE_MARGIN); compact otherwise. */
function fastestTile(compactMs: number, timed: ReadonlyArray<readonly [TileName, number | undefined]>): TileName {
  let best: TileName = 'compact';
  let bestMs = TILE_MARGIN * compactMs;
  for (const [tile, ms] of timed) {
    if (ms !== undefined && ms < bestMs) [best, bestMs] = [tile, ms];
  }
  return best;
}

/**
 * Bump when a change in the TypeScript that picks or plans a tile (tiles.ts's rules, the dispatch
 * plans in encode-attention.ts, the probe) changes what a tile runs or how it is timed: the
 * fingerprint below sees the kernels' sources and the exported settings, not that code.
 */
const TILES_REVISION = 2; // 2: wide no longer timed beside held-keys at E <= 64

/** The kernels the tiles run, and their merges. */
const TILE_KERNELS: readonly KernelName[] = ['flash', 'flash-quad', 'flash-tiled', 'flash-held-keys', 'flash-held-keys-32', 'merge', 'merge-rows'];
let fingerprint: string | undefined;

/**
 * What a verdict was measured with: a hash (FNV-1a, 8 hex digits) of the tiles' kernel sources,
 * settings (rows per invocation, q in registers, held keys, workgroup splits, the probe) and
 * TILES_REVISION. A saved measurement (createAttention's tileMeasurements) with another is measured
 * again: a later version of the library may have made another tile the fastest.
 */
export function kernelsFingerprint(): string {
  if (fingerprint === undefined) {
    const settings = JSON.stringify([
      COMPACT, COMPACT_Q_REGS, COMPACT_Q_REGS_MAX_DIM, WIDE, WIDE_8_ROWS, HELD_KEYS, HELD_KEYS_32,
      HELD_KEYS_64_MIN_ROWS, HELD_KEYS_64_MIN_CAUSAL_ROWS, WORKGROUP_ROWS, WORKGROUP_SPLIT_TARGET, WORKGROUP_SPLIT_MIN_KEYS,
      PROBE_LENGTH, PROBE_ROUNDS, PROBE_TARGET_MS, PROBE_MAX_REPEATS, TILE_MARGIN, TILES_REVISION,
    ]);
    const text = TILE_KERNELS.map((k) => kernelSource(k, 'vec4') + kernelSource(k, 'scalar')).join('') + settings;
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    fingerprint = (h >>> 0).toString(16).padStart(8, '0');
  }
  return fingerprint;
}

/** Runs the probe problem `repeats` times on one tile in one submit; resolves to wall-clock ms. */
export type ProbeRunner = (shape: AttentionShape, tile: TileName, repeats: number) => Promise<number>;

type Entry = {
  promise: Promise<TileMeasurement | null>;
  result?: TileMeasurement | null;
  /**
   * A token of the tuner whose context runs the probes (not the tuner: the map lives as long as the
   * page, and the tuner reaches its context and device, which would then never be collected).
   */
  owner: object;
  /** The measurement failed (its context destroyed, its device lost): the entry was dropped. */
  failed?: boolean;
};

// Verdicts shared by every device of the same adapter; keyed by adapter, loads and head size.
const shared = new Map<string, Entry>();
// An adapter that cannot be named shares its verdicts per device instead.
const perDevice = new WeakMap<GPUDevice, Map<string, Entry>>();

// Measurements on one adapter run one after another: two at once (prepare() for two head sizes,
// say) would time each other's probes on the same queue and cores, and their verdicts are kept for
// good. Other adapters keep queues of their own (keyed by name, or by device where it has none).
const queues = new Map<string, Promise<unknown>>();
const deviceQueues = new WeakMap<GPUDevice, Promise<unknown>>();
function oneAtATime<T>(adapter: string | null, device: GPUDevice, run: () => Promise<T>): Promise<T> {
  const tail = (adapter === null ? deviceQueues.get(device) : queues.get(adapter)) ?? Promise.resolve();
  const next = tail.then(run, run);
  const settled = next.catch(() => {});
  if (adapter === null) deviceQueues.set(device, settled);
  else queues.set(adapter, settled);
  return next;
}

export function adapterName(device: GPUDevice): string | null {
  const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo; // missing in older browsers
  const fields = info ? [info.vendor, info.architecture, info.device, info.description] : [];
  // A browser that reveals nothing about the adapter: the verdict stays with this context's tuner.
  if (!fields.some(Boolean)) return null;
  return fields.map((s) => s || '-').join(' / ');
}

export class TileTuner {
  /** Work done by calls that could take another tile, per key (head sizes): HOT_FLOPS of it starts that key's measurement. */
  readonly #hot = new Map<string, number>();
  /** Stands for this tuner in the entries it owns. */
  readonly #token = {};
  // Used instead of `shared` when the adapter cannot be named (then the verdict is per device).
  readonly #own: Map<string, Entry>;
  readonly #adapter: string | null;
  readonly #device: GPUDevice;
  readonly #quad: boolean;
  readonly #software: boolean;
  readonly #wgMemory: number;
  /** Start of this tuner's keys: the adapter and the kernel variant (quad-shared loads or not). */
  readonly #prefix: string;

  /**
   * `software`: whether to treat the adapter as a software one (default: softwareAdapter's answer).
   * `earlier`: measurements made before (createAttention's tileMeasurements), used where they match.
   */
  constructor(device: GPUDevice, private readonly runProbe: ProbeRunner, software = softwareAdapter(device),
    earlier: readonly TileMeasurement[] = [], private readonly rounds = PROBE_ROUNDS) {
    this.#adapter = adapterName(device);
    this.#device = device;
    let own = perDevice.get(device);
    if (!own) perDevice.set(device, (own = new Map()));
    this.#own = own;
    this.#quad = quadSharing(device);
    this.#software = software;
    // The workgroup tile's keys per tile follow the device's workgroup memory limit.
    this.#wgMemory = device.limits.maxComputeWorkgroupStorageSize;
    this.#prefix = `${this.#adapter ?? 'this device'}|${this.#quad ? 'quad' : 'plain'}|${this.#wgMemory}|${software ? 'software' : 'gpu'}|`;
    for (const m of earlier) this.#adopt(m);
  }

  /**
   * Takes an earlier measurement as this adapter's verdict for its head sizes, if it was made on
   * an adapter of the same name (an unnamed one matches nothing), kind, loads sharing and workgroup
   * memory limit, of the same kernels (kernelsFingerprint), if its verdict is still a candidate
   * there (or compact), and if there is no verdict yet.
   */
  #adopt(m: TileMeasurement): void {
    const kind = this.#software ? 'software' : 'gpu';
    if (!this.#adapter || m.adapter !== this.#adapter || m.adapterKind !== kind || m.quadShared !== this.#quad ||
      m.workgroupStorageSize !== this.#wgMemory || m.kernels !== kernelsFingerprint()) return;
    const shape = { headDim: m.headDim, valueDim: m.valueDim };
    const candidates = tileCandidates(shape, this.#software, this.#quad);
    if (m.verdict !== 'compact' && !candidates.includes(m.verdict)) return;
    const key = this.#key(m.loads, m.headDim, m.valueDim);
    if (shared.has(key)) return;
    const result: TileMeasurement = { ...m, probe: { ...m.probe } };
    // Times of tiles that are no longer candidates here (the lists change between versions) are
    // dropped: the kept entry says only what this version would time.
    for (const [tile, field] of Object.entries(TILE_TIME_FIELDS)) {
      if (!candidates.includes(tile as TileName)) delete result[field];
    }
    shared.set(key, { owner: this.#token, promise: Promise.resolve(result), result });
  }

  /** Whether the adapter counts as a software one here: no workgroup tile, the small probe. */
  get software(): boolean {
    return this.#software;
  }

  #entries(): Map<string, Entry> {
    return this.#adapter ? shared : this.#own;
  }

  #key(loads: Loads, headDim: number, valueDim: number): string {
    return `${this.#prefix}${loads}|${Math.ceil(headDim / 4)}|${Math.ceil(valueDim / 4)}`;
  }

  /**
   * The measured verdict for calls with these head sizes, or undefined while there is none. Counts
   * the call's work (`flops`); once the context has done HOT_FLOPS of it, the measurement starts.
   * `flops` null (encode(), which must not submit) counts nothing and starts nothing.
   */
  verdict(loads: Loads, headDim: number, valueDim: number, flops: number | null): TileName | undefined {
    const key = this.#key(loads, headDim, valueDim);
    const entry = this.#entries().get(key);
    if (entry) return entry.result === undefined ? undefined : (entry.result?.verdict ?? 'compact');
    if (flops === null) return undefined;
    // Counted per head size: a single small call at a new head size does not start its measurement.
    const hot = (this.#hot.get(key) ?? 0) + flops;
    this.#hot.set(key, hot);
    if (hot >= HOT_FLOPS) void this.measure(loads, headDim, valueDim);
    return undefined;
  }

  /** Measures (once per adapter and head size; later callers share the result). Null if it failed. */
  measure(loads: Loads, headDim: number, valueDim: number): Promise<TileMeasurement | null> {
    const entries = this.#entries();
    const key = this.#key(loads, headDim, valueDim);
    let entry = entries.get(key);
    if (!entry) {
      const length = PROBE_LENGTH[this.#software ? 'software' : 'gpu'];
      const probe: AttentionShape = { batch: 1, heads: 8, kvHeads: 8, queryLength: length, keyLength: length, headDim, valueDim };
      const e: Entry = {
        owner: this.#token,
        promise: oneAtATime(this.#adapter, this.#device, () => this.#time(loads, probe)).then(
          (m) => (e.result = m),
          () => {
            // The device was lost or the context destroyed mid-probe: let a later context retry,
            // and this one only after another HOT_FLOPS of work (not on every call if it fails again).
            e.failed = true;
            if (entries.get(key) === e) entries.delete(key);
            this.#hot.delete(key);
            return null;
          },
        ),
      };
      entries.set(key, (entry = e));
    }
    const joined = entry;
    // A measurement another context started and lost (destroyed mid-probe) is this one's to run.
    return joined.promise.then((m) => (joined.failed && joined.owner !== this.#token ? this.measure(loads, headDim, valueDim) : m));
  }

  /**
   * This context's verdicts and any it shares with other contexts on the same adapter: copies, so
   * that an app editing what it got (to save it, say) changes no context's verdict.
   */
  measurements(): TileMeasurement[] {
    return [...this.#entries()]
      .filter(([key, e]) => key.startsWith(this.#prefix) && e.result)
      .map(([, e]) => {
        const m = e.result as TileMeasurement;
        return { ...m, probe: { ...m.probe } };
      });
  }

  async #time(loads: Loads, probe: AttentionShape): Promise<TileMeasurement | null> {
    // The first run of each candidate compiles its pipeline (awaited, not timed); a candidate that
    // failed to compile (or to run: GPUExecutionError) is left out, and with none left there is no
    // verdict (null: compact). Anything else (the context destroyed, the device lost) rejects, so
    // the entry is dropped and a later context measures again.
    // Out of memory is no verdict on the tile: the measurement fails (and is retried after more
    // work) rather than dropping the candidate for good.
    const dropFailed = (e: unknown) => {
      if (e instanceof GPUExecutionError && e.kind !== 'out-of-memory') return null;
      throw e;
    };
    const others: TileName[] = [];
    for (const tile of tileCandidates(probe, this.#software, this.#quad)) {
      if (tile !== 'compact' && (await this.runProbe(probe, tile, 1).catch(dropFailed)) !== null) others.push(tile);
    }
    if (others.length === 0) return null;
    const tiles: TileName[] = ['compact', ...others];
    await this.runProbe(probe, 'compact', 1);
    let once = Infinity;
    for (const tile of tiles) once = Math.min(once, await this.runProbe(probe, tile, 1));
    const repeats = Math.max(1, Math.min(PROBE_MAX_REPEATS, Math.ceil(PROBE_TARGET_MS / Math.max(once, 0.01))));
    const ms: Partial<Record<TileName, number>> = {};
    for (let r = 0; r < this.rounds; r++) {
      for (const tile of tiles) ms[tile] = Math.min(ms[tile] ?? Infinity, (await this.runProbe(probe, tile, repeats)) / repeats);
    }
    const compactMs = ms.compact as number;
    const times: Partial<Record<(typeof TILE_TIME_FIELDS)[keyof typeof TILE_TIME_FIELDS], number>> = {};
    for (const t of others) times[TILE_TIME_FIELDS[t as keyof typeof TILE_TIME_FIELDS]] = ms[t];
    return {
      adapter: this.#adapter ?? 'unnamed adapter',
      kernels: kernelsFingerprint(),
      quadShared: this.#quad,
      adapterKind: this.#software ? 'software' : 'gpu',
      workgroupStorageSize: this.#wgMemory,
      loads,
      headDim: probe.headDim,
      valueDim: probe.valueDim ?? probe.headDim,
      probe,
      repeats,
      compactMs,
      ...times,
      verdict: fastestTile(compactMs, others.map((t) => [t, ms[t]] as const)),
    };
  }
}
