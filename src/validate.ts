// Input validation and rank normalisation. Everything here runs before any GPU work, so a bad
// call throws AttentionInputError and leaves the context untouched.
import { AttentionInputError } from './errors.js';
import { TILE_TIME_FIELDS } from './tile-tuning.js';
import { loadsFor, TILE_CHOICES, type TileName } from './tiles.js';
import type {
  AttentionMask,
  AttentionOptions,
  AttentionShape,
  CausalOption,
  EncodeOptions,
  GPUMaskDescriptor,
  KernelChoice,
  Tensor,
} from './types.js';

export const enum CausalMode {
  None = 0,
  TopLeft = 1,
  BottomRight = 2,
}

export const enum MaskKind {
  None = 0,
  Boolean = 1,
  Additive = 2,
}

/** A mask after validation: how to index it as [b, h, i, j] with broadcasting. */
export interface ResolvedMask {
  kind: MaskKind;
  /** Element strides for batch, head and query row; 0 where the mask broadcasts. */
  batchStride: number;
  headStride: number;
  rowStride: number;
  elements: number;
  /** The mask's shape as validated, padded to [mb, mh, mq, Lk] (the CPU reference reads the broadcast from it). */
  dims: [number, number, number, number];
}

/** One validated attention problem. */
export interface Problem {
  shape: AttentionShape;
  scale: number;
  causal: CausalMode;
  mask: ResolvedMask | null;
  kernel: KernelChoice;
  /** Shapes returned to the caller: q's rank, with E replaced (output) or extended (weights). */
  outputShape: number[];
  weightsShape: number[];
  logSumExpShape: number[];
}

/** A validated call on CPU tensors, with the arrays that were checked (read once, used from here on). */
export interface CpuProblem extends Problem {
  data: { q: Float32Array; k: Float32Array; v: Float32Array; mask?: Uint8Array | Float32Array };
}

const KERNELS: readonly KernelChoice[] = ['auto', 'staged', 'fused', 'split-keys'];
const KNOWN_OPTIONS = ['scale', 'kernel', 'causal', 'mask'];

const fmt = (s: readonly number[]) => `[${s.join(',')}]`;

/**
 * Throws for a key of `obj` outside `known` (a typo would otherwise be ignored), naming the key and
 * the keys in `listed` (default: all of `known`): "`label`.key is not `kind`; known `plural` are ...".
 */
export function rejectUnknownKeys(
  obj: object, known: readonly string[], label: string, [kind, plural]: [string, string], listed: readonly string[] = known,
): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new AttentionInputError(`${label}.${key} is not ${kind}; known ${plural} are ${listed.join(', ')}`);
    }
  }
}

/** `ranks`: what the error says a shape of another rank should be (a tensor's by default). */
function checkDims(name: string, shape: unknown, ranks = 'rank 2 ([L, E]), 3 ([H, L, E]) or 4 ([B, H, L, E])'): number[] {
  if (!Array.isArray(shape) && !(shape && typeof shape === 'object' && 'length' in shape)) {
    throw new AttentionInputError(`${name}.shape must be an array of dimensions, got ${show(shape)}`);
  }
  // The rank first, from the length alone: a data array passed as the shape is not copied or printed whole.
  const rank = (shape as ArrayLike<unknown>).length;
  if (!Number.isInteger(rank) || rank < 2 || rank > 4) {
    const head = Array.from({ length: Math.min(Number(rank) || 0, 6) }, (_, i) => show((shape as ArrayLike<unknown>)[i]));
    const shownHead = `[${head.join(',')}${Number(rank) > 6 ? ',…' : ''}]`;
    throw new AttentionInputError(`${name}.shape ${shownHead} has rank ${show(rank)}; expected ${ranks}`);
  }
  const dims = Array.from(shape as ArrayLike<unknown>);
  const shown = `[${dims.map(show).join(',')}]`;
  dims.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new AttentionInputError(
        `${name}.shape ${shown}: dimension ${i} is ${show(d)}; every dimension must be a positive integer`,
      );
    }
  });
  return dims as number[];
}

/**
 * A typed array of this kind, by its tag rather than instanceof, so that one made in another realm
 * (an iframe, a vm context, jsdom under a test runner) counts too.
 */
