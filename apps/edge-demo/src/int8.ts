/**
 * The int8 graph `tinyblocks export` wrote for the shipped model, run in the page by the
 * TypeScript integer reference: the same integers the generated C computes (verify checks C
 * against this interpreter byte for byte).
 */
import { createStream, OPS, parseGraph, quantizeArray, runGraph, type Int8Graph } from '@tinyblocks/int8';
import type { ExportReport } from '@tinyblocks/export-c';
import { argmax } from './dom.js';
import type { Int8Run } from './state.js';

export class Int8Model {
  private constructor(readonly graph: Int8Graph, readonly report: ExportReport) {}

  static async load(graphUrl: string, reportUrl: string): Promise<Int8Model> {
    const [graphText, report] = await Promise.all([
      fetch(graphUrl).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`${graphUrl}: HTTP ${r.status}`)))),
      fetch(reportUrl).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${reportUrl}: HTTP ${r.status}`)))),
    ]);
    return new Int8Model(parseGraph(graphText, graphUrl), report as ExportReport);
  }

  /** Input codes of 0..255 pixels (pixel / 255 quantized with the input tensor's scale and zero point). */
  codes(pixels: ArrayLike<number>): Int8Array {
    return quantizeArray(Float32Array.from(pixels, (v) => v / 255), this.graph.tensors[this.graph.input]!);
  }

  /** One image with early exits on (the exported thresholds), as the firmware's _run_ex. */
  run(pixels: ArrayLike<number>): Int8Run {
    const r = runGraph(this.graph, this.codes(pixels), { exits: true });
    return { predicted: argmax(r.logits), logits: Array.from(r.logits), exitTaken: r.exitTaken, macs: r.macs };
  }

  /** Final-classifier logits with concepts set (one entry per concept: -1 free, 0 off, 1 on). */
  intervene(pixels: ArrayLike<number>, values: Record<number, number>): number[] {
    const concepts = this.graph.outputs.find((o) => o.role === 'concepts');
    const k = concepts ? this.graph.tensors[concepts.tensor]!.shape[0]! : 0;
    const iv = new Int8Array(k).fill(-1);
    for (const [j, v] of Object.entries(values)) iv[Number(j)] = v;
    return Array.from(runGraph(this.graph, this.codes(pixels), { interventions: iv }).logits);
  }

  /** A clip through a stream (delta state kept between frames): per frame the prediction and delta_dense MACs. */
  stream(clip: Uint8Array, frames: number): Array<{ predicted: number; macs: number; denseMacs: number }> | null {
    const at = this.graph.nodes.findIndex((n) => n.op === 'delta_dense');
    if (at < 0) return null;
    const denseMacs = OPS.get('delta_dense')!.macs(this.graph.nodes[at]!, this.graph);
    const s = createStream(this.graph);
    return Array.from({ length: frames }, (_, t) => {
      const r = s.run(this.codes(clip.subarray(t * 784, (t + 1) * 784)));
      return { predicted: argmax(r.logits), macs: r.nodeMacs[at]!, denseMacs };
    });
  }
}
