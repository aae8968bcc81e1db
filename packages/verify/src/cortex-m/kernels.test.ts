/**
 * The fast conv2d / depthwise_conv2d / dense kernels are bit-exact with the portable C kernels and
 * with the TypeScript kernels, run inside QEMU: the DSP SIMD path on Cortex-M4 and M7, the MVE
 * (Helium) path on Cortex-M55 and, on the M55 again, its DSP path (-DTB_MVE=0); M3 runs the
 * portable fallback. Each build reports the path it took (TB_KERNEL_PATH). Cases: random shapes and
 * values (odd channel counts, kernels 1-5, strides 1-3, padding borders, zero points, clamps, big
 * biases, left shifts), the five bench shapes a-e, and a conv beyond TB_CONV2D_FAST_MAX_K (the
 * portable fallback).
 * Locally a missing toolchain skips with the packages to install; under CI=true it fails.
 */
import { describe, expect, it } from 'vitest';
import { benchKernelCases, convCase, denseCase, depthwiseCase, type KernelCase, type KernelPath, randomKernelCases, runKernelFirmware, tsKernel } from './kernel-fw.js';
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
    // conv: the assembly inner loop (K even, >= 8): K % 8 = 0 / 4 / 2, odd out_c, odd pixel count; K odd and K = 6 (C loop)
    convCase('conv 1x1 5x5x8->5 (asm, K 8)', { H: 5, W: 5, Cin: 8, Cout: 5, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid' }, 11),
    convCase('conv 1x1 3x5x12->6 (asm + 4)', { H: 3, W: 5, Cin: 12, Cout: 6, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'same' }, 12),
    convCase('conv 3x3 6x7x2->3 (asm 16 + 2)', { H: 6, W: 7, Cin: 2, Cout: 3, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 13),
    convCase('conv 1x1 4x3x7->4 (K odd, C)', { H: 4, W: 3, Cin: 7, Cout: 4, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid' }, 14),
    convCase('conv 1x1 3x3x6->5 (K 6, C)', { H: 3, W: 3, Cin: 6, Cout: 5, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid' }, 15),
    edgeRequant(convCase('conv 1x1 6x6x32->23 (edge requant)', { H: 6, W: 6, Cin: 32, Cout: 23, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid' }, 16)),
    // depthwise: runs of full 3x3 windows (assembly, 4 channels + the rest in C) between borders
    depthwiseCase('dw 3x3 s1 9x10x7 (runs + borders)', { H: 9, W: 10, C: 7, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 21),
    depthwiseCase('dw 3x3 s2 11x9x12', { H: 11, W: 9, C: 12, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same' }, 22),
    depthwiseCase('dw 3x3 s(1,3) 8x13x9', { H: 8, W: 13, C: 9, KH: 3, KW: 3, SH: 1, SW: 3, padding: 'same' }, 23),
    depthwiseCase('dw 3x3 valid 5x6x5 (all inside)', { H: 5, W: 6, C: 5, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'valid' }, 24),
    depthwiseCase('dw 3x3 valid 3x3x3 (C < 4)', { H: 3, W: 3, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'valid' }, 25),
    depthwiseCase('dw 3x3 same 2x2x4 (no full window)', { H: 2, W: 2, C: 4, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 26),
    depthwiseCase('dw 5x5 7x7x8 (not 3x3: fallback)', { H: 7, W: 7, C: 8, KH: 5, KW: 5, SH: 1, SW: 1, padding: 'same' }, 27),
    depthwiseCase('dw 3x2 6x6x8 (not 3x3: fallback)', { H: 6, W: 6, C: 8, KH: 3, KW: 2, SH: 1, SW: 1, padding: 'same' }, 28),
    edgeRequant(depthwiseCase('dw 3x3 s1 7x8x40 (edge requant)', { H: 7, W: 8, C: 40, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 29)),
    // MVE: K = 16 / 32 (no predicated tail), K = 17 (one tap of tail), K <= 16 with a gathered im2col, 5 pixels (one group of 4 + 1), in_zp = -128 (offset 128)
    convCase('conv 1x1 4x4x16->5 (K 16)', { H: 4, W: 4, Cin: 16, Cout: 5, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid' }, 31),
    convCase('conv 1x1 5x1x17->3 (K 17)', { H: 5, W: 1, Cin: 17, Cout: 3, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid' }, 32),
    convCase('conv 3x3 s2 9x9x3->4 (K 27)', { H: 9, W: 9, Cin: 3, Cout: 4, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same' }, 33),
    convCase('conv 3x5 12x13x1->9 (K 15)', { H: 12, W: 13, Cin: 1, Cout: 9, KH: 3, KW: 5, SH: 1, SW: 1, padding: 'same' }, 34),
    convCase('conv 4x4 s3 30x70x1->3 (K 16, wide rows)', { H: 30, W: 70, Cin: 1, Cout: 3, KH: 4, KW: 4, SH: 3, SW: 3, padding: 'same' }, 35),
    inZp(convCase('conv 3x3 7x9x8->6 (in_zp -128)', { H: 7, W: 9, Cin: 8, Cout: 6, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 36), -128),
    inZp(depthwiseCase('dw 3x3 9x9x19 (in_zp -128)', { H: 9, W: 9, C: 19, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, 37), -128),
    inZp(denseCase('dense 47->7 (in_zp -128)', 47, 7, 38), -128),
    inZp(denseCase('dense 64->5 (in_zp 127)', 64, 5, 39), 127),
    denseCase('dense 15->4 (tail only)', 15, 4, 40),
  ];
}

/**
 * Shifts -31..3 (the shift <= -2 requantisation and the others side by side), multipliers 0, 1,
 * 2^30, INT32_MAX, biases near INT32_MAX / INT32_MIN (accumulators wrap), a full clamp range.
 */
function edgeRequant(c: KernelCase): KernelCase {
  const n = c.node as KernelCase['node'] & { shifts: Int32Array; multipliers: Int32Array; bias: Int32Array; actMin: number; actMax: number };
  const shifts = [-31, -2, -1, 0, 1, -3, -2, -20, 2, -2, -5, -1, -30, 3, -2, -2];
  const mults = [2147483647, 1073741824, 0, 1, 2147483647, 1518500250, 2147483646, 1073741825];
  const biases = [2147483647, -2147483648, 2147483000, -2147483000, 0, 12345, -12345];
  n.shifts = Int32Array.from(n.shifts, (_, i) => shifts[i % shifts.length]!);
  n.multipliers = Int32Array.from(n.multipliers, (_, i) => mults[(i * 3) % mults.length]!);
  n.bias = Int32Array.from(n.bias, (_, i) => biases[(i * 5) % biases.length]!);
  n.actMin = -128;
  n.actMax = 127;
  return c;
}

/** The same case with the input zero point set to `zp` (offset -zp). */
function inZp(c: KernelCase, zp: number): KernelCase {
  const ts = c.graph.tensors.map((t, i) => (i === 0 ? { ...t, zeroPoint: zp } : t));
  return { ...c, graph: { ...c.graph, tensors: ts } };
}

function firstDiff(a: Int8Array, b: Int8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.skipIf(SKIP)('fast Cortex-M kernels: bit-exact with the portable C and the TypeScript kernels (QEMU)', () => {
  const all = cases();
  const want = all.map(tsKernel);

  const builds = [
    { target: 'cortex-m4', path: 'dsp', defines: [] },
    { target: 'cortex-m7', path: 'dsp', defines: [] },
    { target: 'cortex-m55', path: 'mve', defines: [] },
    { target: 'cortex-m55', path: 'dsp', defines: ['TB_MVE=0'] },
    { target: 'cortex-m3', path: 'portable', defines: [] },
  ] as const satisfies readonly { target: string; path: KernelPath; defines: readonly string[] }[];

  it.each(builds)('$target ($path path): every case, both kernels, every byte', async ({ target, path, defines }) => {
    const runs = await runKernelFirmware(all, { target, defines: [...defines] });
    expect(runs).toHaveLength(all.length);
    // the build took the path it should (TB_KERNEL_PATH of the firmware)
    expect(runs.every((r) => r.path === path)).toBe(true);
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
    // MVE on the M55 runs other code than its DSP path: at most half its instructions on every bench shape
    if (target === 'cortex-m55' && path === 'mve') {
      const dsp = await runKernelFirmware(all.filter((c) => /^[a-e]: /.test(c.name)), { target, defines: ['TB_MVE=0'] });
      dsp.forEach((d, i) => {
        expect(d.path).toBe('dsp');
        expect(bench[i]!.fastInstructions).toBeLessThan(d.fastInstructions * 0.5);
      });
    }
  }, 120_000);
});
