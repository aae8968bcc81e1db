// npm pack every public package, install the tarballs into a fresh project outside the repo,
// and from plain Node (one ESM and one CommonJS script) build a small model with every block,
// train one step on wasm, save it, load it back and compare the outputs; then run the installed
// tinyblocks CLI on the shipped model; then what a web page imports (@tinyblocks/datasets/browser,
// and the int8 graph's JSON and interpreter with Node's Buffer deleted).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TFJS = '4.22.0';
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

const packages = fs.readdirSync(path.join(root, 'packages'))
  .map((d) => path.join(root, 'packages', d))
  .filter((d) => fs.existsSync(path.join(d, 'package.json')) && !JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).private);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-smoke-'));
const tarballs = path.join(work, 'tarballs');
fs.mkdirSync(tarballs);
try {
  for (const dir of packages) {
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tarballs], dir));
    console.log(`packed ${out[0].name}@${out[0].version} (${(out[0].size / 1024).toFixed(0)} kB, ${out[0].entryCount} files)`);
  }
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke-app', version: '1.0.0', private: true }));
  const tgz = fs.readdirSync(tarballs).map((f) => path.join(tarballs, f));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tgz,
    `@tensorflow/tfjs-core@${TFJS}`, `@tensorflow/tfjs-layers@${TFJS}`, `@tensorflow/tfjs-backend-wasm@${TFJS}`], app);
  console.log(`installed ${tgz.length} tarballs + tfjs-core, tfjs-layers, tfjs-backend-wasm into ${app}`);

  const body = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'model-body.js'), 'utf8');
  const names = ['core', 'crrelu', 'polycom', 'delta', 'evonorm', 'concept-bottleneck', 'early-exit'];
  const vars = ['core', 'crrelu', 'polycom', 'delta', 'evonorm', 'cbm', 'exit'];
  const esm = [
    "import * as tf from '@tensorflow/tfjs-core';",
    "import * as tfl from '@tensorflow/tfjs-layers';",
    "import * as nodeIo from '@tinyblocks/core/node';",
    ...names.map((n, i) => `import * as ${vars[i]} from '@tinyblocks/${n}';`),
    `const FLAVOUR = 'esm';`,
    body,
  ].join('\n');
  const cjs = [
    "const tf = require('@tensorflow/tfjs-core');",
    "const tfl = require('@tensorflow/tfjs-layers');",
    "const nodeIo = require('@tinyblocks/core/node');",
    ...names.map((n, i) => `const ${vars[i]} = require('@tinyblocks/${n}');`),
    `const FLAVOUR = 'cjs';`,
    `(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });`,
  ].join('\n');
  fs.writeFileSync(path.join(app, 'esm.mjs'), esm);
  fs.writeFileSync(path.join(app, 'cjs.cjs'), cjs);
  for (const script of ['esm.mjs', 'cjs.cjs']) {
    process.stdout.write(run(process.execPath, [script], app));
  }
  // the CLI from its tarball, on the model shipped in @tinyblocks/models
  const info = run(path.join(app, 'node_modules/.bin/tinyblocks'), ['info', 'node_modules/@tinyblocks/models/model/reference'], app);
  if (!/^total\s/m.test(info)) throw new Error(`tinyblocks info printed no totals:\n${info}`);
  console.log(`cli: tinyblocks info on the shipped model: ${info.trim().split('\n').pop().trim().replace(/\s+/g, ' ')}`);
  // int8 export and host verification from the tarballs: the C runtime ships in @tinyblocks/int8
  const bin = path.join(app, 'node_modules/.bin/tinyblocks');
  run(bin, ['export', 'node_modules/@tinyblocks/models/model/reference', '--out', 'c-export', '--calib-count', '50', '--backend', 'cpu'], app);
  const [verified, agreement] = run(bin, ['verify', 'c-export', '--target', 'host', '--count', '5', '--data', 'subset'], app).trim().split('\n').slice(-2);
  if (verified !== 'verify host: 5/5 bit-exact') throw new Error(`tinyblocks verify from the tarballs: ${verified}`);
  // the float model export recorded is compared with on the same images
  if (!/^float agreement: 5\/5 top-1, worst layer \w+ [\d.]+ dB$/.test(agreement)) throw new Error(`tinyblocks verify from the tarballs: ${agreement}`);
  console.log(`cli: tinyblocks export + verify from the tarballs: ${verified}; ${agreement}`);
  // what a web page imports: datasets/browser, and the int8 graph's JSON with Node's Buffer gone
  const web = (load) => `
const labelsFile = 'node_modules/@tinyblocks/datasets/data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz';
const bytes = new Uint8Array(fs.readFileSync(labelsFile));
const graphText = fs.readFileSync('c-export/reference.int8.json', 'utf8');
const ds = ${load('@tinyblocks/datasets/browser')};
const int8 = ${load('@tinyblocks/int8')};
const labels = await ds.decodeIdx(bytes, labelsFile, { magic: ds.IDX_LABELS });
delete globalThis.Buffer; // (Node's own DecompressionStream needs it: gone only for the graph)
const graph = int8.parseGraph(graphText, 'reference.int8.json');
const out = int8.runGraph(graph, new Int8Array(784).fill(-128));
if (labels.dims[0] !== 2000 || out.logits.length !== 10) throw new Error('browser entries: unexpected result');
console.log(\`\${FLAVOUR}: datasets/browser read \${labels.dims[0]} labels (first: \${ds.FASHION_MNIST_CLASSES[labels.data[0]]}), without Buffer int8 parseGraph + runGraph ran \${graph.nodes.length} nodes\`);`;
  fs.writeFileSync(path.join(app, 'web.mjs'), `import * as fs from 'node:fs';\nconst FLAVOUR = 'esm';\n${web((m) => `await import('${m}')`)}`);
  fs.writeFileSync(path.join(app, 'web.cjs'), `const fs = require('node:fs');\nconst FLAVOUR = 'cjs';\n(async () => {${web((m) => `require('${m}')`)}\n})().catch((e) => { console.error(e); process.exit(1); });`);
  for (const script of ['web.mjs', 'web.cjs']) process.stdout.write(run(process.execPath, [script], app));
  console.log('smoke: 5 passed, 0 failed');
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