function isTyped<K extends 'Float32Array' | 'Uint8Array'>(x: unknown, kind: K): x is K extends 'Float32Array' ? Float32Array : Uint8Array {
  return ArrayBuffer.isView(x) && Object.prototype.toString.call(x) === `[object ${kind}]`;
}

// Each property is read once: a getter, or a caller changing the tensor later, cannot hand the
// kernels an array other than the one checked here.
function checkTensor(name: string, t: Tensor | undefined): { dims: number[]; data: Float32Array } {
  if (!t || typeof t !== 'object') {
    const what = t === undefined || t === null ? 'is missing' : 'is not a tensor';
    throw new AttentionInputError(`${name} ${what}: expected { data: Float32Array, shape: number[] }, got ${show(t)}`);
  }
  const dims = checkDims(name, t.shape);
  const data: unknown = t.data;
  if (!isTyped(data, 'Float32Array')) {
    const got = data === undefined || data === null ? String(data) : (data as object).constructor?.name ?? typeof data;
    throw new AttentionInputError(`${name}.data must be a Float32Array, got ${got}`);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new AttentionInputError(
      `${name}.data has ${data.length} elements but ${name}.shape ${fmt(dims)} needs ${n}`,
    );
  }
  return { dims, data };
}

/** [L, E] → [1, 1, L, E]; [H, L, E] → [1, H, L, E]. */
function to4(d: number[]): [number, number, number, number] {
  const p = [1, 1, 1, 1, ...d].slice(-4);
  return [p[0], p[1], p[2], p[3]];
}

function resolveCausal(c: CausalOption | undefined): CausalMode {
  if (c === undefined || c === false) return CausalMode.None;
  if (c === true || c === 'top-left') return CausalMode.TopLeft;
  if (c === 'bottom-right') return CausalMode.BottomRight;
  throw new AttentionInputError(
    `options.causal is ${show(c)}; expected true, false, 'top-left' or 'bottom-right'`,
  );
}

/** `alsoKnown`: option keys the caller handles itself (prepare()'s), accepted and listed as known. */
function resolveCommon(
  options: AttentionOptions | EncodeOptions | undefined,
  headDim: number,
  alsoKnown: readonly string[] = [],
): { scale: number; causal: CausalMode; kernel: KernelChoice } {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new AttentionInputError(`options must be an object, got ${String(options)}`);
  }
  const o = options ?? {};
  rejectUnknownKeys(o, [...KNOWN_OPTIONS, ...alsoKnown], 'options', ['an option', 'options']);
  // null is not "unset" (as for causal and mask): it is rejected.
  const scale = o.scale === undefined ? 1 / Math.sqrt(headDim) : o.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new AttentionInputError(`options.scale is ${show(o.scale)}; expected a finite number`);
  }
  if (!Number.isFinite(Math.fround(scale))) {
    throw new AttentionInputError(
      `options.scale is ${scale}, past the float32 range the kernels compute in; expected a magnitude below 3.4e38`,
    );
  }
  const kernel = o.kernel === undefined ? 'auto' : o.kernel;
  if (!KERNELS.includes(kernel)) {
    throw new AttentionInputError(
      `options.kernel is ${show(kernel)}; expected one of ${KERNELS.map((k) => `'${k}'`).join(', ')}`,
    );
  }
  return { scale, causal: resolveCausal(o.causal), kernel };
}

