// Owns the page's one AttentionContext: creates it, reports why WebGPU is missing, and turns a lost
// device into a visible banner (never a silent freeze).
import { AttentionInputError, ContextDestroyedError, createAttention, DeviceLostError, WebGPUUnavailableError, type AttentionContext, type TileMeasurement } from './lib';
import { $, h } from './util';

export interface Gpu {
  /** null when WebGPU is unavailable or the device was lost. */
  ctx: AttentionContext | null;
  /** e.g. "google swiftshader"; empty without WebGPU. */
  adapter: string;
  /** Why there is no context (when ctx is null). */
  reason: string;
  lost: boolean;
}

const listeners: Array<() => void> = [];
/** Called when the device is lost, so sections can disable their buttons. */
export function onGpuLost(fn: () => void): void {
  listeners.push(fn);
}

export const gpu: Gpu = { ctx: null, adapter: '', reason: '', lost: false };
let leaving = false;

export async function initGpu(): Promise<Gpu> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    gpu.reason = window.isSecureContext
      ? 'this browser has no navigator.gpu'
      : 'navigator.gpu is only offered on https:// or http://localhost pages, and this page is neither';
    showNoWebGPU(gpu.reason);
    return gpu;
  }
  try {
    const ctx = await withinTime(createWithSavedTiles(), gpuTimeoutMs());
    gpu.ctx = ctx;
    const info = ctx.device.adapterInfo;
    gpu.adapter = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') : '';
    void ctx.device.lost.then((info) => {
      if (leaving) return;
      deviceLost(`reason "${info.reason}"${info.message ? `: ${info.message.replace(/\.$/, '')}` : ''}`);
    });
    window.addEventListener('pagehide', (ev) => {
      saveTiles(ctx);
      // Kept in the back/forward cache: the page may come back, so its context must live on.
      if (ev.persisted) return;
      leaving = true;
      ctx.destroy();
    });
  } catch (e) {
    gpu.reason = e instanceof WebGPUUnavailableError ? e.message : `could not create a WebGPU device (${e instanceof Error ? e.message : String(e)})`;
    showNoWebGPU(gpu.reason);
  }
  return gpu;
}

// A browser whose requestAdapter() or requestDevice() never settles (a wedged GPU process) must not
// leave the page waiting with its buttons off: after this long the page goes on without WebGPU.
// `?gpu-timeout-ms=` sets it (the tests use a short one).
const GPU_TIMEOUT_MS = 20_000;

function gpuTimeoutMs(): number {
  const asked = Number(new URLSearchParams(location.search).get('gpu-timeout-ms'));
  // setTimeout takes at most 2^31 - 1 ms (a larger delay fires at once).
  return Number.isFinite(asked) && asked > 0 ? Math.min(asked, 2 ** 31 - 1) : GPU_TIMEOUT_MS;
}

/** The context, or a rejection after `ms`; a context that comes later is destroyed. */
function withinTime(creating: Promise<AttentionContext>, ms: number): Promise<AttentionContext> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Error(`the browser's WebGPU did not answer within ${ms / 1000} s (requestAdapter or requestDevice never settled)`));
    }, ms);
    creating.then(
      (ctx) => {
        clearTimeout(timer);
        if (late) ctx.destroy();
        else resolve(ctx);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

// The fused kernel's tile measurement (a few seconds of compiling and timing on a software adapter)
// is kept across visits: what ctx.tileMeasurements() says when the page is left is handed to the
// next visit's context, which then compiles only the chosen tile.
const SAVED_TILES = 'webgpu-attention tile measurements';

async function createWithSavedTiles(): Promise<AttentionContext> {
  let saved: TileMeasurement[] | undefined;
  try {
    saved = JSON.parse(localStorage.getItem(SAVED_TILES) ?? 'null') ?? undefined;
  } catch {
    saved = undefined; // not JSON: measure again
  }
  try {
    return await createAttention({ tileMeasurements: saved });
  } catch (e) {
    if (!(e instanceof AttentionInputError)) throw e;
    localStorage.removeItem(SAVED_TILES); // damaged (another version's entries are ignored, not refused): measure again
    return createAttention();
  }
}

function saveTiles(ctx: AttentionContext): void {
  const measured = ctx.tileMeasurements();
  if (measured.length > 0) localStorage.setItem(SAVED_TILES, JSON.stringify(measured));
}

/**
 * Every GPU call goes through this: a DeviceLostError shows the banner instead of a stack trace,
 * and a call the page's own leaving cut short (pagehide destroys the context) is not an error.
 */
export function handleGpuError(e: unknown): boolean {
  if (leaving && e instanceof ContextDestroyedError) return true;
  if (e instanceof DeviceLostError) {
    // The library's message is for developers (how to get a new device); the banner says what to do.
    deviceLost('reported by a GPU call');
    return true;
  }
  return false;
}

export function deviceLost(message: string): void {
  if (gpu.lost) return;
  gpu.lost = true;
  gpu.ctx = null;
  const banner = h(
    'div',
    { class: 'banner banner-error', role: 'alert', 'data-testid': 'device-lost-banner' },
    h('strong', { text: 'The GPU device was lost. ' }),
    `GPU results shown so far stay on the page; from now on Run uses the CPU reference only and the benchmark is off (${message}). `,
    'Browsers drop a device after a driver reset, a GPU hang or too much memory use; reloading asks for a new one. ',
  );
  const btn = h('button', { type: 'button', 'data-testid': 'reload', text: 'Reload the page' });
  btn.addEventListener('click', () => location.reload());
  banner.append(btn);
  $('banners').append(banner);
  for (const fn of listeners) fn();
}

function showNoWebGPU(reason: string): void {
  const banner = h(
    'div',
    { class: 'banner banner-warn', role: 'status', 'data-testid': 'no-webgpu-banner' },
    h('strong', { text: 'WebGPU is not available in this browser, ' }),
    'so the GPU parts of this page are switched off. The CPU reference still runs: the worked example, the playground and the heatmaps below show CPU results.',
    h('div', { class: 'reason' }, 'Reason: ', h('span', { class: 'num', text: reason })),
    h(
      'ul',
      {},
      h('li', {}, 'Supported browsers: Chrome and Edge 113+ on Windows, macOS and ChromeOS (Android: 121+); Safari 26+; Firefox 141+ on Windows. WebGPU needs a secure page: https:// or http://localhost.'),
      h('li', {}, 'Linux Chrome/Chromium: open ', h('code', { text: 'chrome://flags/#enable-unsafe-webgpu' }), ' and ', h('code', { text: 'chrome://flags/#enable-vulkan' }), ', set both to Enabled, relaunch.'),
      h('li', {}, 'Or start the browser with ', h('code', { text: '--enable-unsafe-webgpu --enable-features=Vulkan' }), ' (add ', h('code', { text: '--use-webgpu-adapter=swiftshader' }), ' on a machine without a GPU).'),
      h('li', {}, 'Check ', h('code', { text: 'chrome://gpu' }), ': "WebGPU: Hardware accelerated" means it is on; a blocklisted GPU shows there too.'),
    ),
  );
  $('banners').append(banner);
  document.body.classList.add('no-webgpu');
}
