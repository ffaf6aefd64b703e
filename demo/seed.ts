// Section 1: the article's 2x2 example, on the GPU as the page loads (CPU reference without WebGPU).
import { gpu, handleGpuError } from './gpu';
import { attentionReference, attentionReferenceFull, type Tensor } from './lib';
import { $, errorText, h, matrixTable } from './util';

const t = (rows: number[][]): Tensor => ({ data: new Float32Array(rows.flat()), shape: [rows.length, rows[0]!.length] });
const Q = t([[0.1, 0.2], [0.3, 0.4]]);
const K = t([[0.5, 0.6], [0.7, 0.8]]);
const V = t([[0.9, 1.0], [1.1, 1.2]]);
const KT = t([[0.5, 0.7], [0.6, 0.8]]);
const DK = 2;

/** (a · bᵀ) / sqrt(d_k) for 2x2 row-major matrices. */
function scores(a: Tensor, b: Tensor): Float32Array {
  const s = new Float32Array(4);
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++) s[i * 2 + j] = (a.data[i * 2]! * b.data[j * 2]! + a.data[i * 2 + 1]! * b.data[j * 2 + 1]!) / Math.sqrt(DK);
  return s;
}

function figure(label: string, table: HTMLElement, note?: string): HTMLElement {
  return h('figure', { class: 'mat' }, h('figcaption', {}, label, note ? h('span', { class: 'muted', text: ` ${note}` }) : null), table);
}

export async function runSeed(): Promise<void> {
  const host = $('seed-body');
  const where = $('seed-where');
  let output: Float32Array;
  let weights: Float32Array;
  let wrong: Float32Array;
  try {
    if (gpu.ctx) {
      const r = await gpu.ctx.attentionWithWeights(Q, K, V);
      output = r.output.data;
      weights = r.weights.data;
      // The library computes Q·kᵀ, so passing Kᵀ as k computes Q·K: the article's snippet.
      wrong = (await gpu.ctx.attention(Q, KT, V)).data;
      where.textContent = `computed on the GPU (${gpu.adapter || 'WebGPU'}) as the page loaded`;
    } else {
      const r = attentionReferenceFull(Q, K, V);
      output = r.output.data;
      weights = r.weights.data;
      wrong = attentionReference(Q, KT, V).data;
      where.textContent = 'computed by the CPU reference (no WebGPU in this browser)';
    }
  } catch (e) {
    if (!handleGpuError(e)) console.error(e);
    host.replaceChildren(h('p', { class: 'error', text: `The example failed: ${errorText(e)}` }));
    return;
  }

  const s = scores(Q, K);
  host.replaceChildren(
    h(
      'div',
      { class: 'mats' },
      figure('Q', matrixTable(Q.data, 2, 2, 1)),
      figure('K', matrixTable(K.data, 2, 2, 1)),
      figure('V', matrixTable(V.data, 2, 2, 1)),
      h('span', { class: 'op', text: '→' }),
      figure('scores = QKᵀ/√dₖ', matrixTable(s, 2, 2, 6)),
      figure('weights = softmax(scores)', matrixTable(weights, 2, 2, 6)),
      figure('output = weights·V', matrixTable(output, 2, 2, 6, { 'data-testid': 'seed-output' })),
    ),
    h(
      'p',
      { class: 'note' },
      'Note: the article’s code snippet multiplies by K instead of Kᵀ; that computes QK/√dₖ and gives a different output, ',
      h('span', { class: 'num', 'data-testid': 'seed-wrong-output', text: `[[${fmt(wrong, 0)}], [${fmt(wrong, 1)}]]` }),
      ' instead of ',
      h('span', { class: 'num', text: `[[${fmt(output, 0)}], [${fmt(output, 1)}]]` }),
      '.',
    ),
  );
}

function fmt(m: Float32Array, row: number): string {
  return `${m[row * 2]!.toFixed(6)}, ${m[row * 2 + 1]!.toFixed(6)}`;
}
