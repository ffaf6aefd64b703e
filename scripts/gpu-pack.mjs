// Packs the Node benchmark for a machine that has a GPU but no Node and no registry (the device
// machine of ../shared/notes/gpu-device.md) into .gpu/ (git-ignored, ~30 MB):
//   node.xz                  this machine's Node binary
//   dist/                    the built library (run `npm run build` first)
//   bench/node.mjs           bench/node.ts and what it imports, bundled into one file
//   bench/shaders/           the ceiling kernels it reads at run time
//   check.mjs                scripts/gpu-check.ts (the case table on every kernel and tile) in one file
//   node_modules/webgpu/     Dawn's Node bindings with only the linux-x64 binary (dawn.node.xz)
//   node_modules/onnxruntime-web/dist/  ORT's wasm (xz), for `--peers ort`
//   run.sh                   unpacks, finds the Vulkan driver, runs the bench, writes the results to $OUT
// On that machine, from the repository root: `bash .gpu/run.sh [bench options]` (e.g. --quick), or
// `bash .gpu/run.sh check [--tiles ...]` for the correctness check, or `bash .gpu/run.sh session`
// for the check and the measurements BENCHMARKS.md asks of the next GPU session, in one call;
// it unpacks into a temporary folder, so .gpu/ stays as packed. Here, `bash .gpu/run.sh --quick`
// runs the same bundle on SwiftShader as a check.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.gpu');
const dist = join(root, 'dist', 'index.js');
if (!existsSync(dist)) {
  console.error('dist/index.js is missing: run `npm run build` first');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'bench', 'shaders'), { recursive: true });

