// One case of the table on a context, against the float64 reference: the output, and the
// log-sum-exp or the weights where asked. Shared by the GPU tests and scripts/gpu-check.ts.
import { attentionReferenceFull, type AttentionContext, type KernelChoice } from '../src/index.js';
import { makeInputs, type Case } from './cases.js';
import { compare, LSE_FLOOR, type Agreement } from './compare.js';

export type CaseCheck = 'output' | 'log-sum-exp' | 'weights';

/** Each result compared, named ('output', 'log-sum-exp' or 'weights'), with its agreement. */
export async function runCase(
  ctx: AttentionContext, c: Case, seed: number, kernel: KernelChoice, what: CaseCheck,
): Promise<[string, Agreement][]> {
  const { q, k, v, options } = makeInputs(c, seed, kernel);
  const ref = attentionReferenceFull(q, k, v, options);
  if (what === 'log-sum-exp') {
    const got = await ctx.attentionWithLogSumExp(q, k, v, options);
    return [['log-sum-exp', compare(got.logSumExp.data, ref.logSumExp.data, LSE_FLOOR)], ['output', compare(got.output.data, ref.output.data)]];
  }
  if (what === 'weights') {
    const got = await ctx.attentionWithWeights(q, k, v, options);
    return [['weights', compare(got.weights.data, ref.weights.data)], ['output', compare(got.output.data, ref.output.data)]];
  }
  const out = await ctx.attention(q, k, v, options);
  return [['output', compare(out.data, ref.output.data)]];
}