/** Checks the mask shape against the problem; returns broadcast strides. */
function resolveMaskShape(
  kind: MaskKind,
  dims: unknown,
  shape: AttentionShape,
  length: number | undefined,
): ResolvedMask {
  const { batch: B, heads: H, queryLength: Lq, keyLength: Lk } = shape;
  const expected = `[${Lq}|1,${Lk}] or [${B}|1,${H}|1,${Lq}|1,${Lk}]`;
  const m = checkDims('options.mask', dims, expected);
  if (m.length === 3) {
    throw new AttentionInputError(`options.mask.shape ${fmt(m)} has rank 3; expected ${expected}`);
  }
  const [mb, mh, mq, mk] = to4(m);
  if (mk !== Lk || (mq !== 1 && mq !== Lq) || (mb !== 1 && mb !== B) || (mh !== 1 && mh !== H)) {
    throw new AttentionInputError(
      `options.mask.shape ${fmt(m)} does not fit B=${B}, H=${H}, Lq=${Lq}, Lk=${Lk}; expected ${expected}`,
    );
  }
  const elements = mb * mh * mq * mk;
  if (length !== undefined && length !== elements) {
    throw new AttentionInputError(
      `options.mask.data has ${length} elements but options.mask.shape ${fmt(m)} needs ${elements}`,
    );
  }
  return {
    kind,
    batchStride: mb === 1 ? 0 : mh * mq * Lk,
    headStride: mh === 1 ? 0 : mq * Lk,
    // A query length of 1 broadcasts over the rows: a key-padding mask [B, 1, 1, Lk], as PyTorch's.
    rowStride: mq === 1 ? 0 : Lk,
    elements,
    dims: [mb, mh, mq, mk],
  };
}

function resolveCpuMask(
  mask: AttentionMask | undefined,
  shape: AttentionShape,
): { mask: ResolvedMask | null; data?: Uint8Array | Float32Array } {
  if (mask === undefined) return { mask: null };
  if (!mask || typeof mask !== 'object') {
    throw new AttentionInputError(`options.mask must be { data, shape }, got ${String(mask)}`);
  }
  const data: unknown = mask.data;
  let kind: MaskKind;
  if (isTyped(data, 'Uint8Array')) kind = MaskKind.Boolean;
  else if (isTyped(data, 'Float32Array')) kind = MaskKind.Additive;
  else {
    const got = (data as object | undefined)?.constructor?.name ?? String(data);
    throw new AttentionInputError(
      `options.mask.data must be a Uint8Array (boolean, nonzero = attend) or a Float32Array (additive), got ${got}`,
    );
  }
  return { mask: resolveMaskShape(kind, mask.shape, shape, data.length), data };
}

/** A value for an error message: a string quoted and a bigint marked, so '16' or 16n does not read as 16. */
function show(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'string' || (x !== null && typeof x === 'object')) {
    try {
      return JSON.stringify(x) ?? String(x);
    } catch {
      return String(x); // a cycle
    }
  }
  return String(x);
}

/** Checks the sizes shared by the CPU and GPU-resident entry points. */
export function checkShape(shape: AttentionShape): void {
  const names: (keyof AttentionShape)[] = [
    'batch', 'heads', 'kvHeads', 'queryLength', 'keyLength', 'headDim', 'valueDim',
  ];
  if (!shape || typeof shape !== 'object') {
    throw new AttentionInputError(`shape is missing: expected { ${names.join(', ')} }`);
  }
  // A misspelt field must not pass: a KV cache's `keycapacity` would read every head past the
  // first at the wrong rows, with no error.
  rejectUnknownKeys(shape, [...names, 'keyCapacity'], 'shape', ['a field of the shape', 'fields']);
  for (const n of names) {
    const d = shape[n];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new AttentionInputError(`shape.${n} is ${show(d)}; expected a positive integer`);
    }
  }
  if (shape.heads % shape.kvHeads !== 0) {
    throw new AttentionInputError(
      `heads ${shape.heads} is not a multiple of kvHeads ${shape.kvHeads}; grouped-query attention needs H % Hkv == 0`,
    );
  }
  const cap: unknown = shape.keyCapacity;
  if (cap !== undefined && (typeof cap !== 'number' || !Number.isInteger(cap) || cap < shape.keyLength)) {
    throw new AttentionInputError(
      `shape.keyCapacity is ${show(cap)}; expected an integer of at least keyLength (${shape.keyLength}): the rows per ` +
        'kv head that the k and v buffers hold, or leave it out when they hold exactly keyLength',
    );
  }
}

/** Rows per kv head in the k and v buffers: keyCapacity (a preallocated cache) or keyLength. */
export function kvRows(shape: AttentionShape): number {
  return shape.keyCapacity ?? shape.keyLength;
}

