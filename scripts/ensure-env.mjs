// Run by `npm test` first: makes sure the machine has what the GPU tests need — Chromium for the
// browser tests, and a Vulkan driver for Dawn (Chromium's SwiftShader where there is no GPU).
// As root with apt-get, installs what is missing; otherwise stops with the exact command to run.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const swiftshader = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'].find(existsSync);
const hasLoader = () => {
  try {
    return execSync('ldconfig -p', { encoding: 'utf8' }).includes('libvulkan.so.1');
  } catch {
    return ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(existsSync);
  }
};

const missing = [];
if (!chromium || !swiftshader) missing.push('chromium');
if (!hasLoader()) missing.push('libvulkan1');

if (missing.length === 0) process.exit(0);

const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (process.platform === 'linux' && isRoot && hasApt) {
  console.log(`[ensure-env] installing ${missing.join(', ')} (WebGPU on SwiftShader for the tests): ${command}`);
  execSync(command, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  process.exit(0);
}
console.error(
  `[ensure-env] The tests need ${missing.join(' and ')} (headless Chromium with WebGPU, and Vulkan for Dawn).\n` +
    `  Debian/Ubuntu: sudo sh -c '${command}'\n` +
    `  Elsewhere: install Chromium and set CHROMIUM_PATH to it; for Node GPU tests install a Vulkan driver.`,
);
process.exit(1);
