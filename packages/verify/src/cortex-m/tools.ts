/**
 * The Cortex-M toolchain: arm-none-eabi-gcc / nm / size, qemu-system-arm, the host gcc for the
 * instruction-counting plugin (built once into a cache folder), and the firmware sources folder.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VerifyError } from '../toolchain.js';
import { run } from '../toolchain.js';

export const CORTEX_M_INSTALL = 'apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm';

export interface ArmTools {
  gcc: string;
  nm: string;
  size: string;
  qemu: string;
  hostCC: string;
}

function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Which Cortex-M tools are missing (empty when all run). */
export function missingCortexMTools(tools: ArmTools = defaultArmTools()): string[] {
  const missing: string[] = [];
  if (!runs(tools.gcc, ['--version'])) missing.push(tools.gcc);
  if (!runs(tools.nm, ['--version'])) missing.push(tools.nm);
  if (!runs(tools.qemu, ['--version'])) missing.push(tools.qemu);
  if (!runs(tools.hostCC, ['--version'])) missing.push(tools.hostCC);
  // newlib's libc (memcpy, memset) for the target
  if (missing.length === 0) {
    const r = spawnSync(tools.gcc, ['--specs=nano.specs', '-print-file-name=libc_nano.a'], { encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.trim().includes('/')) missing.push('newlib (libc_nano.a)');
  }
  return missing;
}

export function defaultArmTools(): ArmTools {
  return { gcc: 'arm-none-eabi-gcc', nm: 'arm-none-eabi-nm', size: 'arm-none-eabi-size', qemu: 'qemu-system-arm', hostCC: process.env['CC'] || 'gcc' };
}

export function requireArmTools(op: string, tools: ArmTools): void {
  const missing = missingCortexMTools(tools);
  if (missing.length > 0) {
    throw new VerifyError({ op }, 'Cortex-M toolchain', `arm-none-eabi-gcc with newlib, qemu-system-arm and a host gcc (Debian/Ubuntu: ${CORTEX_M_INSTALL})`, `missing: ${missing.join(', ')}`);
  }
}

/** packages/verify/firmware, from src/cortex-m/*.ts (tests) or dist/*.js (built). */
export function firmwareDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../firmware', '../../firmware', '../../../firmware']) {
    const d = join(here, rel);
    if (existsSync(join(d, 'fw_main.c'))) return d;
  }
  throw new VerifyError({ op: 'verifyCortexM' }, 'firmware folder', 'packages/verify/firmware (fw_main.c, startup.S, cortex-m.ld, tb_insn_count.c) next to the package', `not found from ${here}`);
}

const pluginBuilds = new Map<string, Promise<string>>();

/** Builds (once per source version, cached in the temp folder) the instruction-counting plugin. */
export function buildPlugin(op: string, hostCC: string): Promise<string> {
  const src = join(firmwareDir(), 'tb_insn_count.c');
  const text = readFileSync(src);
  const hash = createHash('sha256').update(text).update(hostCC).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `tinyblocks-qemu-plugin-${hash}`);
  const so = join(dir, 'tb_insn_count.so');
  const cached = pluginBuilds.get(so);
  if (cached) return cached;
  const p = (async () => {
    if (existsSync(so)) return so;
    mkdirSync(dir, { recursive: true });
    const part = `${so}.${process.pid}.${Date.now()}.tmp`;
    const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-o', part, src];
    const r = await run(hostCC, args, null);
    if (r.status !== 0) throw new VerifyError({ op }, 'QEMU plugin build', 'tb_insn_count.c compiling with the host gcc', `${hostCC} ${args.join(' ')}\n${r.stderr.slice(0, 2000)}`);
    renameSync(part, so);
    return so;
  })();
  pluginBuilds.set(so, p);
  p.catch(() => pluginBuilds.delete(so));
  return p;
}