/** Validates CPU tensors and options; the single source of truth for what a valid call is. */
export function resolveProblem(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): CpuProblem {
  const { dims: qd, data: qData } = checkTensor('q', q);
  const { dims: kd, data: kData } = checkTensor('k', k);
  const { dims: vd, data: vData } = checkTensor('v', v);
  if (kd.length !== vd.length) {
    throw new AttentionInputError(`k.shape ${fmt(kd)} and v.shape ${fmt(vd)} have different ranks`);
  }
  const [B, H, Lq, E] = to4(qd);
  const [Bk, Hk, Lk, Ek] = to4(kd);
  const [Bv, Hv, Lv, Ev] = to4(vd);
  if (Bk !== B || Bv !== B) {
    throw new AttentionInputError(
      `batch sizes differ: q.shape ${fmt(qd)} has B=${B}, k.shape ${fmt(kd)} has B=${Bk}, v.shape ${fmt(vd)} has B=${Bv}`,
    );
  }
  if (Ek !== E) {
    throw new AttentionInputError(
      `k.shape ${fmt(kd)} does not match q.shape ${fmt(qd)}: head dims ${Ek} and ${E} differ`,
    );
  }
  if (Hv !== Hk) {
    throw new AttentionInputError(`k.shape ${fmt(kd)} and v.shape ${fmt(vd)}: head counts ${Hk} and ${Hv} differ`);
  }
  if (Lv !== Lk) {
    throw new AttentionInputError(
      `k.shape ${fmt(kd)} and v.shape ${fmt(vd)}: key lengths ${Lk} and ${Lv} differ`,
    );
  }
  if (H % Hk !== 0) {
    throw new AttentionInputError(
      `q has ${H} heads and k/v have ${Hk}: H must be a multiple of Hkv (grouped-query attention)`,
    );
  }
  const shape: AttentionShape = {
    batch: B, heads: H, kvHeads: Hk, queryLength: Lq, keyLength: Lk, headDim: E, valueDim: Ev,
  };
  const common = resolveCommon(options, E);
  const { mask, data: maskData } = resolveCpuMask(options?.mask, shape);
  const lead = qd.slice(0, -1);
  return {
    shape,
    ...common,
    mask,
    data: { q: qData, k: kData, v: vData, ...(maskData ? { mask: maskData } : {}) },
    outputShape: [...lead, Ev],
    weightsShape: [...lead, Lk],
    logSumExpShape: lead,
  };
}

/** prepare()'s own options: which calls to prepare for. */
export const PREPARE_OPTIONS = ['weights', 'logSumExp'] as const;

/**
 * Which calls prepare() prepares for: `weights` and `logSumExp` are booleans, not both (no call
 * returns both). The other options are the calls' own (resolveEncodeProblem checks them).
 */
export function prepareWants(options: unknown): { weights: boolean; logSumExp: boolean } {
  if (options === null || typeof options !== 'object') return { weights: false, logSumExp: false };
  const { weights, logSumExp } = options as { weights?: unknown; logSumExp?: unknown };
  for (const [name, value] of [['weights', weights], ['logSumExp', logSumExp]] as const) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new AttentionInputError(`options.${name} is ${show(value)}; expected true or false (whether to prepare for those calls)`);
    }
  }
  if (weights && logSumExp) {
    throw new AttentionInputError('options.weights and options.logSumExp are both true, but no call returns both; prepare for each separately');
  }
  return { weights: !!weights, logSumExp: !!logSumExp };
}

/**
 * Validates the GPU-resident call's shape and options (buffers are checked by the caller).
 * `alsoKnown`: option keys the caller handles itself.
 */
export function resolveEncodeProblem(shape: AttentionShape, options?: EncodeOptions, alsoKnown: readonly string[] = []): Problem {
  checkShape(shape);
  const common = resolveCommon(options, shape.headDim, alsoKnown);
  let mask: ResolvedMask | null = null;
  const md: GPUMaskDescriptor | undefined = options?.mask;
  if (md !== undefined) {
    if (!md || typeof md !== 'object') {
      throw new AttentionInputError(`options.mask must be { kind: 'boolean' | 'additive', shape }, got ${show(md)}`);
    }
    if (md.kind !== 'boolean' && md.kind !== 'additive') {
      throw new AttentionInputError(`options.mask.kind is ${show(md.kind)}; expected 'boolean' or 'additive'`);
    }
    mask = resolveMaskShape(md.kind === 'boolean' ? MaskKind.Boolean : MaskKind.Additive, md.shape, shape, undefined);
  }
  const { batch: B, heads: H, queryLength: Lq, keyLength: Lk, valueDim: Ev } = shape;
  return {
    shape, ...common, mask,
    outputShape: [B, H, Lq, Ev], weightsShape: [B, H, Lq, Lk], logSumExpShape: [B, H, Lq],
  };
}

