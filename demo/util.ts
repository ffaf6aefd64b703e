// Small helpers: DOM building, formatting, seeded random tensors.
import type { Tensor } from './lib';

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing from index.html`);
  return e;
}

/** Fixed decimals, with a proper minus sign kept ASCII so tests can parse it. */
export function fixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  const s = x.toFixed(digits);
  return s === `-${(0).toFixed(digits)}` ? (0).toFixed(digits) : s;
}

export function ms(t: number): string {
  if (t < 0.01) return `${(t * 1000).toFixed(2)} µs`; // a tiny call's median (timed in batches)
  if (t < 1) return `${t.toFixed(3)} ms`;
  if (t < 100) return `${t.toFixed(2)} ms`;
  if (t < 10000) return `${t.toFixed(0)} ms`;
  return `${(t / 1000).toFixed(1)} s`;
}

/** A rate such as GFLOP/s: 3 decimals, or 3 significant digits below 0.1 (a tiny shape's 0.0004 is not 0.000). */
export function rate(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 0.1 || x === 0 ? x.toFixed(3) : x.toPrecision(3);
}

/** A speed-up such as 3.25×: 2 decimals, or 2 significant digits below 0.1 (a tiny shape's 0.0031× is not 0.00×). */
export function ratio(x: number): string {
  if (!Number.isFinite(x)) return `${x}×`;
  return `${Math.abs(x) >= 0.1 || x === 0 ? x.toFixed(2) : x.toPrecision(2)}×`;
}

export function sci(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  return x.toExponential(2);
}

/** A table of a rows x cols matrix stored row-major at data[offset..]. */
export function matrixTable(
  data: ArrayLike<number>,
  rows: number,
  cols: number,
  digits: number,
  attrs: Record<string, string> = {},
): HTMLTableElement {
  const t = h('table', { class: 'matrix', ...attrs });
  for (let i = 0; i < rows; i++) {
    const tr = h('tr');
    for (let j = 0; j < cols; j++) tr.append(h('td', { text: fixed(data[i * cols + j]!, digits) }));
    t.append(tr);
  }
  return t;
}

/** Mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal values (Box-Muller), times `sd`. */
export function randomTensor(shape: number[], rand: () => number, sd = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * sd;
    data[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) data[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return { data, shape };
}

/** The largest |a[i] - b[i]|; NaN if either holds a NaN there or the lengths differ (a short result is no match). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? NaN : d;
    if (Number.isNaN(m)) return NaN;
  }
  return m;
}

/** Let the browser paint (status text) before a long synchronous CPU run. */
export function nextFrame(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A call at least this long (ms) is timed as it comes, its first run a sample (timeCall). */
const LONG_CALL_MS = 100;
/** A batch of calls is a sample only if it read at least this long (ms): the clock may tick in 0.1 ms steps. */
const MIN_READING_MS = 2;

/**
 * Median time of one synchronous call, in ms. The page's clock may tick in 0.1 ms steps (not
 * cross-origin isolated), so short calls are timed in batches: a batch that reads under
 * MIN_READING_MS is no sample, and the batch doubles (a lone 30 µs call read 0). Each sample is a
 * batch's time over its size. A pause of the busy page (a collection, another process on the core)
 * inflates one reading, which is then one sample of several rather than what sizes the batch.
 * Returns the last call's result too. At most `samples` samples, fewer once `budgetMs` is spent.
 */
export function timeCall<T>(fn: () => T, samples: number, budgetMs: number): { ms: number; result: T } {
  let t0 = performance.now();
  let result = fn();
  const first = performance.now() - t0;
  let spent = first;
  // A first call of LONG_CALL_MS or more is a sample (timing it again would double a slow run); a
  // shorter one may be cold and says little.
  const times: number[] = first >= LONG_CALL_MS ? [first] : [];
  let batch = 1;
  while (times.length < samples && (times.length === 0 || spent < budgetMs)) {
    t0 = performance.now();
    for (let i = 0; i < batch; i++) result = fn();
    const dt = performance.now() - t0;
    spent += dt;
    if (dt < MIN_READING_MS && batch < 1 << 20) {
      batch *= 2;
      continue;
    }
    times.push(dt / batch);
  }
  return { ms: median(times), result };
}

/**
 * One run at a time on the page: the playground and the benchmark share one GPU context and the
 * page's thread, so a run beside another would time both wrong. While one runs, every registered
 * button is disabled; afterwards each is enabled unless its `blocked()` says otherwise.
 */
const runButtons: { button: HTMLButtonElement; blocked: () => boolean }[] = [];
let pageBusy = false;

export function registerRunButton(button: HTMLButtonElement, blocked: () => boolean = () => false): void {
  runButtons.push({ button, blocked });
  button.disabled = pageBusy || blocked();
}

/** Runs `fn` unless another run is going (then returns false without running it). */
export async function exclusive(fn: () => Promise<void>): Promise<boolean> {
  if (pageBusy) return false;
  pageBusy = true;
  const focused = runButtons.find((b) => b.button === document.activeElement)?.button;
  for (const b of runButtons) b.button.disabled = true;
  try {
    await fn();
  } finally {
    pageBusy = false;
    for (const b of runButtons) b.button.disabled = b.blocked();
    // Disabling the button that had the keyboard focus dropped it to the page: give it back, so
    // Enter runs again, unless the user has put the focus somewhere else meanwhile.
    const lost = document.activeElement === null || document.activeElement === document.body;
    if (focused && !focused.disabled && lost) focused.focus();
  }
  return true;
}
