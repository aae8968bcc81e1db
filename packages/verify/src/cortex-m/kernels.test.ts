/**
 * The fast (DSP SIMD) conv2d / depthwise_conv2d / dense kernels are bit-exact with the portable C
 * kernels and with the TypeScript kernels, run inside QEMU on Cortex-M4 and M7 (and M55, which has
 * the DSP extension too; M3 runs the portable fallback): random shapes and values (odd channel
 * counts, kernels 1-5, strides 1-3, padding borders, zero points, clamps, big biases, left shifts),
 * the five bench shapes a-e, and a conv beyond TB_CONV2D_FAST_MAX_K (the portable fallback).
 * Locally a missing toolchain skips with the packages to install; under CI=true it fails.
 */
import { describe, expect, it } from 'vitest';
import { benchKernelCases, convCase, type KernelCase, randomKernelCases, runKernelFirmware, tsKernel } from './kernel-fw.js';
import { CORTEX_M_INSTALL, missingCortexMTools } from './tools.js';

const CI = process.env['CI'] === 'true';
const MISSING = missingCortexMTools();
const SKIP = MISSING.length > 0 && !CI;
if (SKIP) console.warn(`[verify] Cortex-M toolchain missing (${MISSING.join(', ')}): skipping the Cortex-M kernel tests (${CORTEX_M_INSTALL})`);

function cases(): KernelCase[] {
  return [
    ...randomKernelCases(150, 20240611),
    ...benchKernelCases(7),
    // 3x3x64 = 576 taps > TB_CONV2D_FAST_MAX_K (512): the portable path behind tb_conv2d_s8
    convCase('conv 3x3 64->5 (fallback)', { H: 5, W: 6, Cin: 64, Cout: 5, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 99),
    // 1x1 with in_c % 4 != 0, odd pixel count, stride 2
    convCase('conv 1x1 s2 7x7x6->7', { H: 7, W: 7, Cin: 6, Cout: 7, KH: 1, KW: 1, SH: 2, SW: 2, padding: 'valid' }, 5),
  ];
}

function firstDiff(a: Int8Array, b: Int8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.skipIf(SKIP)('fast Cortex-M kernels: bit-exact with the portable C and the TypeScript kernels (QEMU)', () => {
  const all = cases();
  const want = all.map(tsKernel);

  it.each(['cortex-m4', 'cortex-m7', 'cortex-m55', 'cortex-m3'] as const)('%s: every case, both kernels, every byte', async (target) => {
    const runs = await runKernelFirmware(all, { target });
    expect(runs).toHaveLength(all.length);
    const bad: string[] = [];
    runs.forEach((r, i) => {
      for (const [which, got] of [['portable', r.portable], ['fast', r.fast]] as const) {
        const d = firstDiff(got, want[i]!);
        if (d >= 0) bad.push(`${r.name} (${which}): byte ${d}: C ${got[d]} vs TS ${want[i]![d]}`);
      }
    });
    expect(bad.slice(0, 10)).toEqual([]);
    // the SIMD path is taken where there is one (fewer instructions on the bench shapes)
    const bench = runs.filter((r) => /^[a-e]: /.test(r.name));
    expect(bench).toHaveLength(5);
    for (const r of bench) {
      if (target === 'cortex-m3') expect(r.fastInstructions).toBeLessThanOrEqual(r.portableInstructions + 16);
      else expect(r.fastInstructions).toBeLessThan(r.portableInstructions * 0.7);
    }
  }, 60_000);
});
