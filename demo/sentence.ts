// Section 3b: a sentence whose queries and keys are built by hand from word roles, so the weights
// mean something: each token looks (causally) for earlier tokens with the role it needs.
import { gpu, handleGpuError } from './gpu';
import { Heatmap } from './heatmap';
import { attentionReferenceFull, type Tensor } from './lib';
import { $, errorText, h } from './util';

// Feature axes of the 8-wide embeddings.
const F = { det: 0, noun: 1, animate: 2, verb: 3, prep: 4, pron: 5, adj: 6, conj: 7 } as const;
type Feat = keyof typeof F;

/** token, what it is (key), what it looks for (query). */
const TOKENS: [string, Feat[], Feat[]][] = [
  ['The', ['det'], ['det']],
  ['cat', ['noun', 'animate'], ['det']],
  ['sat', ['verb'], ['noun', 'animate']],
  ['on', ['prep'], ['verb']],
  ['the', ['det'], ['prep']],
  ['mat', ['noun'], ['prep']],
  ['because', ['conj'], ['verb']],
  ['it', ['pron', 'animate'], ['noun', 'animate']],
  ['was', ['verb'], ['pron']],
  ['tired', ['adj'], ['animate']],
];
const E = 8;
const STRENGTH = 3;

function build(which: 1 | 2, strength: number): Tensor {
  const L = TOKENS.length;
  const data = new Float32Array(L * E);
  TOKENS.forEach((tok, i) => {
    for (const f of tok[which]) data[i * E + F[f]] = strength;
  });
  return { data, shape: [L, E] };
}

export async function runSentence(): Promise<void> {
  const host = $('sentence-body');
  const q = build(2, STRENGTH);
  const k = build(1, 1);
  const v = k; // values do not matter for the picture; the weights are the point.
  const opts = { causal: true, scale: 1 } as const;
  const words = TOKENS.map((t) => t[0]);
  const map = new Heatmap('sentence-heatmap', 360);
  let weights: Float32Array;
  let where: string;
  try {
    if (gpu.ctx) {
      weights = (await gpu.ctx.attentionWithWeights(q, k, v, opts)).weights.data;
      where = 'GPU';
    } else {
      weights = attentionReferenceFull(q, k, v, opts).weights.data;
      where = 'CPU reference';
    }
  } catch (e) {
    if (!handleGpuError(e)) console.error(e);
    host.replaceChildren(h('p', { class: 'error', text: `The sentence example failed: ${errorText(e)}` }));
    return;
  }
  map.draw({ weights, rows: words.length, cols: words.length, rowLabels: words, colLabels: words });
  const table = h('table', { class: 'roles' }, h('tr', {}, h('th', { text: 'token' }), h('th', { text: 'key: what it is' }), h('th', { text: 'query: what it looks for' })));
  for (const [w, key, query] of TOKENS) table.append(h('tr', {}, h('td', { class: 'num', text: w }), h('td', { text: key.join(' + ') }), h('td', { text: query.join(' + ') })));
  host.replaceChildren(
    h('div', { class: 'side' }, map.root, h('div', {}, table, h('p', { class: 'muted', text: `Weights computed on the ${where}: causal, scale 1, each query feature ×${STRENGTH}.` }))),
  );
}
