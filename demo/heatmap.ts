// A canvas heatmap of attention weights (rows = queries, columns = keys), a colour legend and a
// hover read-out. Exactly-zero weights (masked keys) are drawn grey so masks are visible.
import { fixed, h } from './util';

export interface HeatmapInput {
  /** rows * cols weights, row-major. */
  weights: Float32Array;
  rows: number;
  cols: number;
  /** Token labels (sentence example); numeric ticks when absent. */
  rowLabels?: string[];
  colLabels?: string[];
}

// YlGnBu (ColorBrewer), light = small weight, dark = large.
const STOPS: [number, number, number][] = [
  [255, 255, 217], [237, 248, 177], [199, 233, 180], [127, 205, 187], [65, 182, 196],
  [29, 145, 192], [34, 94, 168], [37, 52, 148], [8, 29, 88],
];
const MASKED: [number, number, number] = [226, 226, 226];
/** NaN or ±Inf: a broken result must show, not stop the drawing (colour(NaN) has no stop). */
const NOT_FINITE: [number, number, number] = [215, 25, 28];

export function colour(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

export class Heatmap {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private legend: HTMLCanvasElement;
  private legendMax: HTMLElement;
  private readout: HTMLElement;
  private data: HeatmapInput | null = null;
  private box = { x: 0, y: 0, cell: 1 };
  /** The cell the arrow keys are on. */
  private cursor = { i: 0, j: 0 };
  private vmax = 1;

  constructor(testid: string, private maxSize = 420) {
    // Focusable: the arrow keys move a cell cursor whose weight the read-out shows (not only the mouse).
    this.canvas = h('canvas', { 'data-testid': testid, class: 'heatmap', role: 'img', tabindex: 0, 'aria-label': 'attention weights heatmap (no data yet)' });
    this.legend = h('canvas', { class: 'legend-bar', width: 200, height: 12 });
    this.legendMax = h('span', { class: 'num' });
    this.readout = h('div', { class: 'readout num', 'data-testid': `${testid}-readout`, 'aria-live': 'polite', text: 'hover over the map' });
    const legend = h(
      'div',
      { class: 'legend' },
      h('span', { class: 'num', text: '0' }),
      this.legend,
      this.legendMax,
      h('span', { class: 'swatch-masked', title: 'weight exactly 0' }),
      h('span', { class: 'muted', text: '= 0 (masked)' }),
      h('span', { class: 'swatch-masked', style: `background: rgb(${NOT_FINITE.join(',')})`, title: 'NaN or infinite weight' }),
      h('span', { class: 'muted', text: '= NaN / ∞' }),
    );
    this.root = h('div', { class: 'heatmap-wrap' }, this.canvas, legend, this.readout);
    this.canvas.addEventListener('mousemove', (ev) => this.hover(ev));
    this.canvas.addEventListener('focus', () => this.show(this.cursor.i, this.cursor.j));
    this.canvas.addEventListener('keydown', (ev) => this.key(ev));
    this.canvas.addEventListener('mouseleave', () => (this.readout.textContent = 'hover over the map'));
    let pending = 0;
    window.addEventListener('resize', () => {
      clearTimeout(pending);
      pending = window.setTimeout(() => this.data && this.draw(this.data), 150);
    });
  }

  draw(d: HeatmapInput): void {
    this.data = d;
    const { rows, cols, weights } = d;
    let vmax = 0;
    for (let i = 0; i < rows * cols; i++) if (weights[i]! > vmax && Number.isFinite(weights[i]!)) vmax = weights[i]!;
    this.vmax = vmax > 0 ? vmax : 1;
    this.canvas.setAttribute('aria-label', `attention weights heatmap: ${rows} query rows by ${cols} keys, largest weight ${fixed(this.vmax, 3)}; hover for each weight`);

    const c2 = this.canvas.getContext('2d')!;
    c2.font = FONT;
    const labelled = !!(d.rowLabels && d.colLabels);
    const textW = (ls: string[]) => Math.max(...ls.map((l) => c2.measureText(l).width));
    const left = labelled ? Math.ceil(textW(d.rowLabels!)) + 10 : 28 + Math.ceil(c2.measureText(String(rows - 1)).width);
    const top = labelled ? Math.ceil(textW(d.colLabels!) * 0.72) + 14 : 22;
    const right = labelled ? Math.ceil(c2.measureText(d.colLabels![cols - 1]!).width * 0.72) + 4 : 6;
    // Fit the column the map sits in (the page has two columns on wide screens).
    const avail = (this.root.parentElement?.clientWidth || this.maxSize + left + right) - left - right;
    const size = Math.max(60, Math.min(this.maxSize, avail));
    const cell = Math.max(0.25, Math.min(labelled ? 34 : 12, size / Math.max(rows, cols)));
    const w = left + cols * cell + right;
    const hgt = top + rows * cell + 6;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${hgt}px`;
    this.box = { x: left, y: top, cell };
    // Where the cells are, for tests that hover a given (query, key) cell.
    this.canvas.dataset.cells = `${left},${top},${cell}`;
    this.readout.textContent = 'hover over the map'; // a read-out of the previous map would be stale
    this.cursor = { i: Math.min(this.cursor.i, rows - 1), j: Math.min(this.cursor.j, cols - 1) };

    const c = this.canvas.getContext('2d')!;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.fillStyle = '#fff';
    c.fillRect(0, 0, w, hgt);

    // Pixels at 1 per cell, then scaled up without smoothing.
    const img = new ImageData(cols, rows);
    for (let i = 0; i < rows * cols; i++) {
      const v = weights[i]!;
      const [r, g, b] = v === 0 ? MASKED : Number.isFinite(v) ? colour(v / this.vmax) : NOT_FINITE;
      img.data[4 * i] = r;
      img.data[4 * i + 1] = g;
      img.data[4 * i + 2] = b;
      img.data[4 * i + 3] = 255;
    }
    const off = document.createElement('canvas');
    off.width = cols;
    off.height = rows;
    off.getContext('2d')!.putImageData(img, 0, 0);
    c.imageSmoothingEnabled = false;
    c.drawImage(off, left, top, cols * cell, rows * cell);
    c.strokeStyle = '#888';
    c.lineWidth = 1;
    c.strokeRect(left - 0.5, top - 0.5, cols * cell + 1, rows * cell + 1);

    c.fillStyle = '#222';
    c.font = FONT;
    if (labelled) {
      c.textAlign = 'right';
      c.textBaseline = 'middle';
      d.rowLabels!.forEach((l, i) => c.fillText(l, left - 6, top + (i + 0.5) * cell));
      c.save();
      d.colLabels!.forEach((l, j) => {
        c.save();
        c.translate(left + (j + 0.5) * cell, top - 6);
        c.rotate(-Math.PI / 4);
        c.textAlign = 'left';
        c.fillText(l, 0, 0);
        c.restore();
      });
      c.restore();
    } else {
      // Column ticks above, row ticks to the left, axis titles centred.
      c.textBaseline = 'alphabetic';
      c.textAlign = 'left';
      c.fillText('0', left, top - 7);
      c.textAlign = 'right';
      c.fillText(String(cols - 1), left + cols * cell, top - 7);
      c.textAlign = 'center';
      c.fillText('key →', left + (cols * cell) / 2, top - 7);
      c.textAlign = 'right';
      c.textBaseline = 'top';
      c.fillText('0', left - 4, top);
      c.textBaseline = 'bottom';
      c.fillText(String(rows - 1), left - 4, top + rows * cell);
      c.save();
      c.translate(12, top + (rows * cell) / 2);
      c.rotate(-Math.PI / 2);
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      c.fillText('← query', 0, 0);
      c.restore();
    }

    // Legend bar.
    const lc = this.legend.getContext('2d')!;
    const lw = this.legend.width;
    for (let x = 0; x < lw; x++) {
      const [r, g, b] = colour(x / (lw - 1));
      lc.fillStyle = `rgb(${r},${g},${b})`;
      lc.fillRect(x, 0, 1, this.legend.height);
    }
    this.legendMax.textContent = fixed(this.vmax, 3);
  }

  private hover(ev: MouseEvent): void {
    const d = this.data;
    if (!d) return;
    const r = this.canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - r.left - this.box.x) / this.box.cell);
    const i = Math.floor((ev.clientY - r.top - this.box.y) / this.box.cell);
    if (i < 0 || j < 0 || i >= d.rows || j >= d.cols) {
      this.readout.textContent = 'hover over the map';
      return;
    }
    this.show(i, j);
  }

  /** Arrow keys move the cursor one cell (Home / End: the row's first and last key). */
  private key(ev: KeyboardEvent): void {
    const d = this.data;
    if (!d) return;
    const { i, j } = this.cursor;
    const to: Record<string, [number, number]> = {
      ArrowUp: [i - 1, j], ArrowDown: [i + 1, j], ArrowLeft: [i, j - 1], ArrowRight: [i, j + 1], Home: [i, 0], End: [i, d.cols - 1],
    };
    const next = to[ev.key];
    if (!next) return;
    ev.preventDefault();
    this.cursor = { i: Math.min(d.rows - 1, Math.max(0, next[0])), j: Math.min(d.cols - 1, Math.max(0, next[1])) };
    this.show(this.cursor.i, this.cursor.j);
  }

  private show(i: number, j: number): void {
    const d = this.data;
    if (!d) return;
    const q = d.rowLabels ? `${i} "${d.rowLabels[i]}"` : String(i);
    const k = d.colLabels ? `${j} "${d.colLabels[j]}"` : String(j);
    this.readout.textContent = `query ${q}, key ${k}: weight ${fixed(d.weights[i * d.cols + j]!, 6)}`;
  }
}
