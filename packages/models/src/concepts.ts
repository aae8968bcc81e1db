import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { modelGraph, runGraph } from '@tinyblocks/core';
import { ConceptBottleneck } from '@tinyblocks/concept-bottleneck';
import { imageBatch, range } from './data.js';

/**
 * For a logit concept bottleneck: sets the logits interventions write (0 / 1) to the 5th / 95th
 * percentile of each concept's logits over the first `count` images. Returns them, or null when
 * the model has no logit bottleneck.
 */
export function calibrateConceptInterventions(model: tfl.LayersModel, images: Uint8Array, count = 2000): Array<[number, number]> | null {
  const layer = model.layers.find((l): l is ConceptBottleneck => l instanceof ConceptBottleneck && l.bottleneck === 'logit');
  if (!layer) return null;
  const graph = modelGraph(model);
  const node = graph.nodes.find((n) => n.layer === layer)!;
  return tf.tidy(() => {
    const n = Math.min(count, images.length / 784);
    const values = runGraph(graph, imageBatch(images, range(n)), { stopAfter: (m) => m.outputs.includes(node.inputs[0]!) });
    return layer.calibrateInterventionLogits(values.get(node.inputs[0]!) as tf.Tensor2D);
  });
}
