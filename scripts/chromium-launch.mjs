// How we launch headless Chromium with WebGPU on machines with or without a GPU.
// Shared by playwright.config.ts (the browser tests) and the benchmarks (the browser runner, and
// the chart screenshot both runners take).
// Debian's chromium ships SwiftShader (a software Vulkan driver); Playwright's own browser
// download does not work on these closed machines, so we point Playwright at the system binary.
import { existsSync } from 'node:fs';

export const chromiumPath =
  process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** Flags: WebGPU on, SwiftShader allowed, no background network traffic (the network is closed). */
export const chromiumArgs = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  ...(process.env.WEBGPU_ADAPTER === 'hardware' ? [] : ['--use-webgpu-adapter=swiftshader']),
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Launch options without WebGPU, for testing the page's no-WebGPU banner. */
export const chromiumArgsNoWebGPU = [
  '--no-sandbox',
  '--disable-features=WebGPU',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function chromiumLaunchOptions(args = chromiumArgs) {
  return { executablePath: chromiumPath, args };
}
