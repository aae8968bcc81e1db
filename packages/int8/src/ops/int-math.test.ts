/**
 * int-math: the TS helpers against BigInt / float64 references, runtime/tb_int_math.h against the
 * TS helpers byte for byte (both host builds), and a Cortex-M build without float or 64-bit
 * division helpers.
 */
import { HOST_BUILDS } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isqrtU64, mantToReal, mulExp, mulMant, normSqrt, rsqrtQ31, splitReal } from './int-math.js';
import { cProgram, describeC, describeCortexM, expectLines } from './test-c.js';

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: 0n, max: 1n << 20n }),
  fc.integer({ min: 0, max: 63 }).chain((b) => fc.bigInt({ min: 0n, max: 3n }).map((d) => ((1n << BigInt(b)) + d - 1n) & ((1n << 64n) - 1n))),
);
const w62 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 62n) - 1n }), fc.bigInt({ min: 0n, max: 1000n }), fc.integer({ min: 0, max: 61 }).map((b) => 1n << BigInt(b)));
const mant = fc.oneof(fc.constant(0), fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31 - 1), max: -(2 ** 30) }));
const int32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -300, max: 300 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 2 ** 30, -(2 ** 30)));

describe('int-math: TS helpers vs exact references', () => {
  it('isqrtU64 is floor(sqrt(x)) on [0, 2^64)', () => {
    fc.assert(
      fc.property(u64, (x) => {
        const s = BigInt(isqrtU64(x));
        return s * s <= x && (s + 1n) * (s + 1n) > x;
      }),
      { seed: 1, numRuns: 3000 },
    );
  });

  it('normSqrt normalises into [2^30, 2^31) with the least j', () => {
    fc.assert(
      fc.property(w62, (w) => {
        const { s, j } = normSqrt(w);
        const n = (w < 1n ? 1n : w) << BigInt(2 * j);
        expect(n >= 1n << 60n && n < 1n << 62n).toBe(true);
        expect(BigInt(s)).toBe(BigInt(isqrtU64(n)));
        expect(s >= 2 ** 30 && s < 2 ** 31).toBe(true);
      }),
      { seed: 2, numRuns: 2000 },
    );
  });

  it('rsqrtQ31 is 1/sqrt(w) within a relative 2^-29', () => {
    fc.assert(
      fc.property(w62.filter((w) => w >= 1n), (w) => {
        const r = rsqrtQ31(w);
        expect(r.m >= 2 ** 30 && r.m < 2 ** 31).toBe(true);
        const rel = Math.abs(mantToReal(r) * Math.sqrt(Number(w)) - 1);
        expect(rel).toBeLessThan(2 ** -29);
      }),
      { seed: 3, numRuns: 2000 },
    );
  });

  it('mulMant is the product within a relative 2^-29, normalised', () => {
    fc.assert(
      fc.property(mant, fc.integer({ min: -60, max: 60 }), mant, fc.integer({ min: -60, max: 60 }), (a, ae, b, be) => {
        const p = mulMant(a, ae, b, be);
        if (a === 0 || b === 0) {
          expect(p).toEqual({ m: 0, e: 0 });
          return;
        }
        expect(Math.abs(p.m) >= 2 ** 30 && Math.abs(p.m) < 2 ** 31).toBe(true);
        const want = mantToReal({ m: a, e: ae }) * mantToReal({ m: b, e: be });
        expect(Math.abs(mantToReal(p) / want - 1)).toBeLessThan(2 ** -29);
      }),
      { seed: 4, numRuns: 2000 },
    );
  });

  it('mulExp is within 1 of the exact product (double rounding) and saturates at lim', () => {
    fc.assert(
      fc.property(int32, mant, fc.integer({ min: -40, max: 40 }), fc.constantFrom(2 ** 28, 2 ** 29, 2 ** 30 - 1, 2 ** 30), (x, m, e, lim) => {
        const got = mulExp(x, m, e, lim);
        // exact x*m*2^(e-31), clamped
        const num = BigInt(x) * BigInt(m);
        const sh = 31 - e;
        const exact = sh >= 0 ? Number(num) / 2 ** sh : Number(num << BigInt(-sh));
        const want = Math.max(-lim, Math.min(lim, exact));
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1);
      }),
      { seed: 5, numRuns: 5000 },
    );
  });

  it('splitReal round-trips within a relative 2^-31 over a wide exponent range', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.double({ min: 1e-30, max: 1e30, noNaN: true }), fc.double({ min: -1e30, max: -1e-30, noNaN: true })), (x) => {
        const p = splitReal(x);
        if (x === 0) {
          expect(p).toEqual({ m: 0, e: 0 });
          return;
        }
        expect(Math.abs(p.m) >= 2 ** 30 && Math.abs(p.m) < 2 ** 31).toBe(true);
        expect(Math.abs(mantToReal(p) / x - 1)).toBeLessThanOrEqual(2 ** -31);
      }),
      { seed: 6, numRuns: 2000 },
    );
  });
});

