import { ConfigError } from '@tinyblocks/core/base';
import { describe, expect, it } from 'vitest';
import { BOARDS, BudgetError, boardPreset, checkBudget, parseBytes, peakNode, type Footprint } from './index.js';

const fp: Footprint = {
  name: 'm',
  arenaBytes: 25_104,
  stateBytes: 2_560,
  flashDataBytes: 158_688,
  perNode: [
    { index: 0, node: 'conv1', liveBytes: 12_544 },
    { index: 1, node: 'norm3', liveBytes: 25_088 },
    { index: 2, node: 'fc7', liveBytes: 1_152 },
  ],
  ops: ['conv2d', 'evonorm_s0', 'delta_dense'],
};

describe('budgets', () => {
  it('parses sizes', () => {
    expect(parseBytes('64k', 'x')).toBe(65_536);
    expect(parseBytes('256K', 'x')).toBe(262_144);
    expect(parseBytes('1m', 'x')).toBe(1_048_576);
    expect(parseBytes('1000', 'x')).toBe(1000);
    expect(() => parseBytes('lots', '--sram')).toThrow(/--sram: expected a size like 65536, 64k or 1m, got "lots"/);
  });

  it('has the board presets with their cores and budgets', () => {
    expect(Object.keys(BOARDS).sort()).toEqual(['nrf52840', 'stm32f412', 'stm32f746', 'tiny64k']);
    expect(boardPreset('tiny64k')).toMatchObject({ core: 'cortex-m4', sramBytes: 65_536, flashBytes: 262_144 });
    expect(boardPreset('stm32f746').core).toBe('cortex-m7');
    expect(() => boardPreset('esp32')).toThrow(ConfigError);
  });

  it('a footprint within budget passes; one over fails naming the excess and the peak layer', () => {
    expect(() => checkBudget(fp, { sramBytes: 65_536, flashBytes: 262_144, source: '--board tiny64k' })).not.toThrow();
    expect(peakNode(fp).node).toBe('norm3');
    const run = () => checkBudget(fp, { sramBytes: 16_384, source: '--sram 16k' });
    expect(run).toThrow(BudgetError);
    expect(run).toThrow('m: SRAM: expected at most 16,384 bytes (--sram 16k), got "27,664 bytes" (11,280 bytes over; the peak is set by node 1 norm3 (evonorm_s0): 25,088 bytes of activations live, plus 2,560 bytes of stream state)');
    expect(() => checkBudget(fp, { flashBytes: 100_000, source: '--flash 100000' })).toThrow(/flash: expected at most 100,000 bytes .* \(58,688 bytes over before any code\)/);
  });
});
