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
  if (t < 1) return `${t.toFixed(3)} ms`;
  if (t < 100) return `${t.toFixed(2)} ms`;
  if (t < 10000) return `${t.toFixed(0)} ms`;
  return `${(t / 1000).toFixed(1)} s`;
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

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
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
