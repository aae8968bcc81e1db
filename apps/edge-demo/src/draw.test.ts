/**
 * Drawing with the mouse on the pad: the page classifies the drawn pixels as Node does with the
 * same model; the eraser, clear and "edit current" change exactly what they should.
 */
import { describe, expect, it } from 'vitest';
import { demoPage, screenshot, SKIP } from '../test/browser.js';
import { maxAbsDiff, nodePredict, pixelsOf } from '../test/node-reference.js';
import type { PageState, Prediction } from './state.js';

const demo = demoPage('s.ready');

const lit = (p: Prediction) => p.pixels.filter((v) => v > 0).length;

/** Drags the mouse along points given in pad pixels (0..28). */
async function stroke(points: Array<[number, number]>): Promise<void> {
  const box = (await demo().page.locator('#pad').boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + (x / 28) * box.width, box.y + (y / 28) * box.height] as const;
  await demo().page.mouse.move(...at(points[0]!));
  await demo().page.mouse.down();
  for (const p of points.slice(1)) await demo().page.mouse.move(...at(p), { steps: 8 });
  await demo().page.mouse.up();
}

/** Waits for the prediction made when the stroke ended (the last drawn one after `count`). */
async function drawn(after: number): Promise<Prediction> {
  const s: PageState = await demo().until(`s.predictions.length > ${after} && s.current?.source === 'drawn'`);
  return s.current!;
}

describe.skipIf(SKIP)('drawing pad', () => {
  it('classifies a drawing as Node does with the same model on the same pixels', async () => {
    await demo().page.selectOption('#brush', '1.6');
    // a pair of trousers: a waistband and two legs, one stroke each (each stroke is classified)
    const strokes: Array<Array<[number, number]>> = [[[8, 3], [20, 3]], [[9, 3], [9, 25]], [[11, 4], [11, 25]], [[17, 4], [17, 25]], [[19, 3], [19, 25]]];
    for (const points of strokes) {
      const before = (await demo().state()).predictions.length;
      await stroke(points);
      await drawn(before);
    }
    const p = (await demo().state()).current!;
    expect(p.index).toBeNull();
    expect(lit(p)).toBeGreaterThan(60);
    const node = await nodePredict(p.pixels);
    expect(p.predicted).toBe(node.probabilities.indexOf(Math.max(...node.probabilities)));
    expect(maxAbsDiff(p.probabilities, node.probabilities)).toBeLessThanOrEqual(1e-4);
    expect(await demo().page.textContent('#truth')).toBe('your drawing');
    console.log(`edge demo: the drawn trousers are classified as class ${p.predicted} (${(p.probabilities[p.predicted]! * 100).toFixed(1)}%)`);
    await screenshot(demo().page, 'drawing.png');
  });

  it('the eraser removes fabric, clear empties the pad', async () => {
    const drawing = (await demo().state()).current!;
    await demo().page.selectOption('#brush', '-2.6');
    let n = (await demo().state()).predictions.length;
    await stroke([[5, 14], [23, 14]]);
    const erased = await drawn(n);
    expect(lit(erased)).toBeLessThan(lit(drawing));
    erased.pixels.forEach((v, i) => expect(v).toBeLessThanOrEqual(drawing.pixels[i]!)); // erasing never adds

    await demo().page.click('#clear');
    await demo().page.selectOption('#brush', '1.6');
    n = (await demo().state()).predictions.length;
    await stroke([[14, 14], [15, 14]]);
    const dot = await drawn(n);
    expect(lit(dot)).toBeGreaterThan(0);
    expect(lit(dot)).toBeLessThan(20); // only the dot: the pad was cleared
  });

  it('"edit current" copies the current test image into the pad to draw over', async () => {
    await demo().page.click('#grid canvas[data-index="7"]');
    await demo().until('s.current?.index === 7');
    await demo().page.click('#edit');
    const n = (await demo().state()).predictions.length;
    await stroke([[2, 2], [3, 2]]);
    const p = await drawn(n);
    const original = pixelsOf(7);
    const changed = p.pixels.flatMap((v, i) => (v !== original[i] ? [i] : []));
    expect(changed.length).toBeGreaterThan(0);
    // only pixels near the stroke (top-left corner, within 6 px) differ from test image 7
    for (const i of changed) expect(i % 28 < 8 && Math.floor(i / 28) < 8).toBe(true);
  });
});
