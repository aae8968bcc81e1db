import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ConfigError, modelGraph, runGraph } from '@tinyblocks/core';
import type { Interventions } from './cbm.js';
import { ConceptBottleneck } from './layer.js';

/** The ConceptBottleneck layer of a model: the one named `layerName`, or the only one. */
export function findConceptBottleneck(model: LayersModel, layerName?: string): ConceptBottleneck {
  const where = { op: 'intervene' };
  const found = model.layers.filter(
    (l): l is ConceptBottleneck => l instanceof ConceptBottleneck && (layerName === undefined || l.name === layerName),
  );
  if (found.length !== 1) {
    const names = model.layers.filter((l) => l instanceof ConceptBottleneck).map((l) => l.name);
    throw new ConfigError(
      where,
      'layerName',
      layerName === undefined ? 'a model with exactly one ConceptBottleneck layer (or pass layerName)' : `one of ${JSON.stringify(names)}`,
      layerName ?? `${found.length} ConceptBottleneck layers ${JSON.stringify(names)}`,
    );
  }
  return found[0]!;
}

/**
 * Runs `model` on `x` with the given concepts overwritten in its ConceptBottleneck layer and
 * returns that layer's outputs (the caller owns the tensors). The layer's own interventions are
 * restored afterwards.
 */
export function intervene(
  model: LayersModel,
  x: tf.Tensor | tf.Tensor[],
  interventions: Interventions,
  options: { layerName?: string } = {},
): { logits: tf.Tensor; concepts: tf.Tensor } {
  const layer = findConceptBottleneck(model, options.layerName);
  const graph = modelGraph(model);
  const node = graph.nodes.find((n) => n.layer === layer)!;
  const previous = layer.getInterventions();
  layer.setInterventions(interventions);
  try {
    const [logits, concepts] = tf.tidy(() => {
      const values = runGraph(graph, x);
      return [values.get(node.outputs[0]!)!, values.get(node.outputs[1]!)!];
    });
    return { logits: logits!, concepts: concepts! };
  } finally {
    layer.setInterventions(previous);
  }
}
