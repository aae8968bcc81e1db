/**
 * npm run firmware with a small count: the export is built for Cortex-M4, classifies 50 test
 * images in QEMU (every layer, then with early exits) and prints accuracy, instructions, flash,
 * SRAM and stack. Skipped locally without
 * the Arm toolchain and QEMU; under CI=true a missing toolchain fails. Without the tools on PATH the
 * app names the install command and exits non-zero.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingCortexMTools } from '@tinyblocks/verify';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./firmware.mjs', import.meta.url));
const missing = missingCortexMTools();
const CI = process.env.CI === 'true';
const skip = missing.length > 0 && !CI;
if (skip) console.warn(`SKIPPED the firmware app test: missing ${missing.join(', ')}`);
const tmp = mkdtempSync(join(tmpdir(), 'tb-app-firmware-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm run firmware', () => {
  it.skipIf(skip)('--count 50: accuracy, instructions, flash, SRAM and stack from the firmware in QEMU', () => {
    expect(missing, 'the Arm toolchain and QEMU (CI=true needs them)').toEqual([]);
    const r = spawnSync(process.execPath, [SCRIPT, '--count', '50', '--out', join(tmp, 'reference')], { encoding: 'utf8', timeout: 170_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^target: cortex-m4 on QEMU mps2-an386, arm-none-eabi-gcc -O2; 50 images of the /m);
    const acc = /^accuracy: (0\.\d{4}|1\.0000) \((\d+)\/50, the firmware's predictions vs the labels\)$/m.exec(out);
    expect(acc).not.toBeNull();
    expect(Number(acc[1])).toBeCloseTo(Number(acc[2]) / 50, 4);
    expect(Number(acc[1])).toBeGreaterThan(0.7);
    expect(out).toMatch(/^bit-exact with the TypeScript int8 reference: 50\/50 images \(logits\); with early exits 50\/50 \(logits and the head that answered\)$/m);
    const insn = /^instructions per inference: ([\d,]+) executed instructions \(not cycles; /m.exec(out);
    expect(Number(insn[1].replaceAll(',', ''))).toBeGreaterThan(100_000);
    // early exits: fewer instructions, each head's count adds up to the images
    const early = /^early exit \(thresholds [\d., ]+\): accuracy (0\.\d{4}|1\.0000) \(-?[\d.]+ pp\), ([\d,]+) instructions per inference \(([\d.]+)% fewer; max [\d,]+\), answered by exit1 (\d+), exit2 (\d+), final (\d+)$/m.exec(out);
    expect(early).not.toBeNull();
    expect(Number(early[3])).toBeGreaterThan(0);
    expect(Number(early[4]) + Number(early[5]) + Number(early[6])).toBe(50);
    expect(Number(early[2].replaceAll(',', ''))).toBeLessThan(Number(insn[1].replaceAll(',', '')));
    const flash = /^flash: code ([\d,]+) B \(model and kernels; .*\), weights ([\d,]+) B \(constant data; report\.json ([\d,]+) B\)$/m.exec(out);
    expect(flash).not.toBeNull();
    const num = (s) => Number(s.replaceAll(',', ''));
    expect(num(flash[1])).toBeGreaterThan(1000);
    expect(num(flash[2])).toBeGreaterThanOrEqual(num(flash[3]));
    const sram = /^SRAM: ([\d,]+) B static for the model \(arena ([\d,]+) B \+ stream state ([\d,]+) B.*\); whole firmware \.data \+ \.bss ([\d,]+) B$/m.exec(out);
    expect(sram).not.toBeNull();
    expect(num(sram[1])).toBeGreaterThanOrEqual(num(sram[2]) + num(sram[3]));
    expect(num(sram[4])).toBeGreaterThanOrEqual(num(sram[1]));
    const stack = /^stack high-water mark: ([\d,]+) B /m.exec(out);
    expect(num(stack[1])).toBeGreaterThan(0);
  }, 180_000);

  it('without the toolchain: names the install command and exits non-zero', () => {
    const bin = join(tmp, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = spawnSync(process.execPath, [SCRIPT, '--count', '5'], { encoding: 'utf8', env: { ...process.env, PATH: bin, CC: 'tb-no-such-cc' }, timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('missing arm-none-eabi-gcc');
    expect(r.stderr).toContain('apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm');
  });
});
