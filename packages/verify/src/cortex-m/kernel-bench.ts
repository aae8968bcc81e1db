/**
 * benchKernelsCortexM: executed instructions per MAC (QEMU TCG plugin counts, not cycles) of the
 * portable C kernels and the fast kernels (the DSP SIMD path on Cortex-M4/M7, the MVE / Helium
 * path on Cortex-M55) for the five reference shapes a-e, next to CMSIS-NN's figures under the same
 * counting on Cortex-M4 (docs/mcu.md). On Cortex-M55 a second build with -DTB_MVE=0 measures the
 * DSP path on the same core (the `dsp` column). Every output is checked against the TypeScript kernel.
 *
 * Script use (after `npx tsup` in packages/verify, once index.ts re-exports this module):
 *   import { benchKernelsCortexM, formatKernelBench } from '@tinyblocks/verify';
 *   console.log(formatKernelBench(await benchKernelsCortexM()));
 * or directly: node <bundle of this file> (prints the table).
 */
import { pathToFileURL } from 'node:url';
import { benchKernelCases, type KernelFirmwareOptions, type KernelPath, runKernelFirmware, tsKernel } from './kernel-fw.js';
import type { CortexMTarget } from './targets.js';

/** CMSIS-NN executed instructions per MAC on Cortex-M4 under the same QEMU counting (docs/mcu.md). */
export const CMSIS_NN_M4_PER_MAC = [10.4, 2.14, 2.65, 7.82, 1.92] as const;

export interface KernelBenchRow {
  shape: string;
  op: string;
  macs: number;
  portableInstructions: number;
  fastInstructions: number;
  portablePerMac: number;
  fastPerMac: number;
  /** The path of the fast kernels ('mve' on Cortex-M55, 'dsp' on M4/M7). */
  path: KernelPath;
  /** Cortex-M55: the DSP path's instructions per MAC (a -DTB_MVE=0 build), else null. */
  dspPerMac: number | null;
  /** CMSIS-NN's figure (Cortex-M4 only, else null). */
  cmsisPerMac: number | null;
  /** Every kernel measured equals the TypeScript kernel byte for byte. */
  exact: boolean;
}

export async function benchKernelsCortexM(options: Partial<KernelFirmwareOptions> = {}): Promise<KernelBenchRow[]> {
  const target: CortexMTarget = options.target ?? 'cortex-m4';
  const cases = benchKernelCases();
  const runs = await runKernelFirmware(cases, { ...options, target });
  const dsp = target === 'cortex-m55' ? await runKernelFirmware(cases, { ...options, target, defines: [...(options.defines ?? []), 'TB_MVE=0'] }) : null;
  return runs.map((r, i) => {
    const want = tsKernel(cases[i]!);
    const same = (a: Int8Array) => a.length === want.length && a.every((v, k) => v === want[k]);
    const d = dsp?.[i];
    return {
      shape: r.name,
      op: r.op,
      macs: r.macs,
      portableInstructions: r.portableInstructions,
      fastInstructions: r.fastInstructions,
      portablePerMac: r.portableInstructions / r.macs,
      fastPerMac: r.fastInstructions / r.macs,
      path: r.path,
      dspPerMac: d && d.path === 'dsp' ? d.fastInstructions / d.macs : null,
      cmsisPerMac: target === 'cortex-m4' ? CMSIS_NN_M4_PER_MAC[i]! : null,
      exact: same(r.portable) && same(r.fast) && (!d || same(d.fast)),
    };
  });
}

/** A plain-text table (executed instructions per MAC, not cycles). */
export function formatKernelBench(rows: readonly KernelBenchRow[], target = 'cortex-m4'): string {
  // Cortex-M55: portable / DSP (-DTB_MVE=0) / MVE; elsewhere portable / fast next to CMSIS-NN
  const paths = rows.some((r) => r.dspPerMac !== null);
  const head = paths ? ['shape', 'MACs', 'portable', 'dsp', 'mve', 'mve/dsp', 'bit-exact'] : ['shape', 'MACs', 'portable', 'fast', 'CMSIS-NN', 'fast/CMSIS', 'bit-exact'];
  const body = rows.map((r) =>
    paths
      ? [r.shape, r.macs.toLocaleString('en-US'), r.portablePerMac.toFixed(2), r.dspPerMac?.toFixed(2) ?? '-', r.fastPerMac.toFixed(2), r.dspPerMac ? `${(r.fastPerMac / r.dspPerMac).toFixed(2)}x` : '-', r.exact ? 'yes' : 'NO']
      : [r.shape, r.macs.toLocaleString('en-US'), r.portablePerMac.toFixed(2), r.fastPerMac.toFixed(2), r.cmsisPerMac?.toFixed(2) ?? '-', r.cmsisPerMac ? `${(r.fastPerMac / r.cmsisPerMac).toFixed(2)}x` : '-', r.exact ? 'yes' : 'NO'],
  );
  const w = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const line = (cells: string[]) => cells.map((s, c) => (c === 0 ? s.padEnd(w[c]!) : s.padStart(w[c]!))).join('  ');
  const path = paths ? `; dsp: a -DTB_MVE=0 build, mve: the default one` : '';
  return [`${target}: executed instructions per MAC (QEMU instruction counts, not cycles${path})`, line(head), ...body.map(line)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = (process.argv[2] as CortexMTarget | undefined) ?? 'cortex-m4';
  benchKernelsCortexM({ target }).then(
    (rows) => console.log(formatKernelBench(rows, target)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
