/** Where the trained reference model ships inside this package. */
import * as path from 'node:path';
import { findPackageRoot } from '@tinyblocks/datasets';

/**
 * Directory of the shipped reference model (model.json + weights.bin). The command that trained
 * it is in its metadata: `userDefinedMetadata.training.command`.
 */
export function shippedModelDir(): string {
  return path.join(findPackageRoot('@tinyblocks/models', import.meta.url), 'model', 'reference');
}
