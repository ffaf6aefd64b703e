// Writes shaders/flash.wgsl's unrolled lines: one line per vec4 of the head (c < NAMED_VEC4), for
// the named blocks that keep the fused kernel's query rows and accumulators in registers. Each
// generated run sits between "// unrolled: <name>" and "// end unrolled" markers; edit the
// templates here, then run `node scripts/unroll-flash.mjs`. With `--check` it writes nothing and
// fails if flash.wgsl differs from what it would write (test/unroll-flash.test.ts runs that, so a
// hand edit of an unrolled line that the template lacks is caught).
import { readFileSync, writeFileSync } from 'node:fs';

const NAMED_VEC4 = 32; // E and Ev up to 128: keep in step with namedBlocksFit in src/tiles.ts
const file = new URL('../shaders/flash.wgsl', import.meta.url);
const range = (n) => [...Array(n).keys()];

const templates = {
  decl: (c) => `  var Q0_${c}: mat4x4<f32>; var Q1_${c}: mat4x4<f32>; var Q2_${c}: mat4x4<f32>; var Q3_${c}: mat4x4<f32>;\n` +
    `  var A0_${c}: mat4x4<f32>; var A1_${c}: mat4x4<f32>; var A2_${c}: mat4x4<f32>; var A3_${c}: mat4x4<f32>;`,
  qload: (c) => `    if (HEAD_VEC4 > ${c}u) { Q0_${c} = q_block(qr0, ${c}u); if (RG > 1u) { Q1_${c} = q_block(qr1, ${c}u); } if (RG > 2u) { Q2_${c} = q_block(qr2, ${c}u); Q3_${c} = q_block(qr3, ${c}u); } }`,
  qk: (c) => `      if (HEAD_VEC4 > ${c}u) { let K = k_share(r, mine, ${c}u); S0 += Q0_${c} * K; if (RG > 1u) { S1 += Q1_${c} * K; } if (RG > 2u) { S2 += Q2_${c} * K; S3 += Q3_${c} * K; } }`,
  pv: (c) => `      if (VALUE_VEC4 > ${c}u) { let V = v_share(r, k_live, mine, mine_live, ${c}u); A0_${c} = cols(A0_${c}, corr0) + V * P0; if (RG > 1u) { A1_${c} = cols(A1_${c}, corr1) + V * P1; } if (RG > 2u) { A2_${c} = cols(A2_${c}, corr2) + V * P2; A3_${c} = cols(A3_${c}, corr3) + V * P3; } }`,
  put: (c) => `    if (VALUE_VEC4 > ${c}u) { put(g0, ${c}u, A0_${c}, mul0); if (RG > 1u) { put(g1, ${c}u, A1_${c}, mul1); } if (RG > 2u) { put(g2, ${c}u, A2_${c}, mul2); put(g3, ${c}u, A3_${c}, mul3); } }`,
};

const before = readFileSync(file, 'utf8');
let text = before;
for (const [name, line] of Object.entries(templates)) {
  const re = new RegExp(`(// unrolled: ${name}\\n)[\\s\\S]*?(\\n\\s*// end unrolled)`);
  if (!re.test(text)) throw new Error(`flash.wgsl has no "// unrolled: ${name}" ... "// end unrolled" section`);
  text = text.replace(re, (_, open, close) => open + range(NAMED_VEC4).map(line).join('\n') + close);
}
if (process.argv.includes('--check')) {
  if (text !== before) {
    let at = 0;
    while (at < text.length && text[at] === before[at]) at++; // the first difference (or the shorter text's end)
    const line = before.slice(0, at).split('\n').length;
    console.error(`flash.wgsl differs from scripts/unroll-flash.mjs's templates from line ${line}: edit the template, then run node scripts/unroll-flash.mjs`);
    process.exit(1);
  }
  console.log('flash.wgsl: its unrolled lines are what the templates write');
} else {
  writeFileSync(file, text);
  console.log(`flash.wgsl: unrolled ${Object.keys(templates).join(', ')} for ${NAMED_VEC4} vec4`);
}
