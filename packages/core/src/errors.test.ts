import { describe as suite, expect, it } from 'vitest';
import { ConfigError, describe } from './errors.js';

suite('error messages stay short whatever they are given', () => {
  it('a 200,000-element array, a 1.5 MB string and a deeply nested value are cut, not printed whole', () => {
    const big = describe(new Float32Array(200_000).fill(1.5));
    expect(big).toMatch(/^\[1\.5, 1\.5, .*… \(200,000 items\)\]$/);
    expect(big.length).toBeLessThan(200);
    expect(describe('x'.repeat(1_500_000)).length).toBeLessThan(4100);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(describe(deep)).toBe('[[[[…]]]]');
    const obj = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    expect(describe(obj)).toMatch(/^\{"k0":0,.*,… \(50 keys\)\}$/);
    expect(new ConfigError({ op: 'x' }, 'f', 'y', deep).message.length).toBeLessThan(100);
  });

  it('short values read as before', () => {
    expect(describe('a')).toBe('"a"');
    expect(describe([1, 'b', null])).toBe('[1, "b", null]');
    expect(describe({ a: 1 })).toBe('{"a":1}');
    expect(describe(undefined)).toBe('undefined');
  });
});
