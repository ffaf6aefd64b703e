// Peers timed in the same page, on the same adapter: TensorFlow.js (WebGPU backend) and
// ONNX Runtime Web (WebGPU EP); bench/node.ts runs both in Node too (`--peers tfjs,ort`; navigator.gpu shimmed). Each runner prepares once per shape, then offers a GPU-resident
// run (inputs already on its device) and an end-to-end run (Float32Arrays in and out).

import type { BenchShape, HostTensor, Peer } from '../suite';
import { fromBLD, now, relativeError, repeatKvHeads, toBLD } from '../suite';

// ---------------------------------------------------------------------------------------------
// TensorFlow.js

type TF = typeof import('@tensorflow/tfjs');

export function tfjsPeer(): Peer {
  let tf: TF;
  let device: GPUDevice;
  let timed = false;
  return {
    name: 'tfjs',
    async init() {
      tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
      await tf.ready();
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      device = (tf.backend() as any).device as GPUDevice;
      timed = device.features.has('timestamp-query');
      return `tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`;
    },
    async prepare(s, data) {
      const notes = ['resident: wall clock of the op chain until the backend\'s queue is done (tensors already on the GPU)' +
        (timed ? "; GPU time: tf.time()'s kernelMs (the sum of its kernels' timestamp-query times) from a second, profiled run" : '')];
      const kk: HostTensor = repeatKvHeads(data.k, s.H);
      const vv: HostTensor = repeatKvHeads(data.v, s.H);
      if (s.Hkv !== s.H) notes.push('GQA: K/V heads repeated on the CPU before upload (TFJS has no GQA)');
      const BH = s.B * s.H;
      const scale = 1 / Math.sqrt(s.E);
      // Causal: an additive [Lq, Lk] bias (-1e9 above the top-left diagonal), built once outside timing.
      let bias: import('@tensorflow/tfjs').Tensor | undefined;
      if (s.causal) {
        const m = new Float32Array(s.Lq * s.Lk);
        for (let i = 0; i < s.Lq; i++) for (let j = i + 1; j < s.Lk; j++) m[i * s.Lk + j] = -1e9;
        bias = tf.tensor2d(m, [s.Lq, s.Lk]);
        notes.push('causal via an additive -1e9 bias tensor');
      }
      const attend = (q: import('@tensorflow/tfjs').Tensor3D, k: import('@tensorflow/tfjs').Tensor3D, v: import('@tensorflow/tfjs').Tensor3D) =>
        tf.tidy(() => {
          let scores = tf.mul(tf.matMul(q, k, false, true), scale);
          if (bias) scores = tf.add(scores, bias);
          return tf.matMul(tf.softmax(scores), v);
        });
      const q = tf.tensor3d(data.q.data, [BH, s.Lq, s.E]);
      const k = tf.tensor3d(kk.data, [BH, s.Lk, s.E]);
      const v = tf.tensor3d(vv.data, [BH, s.Lk, s.E]);
      const e2e = async (): Promise<{ out: Float32Array; wallMs: number }> => {
        const t0 = now();
        const tq = tf.tensor3d(data.q.data, [BH, s.Lq, s.E]);
        const tk = tf.tensor3d(kk.data, [BH, s.Lk, s.E]);
        const tv = tf.tensor3d(vv.data, [BH, s.Lk, s.E]);
        const o = attend(tq, tk, tv);
        const out = (await o.data()) as Float32Array;
        const wallMs = now() - t0;
        tf.dispose([tq, tk, tv, o]);
        return { out, wallMs };
      };
      return {
        notes,
        output: async () => (await e2e()).out,
        async resident() {
          // Wall clock from TFJS as it normally runs (dispatches batched into passes, one submit).
          const t0 = now();
          const o = attend(q, k, v);
          // TFJS records into an open compute pass and submits lazily: end the pass, submit, and
          // wait for the GPU, without reading back (the internals its own read path uses).
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const backend = tf.backend() as any;
          backend.ensureCommandEncoderReady();
          backend.endComputePassEncoder();
          backend.submitQueue();
          await device.queue.onSubmittedWorkDone();
          const wallMs = now() - t0;
          o.dispose();
          if (!timed) return { wallMs };
          // GPU time from a second, profiled run: under tf.time() TFJS gives every kernel its own
          // pass with timestamp writes, submits it and reads the timestamps back; kernelMs is the
          // sum of the kernels' GPU times. That run's wall clock is not TFJS's normal one.
          let p: import('@tensorflow/tfjs').Tensor | undefined;
          const { kernelMs } = await tf.time(() => {
            p = attend(q, k, v);
          });
          p!.dispose();
          return { wallMs, gpuMs: typeof kernelMs === 'number' && kernelMs > 0 ? kernelMs : undefined };
        },
        e2e: async () => ({ wallMs: (await e2e()).wallMs }),
        dispose() {
          tf.dispose([q, k, v]);
          bias?.dispose();
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ONNX Runtime Web, WebGPU EP, one com.microsoft MultiHeadAttention node built in code

type ORT = typeof import('onnxruntime-web/webgpu');

export async function buildMhaModel(s: BenchShape): Promise<Uint8Array> {
  // A CommonJS package: Vite gives its exports by name, Node's import() under `default`.
  const mod = (await import('onnx-proto')) as typeof import('onnx-proto') & { default?: typeof import('onnx-proto') };
  const onnx = mod.onnx ?? mod.default!.onnx;
  const D = s.H * s.E;
  const F = onnx.TensorProto.DataType.FLOAT;
  const valueInfo = (name: string, dims: number[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: F,
          shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }),
        }),
      }),
    });
  const attrs = [onnx.AttributeProto.create({ name: 'num_heads', type: onnx.AttributeProto.AttributeType.INT, i: s.H })];
  if (s.causal) attrs.push(onnx.AttributeProto.create({ name: 'unidirectional', type: onnx.AttributeProto.AttributeType.INT, i: 1 }));
  const node = onnx.NodeProto.create({
    opType: 'MultiHeadAttention',
    domain: 'com.microsoft',
    input: ['query', 'key', 'value'],
    output: ['output'],
    attribute: attrs,
  });
  const graph = onnx.GraphProto.create({
    name: 'mha',
    node: [node],
    input: [valueInfo('query', [s.B, s.Lq, D]), valueInfo('key', [s.B, s.Lk, D]), valueInfo('value', [s.B, s.Lk, D])],
    output: [valueInfo('output', [s.B, s.Lq, D])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'webgpu-attention-bench',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 }), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * ORT's WebGPU flash-attention kernel (used when the device has `subgroups`) shuffles k and v
 * across 8 or 16 lanes; on an adapter whose subgroups are narrower (SwiftShader: 4) its answers
 * are wrong for more than ~17 query rows. Returns the adapter's minimum subgroup size when it is
 * under 8, else 0.
 */
async function narrowSubgroups(): Promise<number> {
  const adapter = await navigator.gpu.requestAdapter();
  const info = adapter?.info as (GPUAdapterInfo & { subgroupMinSize?: number }) | undefined;
  const min = adapter?.features.has('subgroups') ? (info?.subgroupMinSize ?? 0) : 0;
  return min > 0 && min < 8 ? min : 0;
}

/**
 * From now on, adapters requested through navigator.gpu report no subgroup features and create
 * devices without them, so ORT (whose wasm requests its own adapter and device, again after its
 * sessions are all released) takes its non-subgroup attention path. Installed in ORT's init,
 * after the suite's device and TFJS's device exist, so only ORT's requests go through it.
 */
function hideSubgroupsFromLaterDevices(): void {
  const gpu = navigator.gpu;
  const original = gpu.requestAdapter;
  const isSubgroup = (f: string) => f.startsWith('subgroup');
  gpu.requestAdapter = async function (options?: GPURequestAdapterOptions) {
    const adapter = await original.call(gpu, options);
    if (!adapter) return adapter;
    const features = new Set([...adapter.features].filter((f) => !isSubgroup(f)));
    return new Proxy(adapter, {
      get(target, prop) {
        if (prop === 'features') return features;
        if (prop === 'requestDevice') {
          return (desc: GPUDeviceDescriptor = {}) =>
            target.requestDevice({ ...desc, requiredFeatures: [...(desc.requiredFeatures ?? [])].filter((f) => !isSubgroup(f)) });
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}

export function ortPeer(wasmPaths: string): Peer {
  let ort: ORT;
  let device: GPUDevice;
  return {
    name: 'ort',
    async init() {
      ort = await import('onnxruntime-web/webgpu');
      ort.env.wasm.wasmPaths = wasmPaths;
      // No cross-origin isolation on the bench page, so no wasm threads; the work is on the GPU anyway.
      ort.env.wasm.numThreads = 1;
      ort.env.logLevel = 'error';
      const narrow = await narrowSubgroups();
      if (narrow) hideSubgroupsFromLaterDevices();
      return (
        `onnxruntime-web ${ort.env.versions?.web ?? '?'}, webgpu EP` +
        (narrow ? `; subgroups hidden from ORT (this adapter's are ${narrow} lanes wide; ORT's subgroup attention kernel assumes at least 8 and gives wrong answers)` : '')
      );
    },
    async prepare(s, data) {
      const notes: string[] = [];
      const model = await buildMhaModel(s);
      const D = s.H * s.E;
      // ORT's MHA wants [B, L, H*E] with equal head counts: the layout change (and, for GQA, the
      // head repetition) happens on the CPU before timing, as a user of ORT would store the data that way.
      const qd = toBLD(data.q);
      const kd = toBLD(repeatKvHeads(data.k, s.H));
      const vd = toBLD(repeatKvHeads(data.v, s.H));
      if (s.Hkv !== s.H) notes.push('GQA: K/V heads repeated on the CPU (MultiHeadAttention has no GQA)');
      if (s.causal) notes.push('causal via the unidirectional=1 attribute');
      const opts = { executionProviders: ['webgpu'], graphOptimizationLevel: 'disabled' as const };
      const cpuSession = await ort.InferenceSession.create(model, opts);
      const gpuSession = await ort.InferenceSession.create(model, { ...opts, preferredOutputLocation: 'gpu-buffer' });
      device = (await ort.env.webgpu.device) as GPUDevice;
      const dims = { q: [s.B, s.Lq, D], kv: [s.B, s.Lk, D] };
      const gpuInput = (arr: Float32Array<ArrayBuffer>, d: number[]) => {
        const buf = device.createBuffer({ size: arr.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(buf, 0, arr);
        return { buf, tensor: ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: d }) };
      };
      const gq = gpuInput(qd, dims.q);
      const gk = gpuInput(kd, dims.kv);
      const gv = gpuInput(vd, dims.kv);
      notes.push('resident: GPU-buffer inputs and preferredOutputLocation gpu-buffer, wall clock until the device queue is done');
      const e2e = async () => {
        const t0 = now();
        const feeds = {
          query: new ort.Tensor('float32', qd, dims.q),
          key: new ort.Tensor('float32', kd, dims.kv),
          value: new ort.Tensor('float32', vd, dims.kv),
        };
        const res = await cpuSession.run(feeds);
        const out = res.output.data as Float32Array;
        const wallMs = now() - t0;
        res.output.dispose();
        return { out, wallMs };
      };
      // The resident session (GPU buffers in and out) is the one timed as resident: its output is
      // read back and checked too, against the CPU-output session's (which the caller checks
      // against the reference), so each of ORT's timed sessions has given the right answer.
      const residentOutput = async (): Promise<Float32Array> => {
        const res = await gpuSession.run({ query: gq.tensor, key: gk.tensor, value: gv.tensor });
        const out = (await res.output.getData()) as Float32Array;
        res.output.dispose();
        return out;
      };
      return {
        notes,
        async output() {
          const cpuOut = (await e2e()).out;
          const gpuOut = await residentOutput();
          const rel = relativeError(gpuOut, cpuOut);
          if (!(rel <= 1e-5)) {
            throw new Error(`ORT's GPU-buffer session disagrees with its CPU-output session: relative difference ${rel.toExponential(2)}`);
          }
          return fromBLD(cpuOut, s.B, s.H, s.Lq, s.E);
        },
        async resident() {
          const t0 = now();
          const res = await gpuSession.run({ query: gq.tensor, key: gk.tensor, value: gv.tensor });
          await device.queue.onSubmittedWorkDone();
          const wallMs = now() - t0;
          res.output.dispose();
          return { wallMs };
        },
        e2e: async () => ({ wallMs: (await e2e()).wallMs }),
        async dispose() {
          await cpuSession.release();
          await gpuSession.release();
          for (const g of [gq, gk, gv]) {
            g.tensor.dispose();
            g.buf.destroy();
          }
        },
      };
    },
  };
}