// The bench in one file. The chart's Vite and Playwright are imported only when a chart is drawn
// (run.sh passes --no-chart), so they stay out of the bundle.
await build({
  entryPoints: [join(root, 'bench', 'node.ts')],
  outfile: join(out, 'bench', 'node.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // TFJS and ORT's JavaScript are bundled (`--peers tfjs,ort`); ORT's wasm is copied below.
  external: ['webgpu', 'vite', '@playwright/test', '../scripts/chromium-launch.mjs'],
  // commander is CommonJS: give the ESM bundle a require().
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
// The correctness check runs the library's sources: Vite's `?raw` WGSL imports become strings.
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.slice(0, -'?raw'.length)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
  },
};
await build({
  entryPoints: [join(root, 'scripts', 'gpu-check.ts')],
  outfile: join(out, 'check.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [rawText],
  logLevel: 'warning',
});
for (const f of readdirSync(join(root, 'bench', 'shaders'))) copyFileSync(join(root, 'bench', 'shaders', f), join(out, 'bench', 'shaders', f));
cpSync(join(root, 'dist'), join(out, 'dist'), { recursive: true });

const webgpu = join(root, 'node_modules', 'webgpu');
const webgpuOut = join(out, 'node_modules', 'webgpu');
mkdirSync(join(webgpuOut, 'dist', 'linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js', 'LICENSE.md']) copyFileSync(join(webgpu, f), join(webgpuOut, f));
const xz = (from, to) => writeFileSync(to, execFileSync('xz', ['-T2', '-6', '-c', from], { maxBuffer: 1 << 30 }));
xz(join(webgpu, 'dist', 'linux-x64', 'dawn.node'), join(webgpuOut, 'dist', 'linux-x64', 'dawn.node.xz'));
xz(process.execPath, join(out, 'node.xz'));
// ORT's wasm where bench/node.ts looks for it (node_modules/onnxruntime-web/dist/ beside bench/).
const ortDist = join(root, 'node_modules', 'onnxruntime-web', 'dist');
const ortOut = join(out, 'node_modules', 'onnxruntime-web', 'dist');
mkdirSync(ortOut, { recursive: true });
copyFileSync(join(ortDist, 'ort-wasm-simd-threaded.asyncify.mjs'), join(ortOut, 'ort-wasm-simd-threaded.asyncify.mjs'));
xz(join(ortDist, 'ort-wasm-simd-threaded.asyncify.wasm'), join(ortOut, 'ort-wasm-simd-threaded.asyncify.wasm.xz'));

writeFileSync(
  join(out, 'run.sh'),
  `#!/bin/sh
# Written by scripts/gpu-pack.mjs. Runs the packed Node benchmark: bash .gpu/run.sh [bench options],
# or the correctness check (scripts/gpu-check.ts): bash .gpu/run.sh check [--tiles ...] [--seed N],
# or both as the next GPU session's prepared measurements: bash .gpu/run.sh session.
# Unpacks into a temporary folder (the unpacked binaries are 120 MB; .gpu/ itself stays small) and
# writes the results and the logs to $OUT when it is set.
set -e
pack="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "\${TMPDIR:-/tmp}/webgpu-attention-bench.XXXXXX")"
cp -r "$pack/bench" "$pack/dist" "$pack/node_modules" "$pack/check.mjs" "$work/"
# xz -d, or Python's lzma where xz is missing; through a temporary file so a failure leaves nothing.
unxz() { { xz -dc "$1" 2>/dev/null || python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; } > "$2.part" && mv "$2.part" "$2"; }
unxz "$pack/node.xz" "$work/node" && chmod +x "$work/node"
dawn="$work/node_modules/webgpu/dist/linux-x64/dawn.node"
unxz "$dawn.xz" "$dawn"
ortWasm="$work/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm"
unxz "$ortWasm.xz" "$ortWasm"
# The Vulkan loader and NVIDIA's driver file where the machine lacks them (.gl/, fetched as BENCHMARKS.md's "How to reproduce" says):
# .gl/ beside .gpu/ holds the loader's Debian packages: libvulkan1, and libglvnd0 and the rest of
# the README's list, without which NVIDIA's Vulkan driver (libGLX_nvidia.so.0) does not load.
if [ -d "$pack/../.gl" ] && ! { ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 && ldconfig -p 2>/dev/null | grep -q libGLdispatch.so.0; }; then
  for f in "$pack"/../.gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
nvidia=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "$VK_DRIVER_FILES" ] && [ -f "$nvidia" ]; then export VK_DRIVER_FILES="$nvidia"; fi
cd "$work"
# Results are written straight into $OUT when it is set (the bench rewrites its file after every
# shape), so a call killed at the device tool's limit still returns the shapes it finished.
if [ -n "$OUT" ]; then mkdir -p "$OUT" && ln -s "$OUT" bench/results; else mkdir -p bench/results; fi
# TIME_LIMIT=<seconds>: stop the run there (the device tool kills the whole call at its own limit).
limit=""
if [ -n "$TIME_LIMIT" ]; then limit="timeout -k 5 $TIME_LIMIT"; fi
status=0
lib="$work/dist/index.js"
if [ "$1" = session ]; then
  # The next GPU session's measurements in one call (about 9 minutes; give the call 590 s): each
  # step has its own limit and log, and a step that fails or runs out of time does not stop the next.
  step() { name=$1; secs=$2; shift 2; echo "== $name ($secs s): $*"; timeout -k 5 "$secs" "$@" > "\${OUT:-$work}/$name.log" 2>&1 || { echo "   $name: exit $?"; status=1; }; tail -n 25 "\${OUT:-$work}/$name.log"; }
  ./node --version
  step check 100 ./node check.mjs --tiles auto,workgroup-split,split-invocation,split-workgroup
  step decode-invocation 45 ./node bench/node.mjs --lib "$lib" --no-chart --gpu --kernels split-keys --shapes L1-S1024,L1-S8192,L1-S65536 --reps 9 --timeout 30 --no-cpu-reference --split-tile invocation --out gpu-decode-invocation
  step decode-workgroup 45 ./node bench/node.mjs --lib "$lib" --no-chart --gpu --kernels split-keys --shapes L1-S1024,L1-S8192,L1-S65536 --reps 9 --timeout 30 --no-cpu-reference --split-tile workgroup --out gpu-decode-workgroup
  step fused-workgroup 60 ./node bench/node.mjs --lib "$lib" --no-chart --gpu --kernels fused,staged --shapes L1024-S1024-E64,L2048-S2048-E64,L512-S512-E128,!causal --reps 9 --timeout 30 --no-cpu-reference --fused-tile workgroup --out gpu-fused-workgroup
  step fused-workgroup-split 60 ./node bench/node.mjs --lib "$lib" --no-chart --gpu --kernels fused --shapes L1024-S1024-E64,L2048-S2048-E64,!causal --reps 9 --timeout 30 --no-cpu-reference --fused-tile workgroup-split --out gpu-fused-workgroup-split
  step bench 250 ./node bench/node.mjs --lib "$lib" --no-chart --gpu --kernels auto,fused,split-keys --reps 9 --timeout 60 --no-cpu-reference --peers tfjs,ort --out gpu
elif [ "$1" = check ]; then
  shift
  log="\${OUT:-$work}/check.log"
  { ./node --version && $limit ./node check.mjs "$@"; } > "$log" 2>&1 || status=$?
else
  log="\${OUT:-$work}/bench.log"
  { ./node --version && $limit ./node bench/node.mjs --lib "$work/dist/index.js" --no-chart "$@"; } > "$log" 2>&1 || status=$?
fi
if [ "$1" != session ]; then cat "$log"; fi
rm -rf "$work"
exit $status
`,
  { mode: 0o755 },
);
const mb = (Number(execFileSync('du', ['-sb', out], { encoding: 'utf8' }).split('\t')[0]) / 2 ** 20).toFixed(1);
console.log(`packed ${mb} MiB into .gpu/; on the GPU machine: bash .gpu/run.sh (carry .gpu, and .gl for the Vulkan loader)`);