const DRIVER = cProgram(
  ['tb_int_math.h'],
  String.raw`
int main(void) {
  char op;
  unsigned long long w;
  long long a, b, c, d;
  int32_t m, e, j;
  while (scanf(" %c", &op) == 1) {
    switch (op) {
      case 's':
        if (scanf("%llu", &w) != 1) return 2;
        printf("%lu\n", (unsigned long)tb_isqrt_u64((uint64_t)w));
        break;
      case 'n':
        if (scanf("%llu", &w) != 1) return 2;
        m = (int32_t)tb_norm_sqrt_u64((uint64_t)w, &j);
        printf("%ld %ld\n", (long)m, (long)j);
        break;
      case 'r':
        if (scanf("%llu", &w) != 1) return 2;
        tb_rsqrt_q31((uint64_t)w, &m, &e);
        printf("%ld %ld\n", (long)m, (long)e);
        break;
      case 'p':
        if (scanf("%lld %lld %lld %lld", &a, &b, &c, &d) != 4) return 2;
        tb_mul_mant((int32_t)a, (int32_t)b, (int32_t)c, (int32_t)d, &m, &e);
        printf("%ld %ld\n", (long)m, (long)e);
        break;
      case 'x':
        if (scanf("%lld %lld %lld %lld", &a, &b, &c, &d) != 4) return 2;
        printf("%ld\n", (long)tb_mul_exp((int32_t)a, (int32_t)b, (int32_t)c, (int32_t)d));
        break;
      default:
        return 3;
    }
  }
  return 0;
}`,
);

function vectors(): { input: string; expected: string[] } {
  const lines: string[] = [];
  const expected: string[] = [];
  for (const x of fc.sample(u64, { seed: 11, numRuns: 4000 })) {
    lines.push(`s ${x}`);
    expected.push(String(isqrtU64(x)));
  }
  for (const w of fc.sample(w62, { seed: 12, numRuns: 4000 })) {
    const n = normSqrt(w);
    lines.push(`n ${w}`);
    expected.push(`${n.s} ${n.j}`);
    const r = rsqrtQ31(w);
    lines.push(`r ${w}`);
    expected.push(`${r.m} ${r.e}`);
  }
  for (const [a, ae, b, be] of fc.sample(fc.tuple(mant, fc.integer({ min: -80, max: 80 }), mant, fc.integer({ min: -80, max: 80 })), { seed: 13, numRuns: 4000 })) {
    const p = mulMant(a, ae, b, be);
    lines.push(`p ${a} ${ae} ${b} ${be}`);
    expected.push(`${p.m} ${p.e}`);
  }
  const lim = fc.constantFrom(2 ** 28, 2 ** 29, 2 ** 30 - 1, 2 ** 30, 1000);
  for (const [x, m, e, l] of fc.sample(fc.tuple(int32, mant, fc.integer({ min: -40, max: 40 }), lim), { seed: 14, numRuns: 8000 })) {
    lines.push(`x ${x} ${m} ${e} ${l}`);
    expected.push(String(mulExp(x, m, e, l)));
  }
  return { input: `${lines.join('\n')}\n`, expected };
}

describeC('int-math: tb_int_math.h is bit-exact with TS', 'tb_int_math', (c) => {
  const { input, expected } = vectors();

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: every output equals TS', (_name, build) => {
    expectLines(c.run('int_math_driver.c', DRIVER, build, input), expected, (i) => `#${i}`);
  }, 120_000);
});

describeCortexM(
  'int-math',
  {
    source: [
      '#include "tb_int_math.h"',
      'uint32_t k1(uint64_t x);',
      'void k2(uint64_t w, int32_t *m, int32_t *e);',
      'void k3(int32_t a, int32_t b, int32_t *m, int32_t *e);',
      'int32_t k4(int32_t x, int32_t m, int32_t e);',
      'uint32_t k1(uint64_t x) { return tb_isqrt_u64(x); }',
      'void k2(uint64_t w, int32_t *m, int32_t *e) { tb_rsqrt_q31(w, m, e); }',
      'void k3(int32_t a, int32_t b, int32_t *m, int32_t *e) { tb_mul_mant(a, 3, b, -4, m, e); }',
      'int32_t k4(int32_t x, int32_t m, int32_t e) { return tb_mul_exp(x, m, e, 1 << 28); }',
      '',
    ].join('\n'),
  },
  'k4',
);
