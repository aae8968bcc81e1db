/** Where the trained reference model ships inside this package. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of the shipped reference model (model.json + weights.bin). */
export function shippedModelDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === '@tinyblocks/models') {
      return path.join(dir, 'model', 'reference');
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('@tinyblocks/models: package root not found from ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The exact command that trained the shipped model (kept next to it as TRAINING.md). */
export const SHIPPED_MODEL_COMMAND =
  'npx tinyblocks train --arch reference --epochs 12 --backend wasm --seed 1 --out packages/models/model/reference';