/** Under a causal mode, query i sees keys j <= i + this offset (shared by the reference and the kernels' params). */
export function causalOffset(causal: CausalMode, shape: AttentionShape): number {
  return causal === CausalMode.BottomRight ? shape.keyLength - shape.queryLength : 0;
}

/**
 * createAttention's tileMeasurements: an array of what ctx.tileMeasurements() returns (as JSON
 * gives it back). Whether an entry applies to this adapter is the tuner's question; here only its
 * form, so that a corrupted store fails loudly instead of steering the tile choice.
 */
export function checkTileMeasurements(list: unknown): void {
  if (!Array.isArray(list)) {
    throw new AttentionInputError(
      `options.tileMeasurements must be an array of what ctx.tileMeasurements() returns, got ${show(list)}`,
    );
  }
  const tiles = TILE_CHOICES.filter((t) => t !== 'auto');
  const times: Record<string, string> = TILE_TIME_FIELDS;
  list.forEach((m: unknown, i) => {
    const at = `options.tileMeasurements[${i}]`;
    if (m === null || typeof m !== 'object') throw new AttentionInputError(`${at} must be an object, got ${show(m)}`);
    const e = m as Record<string, unknown>;
    const fail = (field: string, what: string) => {
      throw new AttentionInputError(`${at}.${field} must be ${what}, got ${show(e[field])}; pass entries as ctx.tileMeasurements() returned them`);
    };
    const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
    const count = (x: unknown) => Number.isInteger(x) && (x as number) > 0;
    if (typeof e.adapter !== 'string') fail('adapter', 'a string');
    // Absent in what versions before the field saved: such an entry is ignored, not an error.
    if (e.kernels !== undefined && typeof e.kernels !== 'string') fail('kernels', 'a string or absent');
    if (typeof e.quadShared !== 'boolean') fail('quadShared', 'a boolean');
    if (e.adapterKind !== 'software' && e.adapterKind !== 'gpu') fail('adapterKind', "'software' or 'gpu'");
    if (!Number.isInteger(e.workgroupStorageSize) || (e.workgroupStorageSize as number) < 0) fail('workgroupStorageSize', 'a whole number of bytes');
    if (e.loads !== 'vec4' && e.loads !== 'scalar') fail('loads', "'vec4' or 'scalar'");
    if (!count(e.headDim)) fail('headDim', 'a positive integer');
    if (!count(e.valueDim)) fail('valueDim', 'a positive integer');
    // The verdict is kept under (loads, ⌈E/4⌉, ⌈Ev/4⌉): loads that do not follow from the head sizes
    // would file it under other head sizes, whose candidates were never checked.
    const loads = loadsFor({ headDim: e.headDim as number, valueDim: e.valueDim as number });
    if (e.loads !== loads) fail('loads', `'${loads}' for headDim ${e.headDim} and valueDim ${e.valueDim}`);
    if (e.probe === null || typeof e.probe !== 'object') fail('probe', 'an object (the probe shape)');
    if (!count(e.repeats)) fail('repeats', 'a positive integer');
    if (!positive(e.compactMs)) fail('compactMs', 'a positive number of milliseconds');
    for (const field of Object.values(times)) {
      if (e[field] !== undefined && !positive(e[field])) fail(field, 'a positive number of milliseconds or absent');
    }
    if (!tiles.includes(e.verdict as TileName)) fail('verdict', `one of ${tiles.map((t) => `'${t}'`).join(', ')}`);
    if (e.verdict !== 'compact' && e[times[e.verdict as string]] === undefined) {
      fail(times[e.verdict as string], `the time of the verdict's tile ('${e.verdict}')`);
    }
  });
}
