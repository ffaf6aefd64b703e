// Run by `npm test` first: makes sure the machine has what the GPU tests need — Chromium for the
// browser tests, and a Vulkan driver for Dawn (Chromium's SwiftShader where there is no GPU).
// As root with apt-get, installs what is missing; otherwise stops with the exact command to run.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// Vite 8 and Vitest 4 need Node ^20.19 or >= 22.12; older ones fail later with less clear errors.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19) || (major === 22 && minor < 12)) {
  console.error(`[ensure-env] Node ${process.versions.node} is too old: the build and tests need Node ^20.19 or >= 22.12 (Vite 8, Vitest 4).`);
  process.exit(1);
}

const chromium = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
// The Node GPU tests' Vulkan driver where there is no GPU: Debian chromium's SwiftShader, unless the
// environment names a driver itself.
const vulkanDriverNamed = ['VK_ADD_DRIVER_FILES', 'VK_DRIVER_FILES', 'VK_ICD_FILENAMES'].some((v) => process.env[v]);
const swiftshader = vulkanDriverNamed ||
  ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'].find(existsSync);
const hasLoader = () => {
  try {
    return execSync('ldconfig -p', { encoding: 'utf8' }).includes('libvulkan.so.1');
  } catch {
    return ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(existsSync);
  }
};

const missing = [];
// A Chromium given by CHROMIUM_PATH still needs a Vulkan driver for Node: Debian's chromium package has one.
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
    `  Elsewhere: install Chromium and set CHROMIUM_PATH to it, and for the Node GPU tests a Vulkan driver ` +
    `(a GPU's, or SwiftShader's: set VK_ADD_DRIVER_FILES to its vk_swiftshader_icd.json).`,
);
process.exit(1);
