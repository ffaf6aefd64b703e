// Getting a GPUDevice: navigator.gpu in a browser, Dawn's `webgpu` package in Node.
import { WebGPUUnavailableError } from './errors.js';
import { softwareAdapterInfo } from './tiles.js';

/** Vulkan driver files of SwiftShader (a software GPU), tried in Node when no adapter is found. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

export interface AcquiredDevice {
  device: GPUDevice;
  /** The object that owns the adapter (Dawn's instance in Node); kept alive as long as the device. */
  gpu: GPU;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

async function nodeGPU(): Promise<{ create: (flags: string[]) => GPU }> {
  const name = 'webgpu'; // a variable, so bundlers leave this optional import alone
  try {
    return (await import(/* @vite-ignore */ name)) as { create: (flags: string[]) => GPU };
  } catch (e) {
    throw new WebGPUUnavailableError(
      `WebGPU in Node needs the optional 'webgpu' package (Dawn's Node bindings): run \`npm install webgpu\`, ` +
        `or pass your own device to createAttention({ device }). (${(e as Error).message})`,
    );
  }
}

async function nodeAdapter(powerPreference?: GPUPowerPreference): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  const { create } = await nodeGPU();
  let gpu = create([]);
  let adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter && !process.env.VK_ADD_DRIVER_FILES && !process.env.VK_DRIVER_FILES && !process.env.VK_ICD_FILENAMES) {
    // No GPU driver: fall back to SwiftShader if Chromium's copy is installed. The Vulkan loader
    // reads this variable each time Dawn creates an instance, so setting it now still works.
    const { existsSync } = await import(/* @vite-ignore */ 'node:fs' as string);
    const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
    if (icd) {
      process.env.VK_ADD_DRIVER_FILES = icd;
      gpu = create([]);
      adapter = await gpu.requestAdapter({ powerPreference });
    }
  }
  if (!adapter) {
    throw new WebGPUUnavailableError(
      `The 'webgpu' package found no GPU adapter. With a GPU, install its Vulkan driver and libvulkan1. ` +
        `Without one, use SwiftShader: \`apt-get install chromium libvulkan1\` and set ` +
        `VK_ADD_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json before starting Node.`,
    );
  }
  return { gpu, adapter };
}

/**
 * Asks the platform for an adapter: navigator.gpu in a browser, the `webgpu` package in Node
 * (falling back to SwiftShader). Exported so callers (and tests) can request a device of their own.
 */
export async function acquireAdapter(powerPreference?: GPUPowerPreference): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  let gpu: GPU | undefined = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  let adapter: GPUAdapter | null = null;
  if (gpu) {
    adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) {
      throw new WebGPUUnavailableError(
        'navigator.gpu.requestAdapter() returned null: WebGPU is present but no adapter is available. ' +
          'Check chrome://gpu, update the GPU driver, or enable chrome://flags/#enable-unsafe-webgpu.',
      );
    }
  } else if (isNode) {
    ({ gpu, adapter } = await nodeAdapter(powerPreference));
  } else {
    throw new WebGPUUnavailableError(
      'This browser has no WebGPU (navigator.gpu is undefined). Use Chrome or Edge 113+, Safari 26+ or ' +
        'Firefox 141+ (Windows), on a secure (https or localhost) page; in Chrome on Linux enable ' +
        'chrome://flags/#enable-unsafe-webgpu.',
    );
  }
  return { gpu: gpu!, adapter };
}

/** Asks the platform for an adapter and a device with the adapter's full buffer and workgroup memory limits. */
export async function acquireDevice(powerPreference?: GPUPowerPreference): Promise<AcquiredDevice> {
  const { gpu, adapter } = await acquireAdapter(powerPreference);
  // Ask for the adapter's largest buffers: the defaults (128 MiB bindings) are far below many GPUs.
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
  // And a GPU's workgroup memory: the workgroup tiles fit their key tiles to it (src/tiles.ts), and
  // at 32 KiB instead of the default 16 an E=128 tile holds 32 keys instead of 16 (half the
  // barriers). Not on software adapters, which run those tiles only when forced (tests), and where
  // the bigger tile's unrolled loops cost compile time (14 s more across the test suite).
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  if (!softwareAdapterInfo(info)) requiredLimits.maxComputeWorkgroupStorageSize = adapter.limits.maxComputeWorkgroupStorageSize;
  // 'subgroups' where the adapter has it: the fused kernel shares loads across subgroup lanes on
  // adapters where that pays (src/tiles.ts, quadSharing).
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('subgroups') ? ['subgroups' as GPUFeatureName] : [];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'webgpu-attention' });
  return { device, gpu };
}
