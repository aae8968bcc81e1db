/**
 * Hostile and broken inputs, table-driven, for every command that reads user files or writes
 * into a user's folder. Each case checks the exit code, a fragment of the one-line message, a time
 * bound (cheap checks come before calibration or training), that no stack trace reaches the user,
 * and that every folder the case set up is byte for byte (and mode for mode) as it was.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INTEGRITY_FIELD } from '@tinyblocks/core/node';
import { shippedModelDir } from '@tinyblocks/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-hostile-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const HAS_CC = spawnSync(process.env.CC ?? 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP_C = !HAS_CC && process.env.CI !== 'true';

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

/** Every file and folder under `dir`: kind, mode, and a hash of the contents (symlinks not followed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d).sort()) {
      const p = path.join(d, e);
      const st = fs.lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else if (st.isFile()) out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
      else out[rel] = `special ${st.mode.toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

let n = 0;
const fresh = (name: string) => {
  const d = path.join(tmp, `${++n}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

type Json = Record<string, any>;
/** A copy of the shipped model; `mutate` edits its model.json (the integrity record removed first, unless kept). */
function model(name: string, mutate?: (json: Json, dir: string) => void, keepIntegrity = false): string {
  const dir = path.join(fresh(name), 'model');
  fs.cpSync(shippedModelDir(), dir, { recursive: true });
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
  if (!keepIntegrity) delete json[INTEGRITY_FIELD];
  mutate?.(json, dir);
  fs.writeFileSync(file, JSON.stringify(json));
  return dir;
}
const layers = (j: Json) => j.modelTopology.config.layers as Json[];
const layer = (j: Json, name: string) => layers(j).find((l) => l.name === name)!;

function writeIdxImages(file: string, count: number, fill: (i: number, k: number) => number) {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x803, 0);
  head.writeUInt32BE(count, 4);
  head.writeUInt32BE(28, 8);
  head.writeUInt32BE(28, 12);
  const px = Buffer.alloc(count * 784);
  for (let i = 0; i < count; i++) for (let k = 0; k < 784; k++) px[i * 784 + k] = fill(i, k);
  fs.writeFileSync(file, Buffer.concat([head, px]));
}

let exportDir = '';
beforeAll(async () => {
  exportDir = path.join(fresh('export'), 'c');
  const r = await cli(['export', shippedModelDir(), '--out', exportDir, '--calib-count', '100']);
  if (r.code !== 0) throw new Error(r.err);
}, 120_000);

interface Case {
  name: string;
  /** Builds the inputs; returns argv and the folders that must stay unchanged. */
  setup: () => { argv: string[]; keep?: string[] };
  code: number;
  message: RegExp;
  /** Seconds the case may take (default 10). */
  seconds?: number;
  skip?: boolean;
}

const sh = shippedModelDir;
const CASES: Case[] = [
  // ---- model.json as a graph: each of these spun forever in tfjs's node resolution
  { name: 'a cycle', code: 2, message: /acyclic|cycle/, setup: () => ({ argv: ['info', model('cycle', (j) => { layer(j, 'conv2').inbound_nodes = [[['act5', 0, 0, {}]]]; })] }) },
  { name: 'a self-loop', code: 2, message: /acyclic|cycle/, setup: () => ({ argv: ['export', model('self', (j) => { layer(j, 'conv2').inbound_nodes = [[['conv2', 0, 0, {}]]]; }), '--out', path.join(fresh('o'), 'x')] }) },
  { name: 'a dangling (ghost) layer', code: 2, message: /ghost/, setup: () => ({ argv: ['info', model('ghost', (j) => { layer(j, 'conv3').inbound_nodes = [[['ghost', 0, 0, {}]]]; })] }) },
  { name: 'two layers with one name', code: 2, message: /conv2/, setup: () => ({ argv: ['info', model('dup', (j) => { layer(j, 'conv3').name = 'conv2'; layers(j).find((l) => l.config.name === 'conv3')!.config.name = 'conv2'; })] }) },
  { name: 'a deleted layer others read', code: 2, message: /conv3/, setup: () => ({ argv: ['eval', model('deleted', (j) => { j.modelTopology.config.layers = layers(j).filter((l) => l.name !== 'conv3'); }), '--data', 'subset'] }) },
  { name: 'a bad node index', code: 2, message: /node/i, setup: () => ({ argv: ['info', model('node', (j) => { layer(j, 'conv2').inbound_nodes[0][0][1] = 1; })] }) },
  { name: 'a model.json nested 100,000 levels deep', code: 2, message: /nested at most 64 levels/, setup: () => {
    const dir = model('deep');
    const file = path.join(dir, 'model.json');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, `${text.slice(0, -1)},"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    return { argv: ['info', dir] };
  } },
  { name: 'a declared input of 1e10 elements', code: 2, message: /batch_input_shape|elements/, setup: () => ({ argv: ['info', model('huge', (j) => { layer(j, 'image').config.batch_input_shape = [null, 100_000, 100_000, 1]; })] }) },
  { name: 'units 1e9 in a Dense', code: 2, message: /units/, setup: () => ({ argv: ['info', model('units', (j) => { layer(j, 'fc7').config.units = 1e9; })] }) },
  // ---- weights files
  { name: 'a weights path leaving the folder', code: 2, message: /paths\[0\]: expected a file name inside/, setup: () => {
    const other = model('victim');
    return { argv: ['info', model('escape', (j) => { j.weightsManifest[0].paths = [`../../${path.basename(path.dirname(other))}/model/weights.bin`]; })] };
  } },
  { name: '../../etc/passwd as weights', code: 2, message: /expected a file name inside/, setup: () => ({ argv: ['info', model('passwd', (j) => { j.weightsManifest[0].paths = ['../../../../../../etc/passwd']; })] }) },
  { name: 'a symlink to /dev/zero as weights', code: 2, message: /no symlink leading out/, setup: () => ({ argv: ['info', model('zero', (j, d) => { fs.symlinkSync('/dev/zero', path.join(d, 'zero.bin')); j.weightsManifest[0].paths = ['zero.bin']; })] }) },
  { name: 'a FIFO as weights (would block forever)', code: 2, message: /FIFO/, setup: () => ({ argv: ['info', model('fifo', (j, d) => { execFileSync('mkfifo', [path.join(d, 'p.bin')]); j.weightsManifest[0].paths = ['p.bin']; })] }) },
  { name: 'a folder where model.json should be (EISDIR)', code: 2, message: /model\.json: file: expected a model\.json file, got "a folder"/, setup: () => {
    const d = fresh('eisdir');
    fs.mkdirSync(path.join(d, 'model.json'));
    return { argv: ['info', d] };
  } },
  { name: 'a file given as the model folder', code: 2, message: /folder: expected a model folder/, setup: () => ({ argv: ['eval', path.join(sh(), 'model.json')] }) },
  { name: 'a NaN weight', code: 2, message: /weight 'conv1\/kernel'\[0\]: expected a finite number, got "NaN"/, setup: () => ({ argv: ['export', model('nan', (_, d) => { const w = path.join(d, 'weights.bin'); const b = fs.readFileSync(w); b.writeFloatLE(NaN, 0); fs.writeFileSync(w, b); }), '--out', path.join(fresh('o'), 'x')] }) },
  { name: 'a 1e38 conv weight', code: 2, message: /weight 'conv1\/kernel'\[3\]: expected a magnitude of at most 1e\+6/, setup: () => ({ argv: ['export', model('1e38', (_, d) => { const w = path.join(d, 'weights.bin'); const b = fs.readFileSync(w); b.writeFloatLE(1e38, 12); fs.writeFileSync(w, b); }), '--out', path.join(fresh('o'), 'x')] }) },
  { name: 'one changed weight byte (integrity kept)', code: 2, message: /weights\.bin: contents: expected the weights tinyblocks saved/, setup: () => ({ argv: ['export', model('flip', (_, d) => { const w = path.join(d, 'weights.bin'); const b = fs.readFileSync(w); b[1000] ^= 1; fs.writeFileSync(w, b); }, true), '--out', path.join(fresh('o'), 'x')] }) },
  { name: 'an edited model.json (integrity kept)', code: 2, message: /tinyblocksIntegrity: expected model\.json as tinyblocks saved it/, setup: () => ({ argv: ['info', model('edit', (j) => { layer(j, 'conv1').config.strides = [2, 2]; }, true)] }) },
  { name: 'a truncated weights file', code: 2, message: /weights\.bin: byteLength: expected \d+ bytes/, setup: () => ({ argv: ['info', model('trunc', (_, d) => fs.truncateSync(path.join(d, 'weights.bin'), 100))] }) },
  { name: 'metadata with an impossible threshold', code: 2, message: /exitThresholds: expected one threshold in \(0, 1\]/, setup: () => ({ argv: ['export', model('meta', (j) => { j.userDefinedMetadata.tinyblocks.exitThresholds = [-1, 5]; }), '--out', path.join(fresh('o'), 'x')] }) },
  { name: 'metadata with output roles for another model', code: 2, message: /outputRoles/, setup: () => ({ argv: ['eval', model('roles', (j) => { j.userDefinedMetadata.tinyblocks.outputRoles = ['logits']; }), '--data', 'subset'] }) },
  // ---- flags: checked before any calibration
  ...['-1', '2', '0', '', '0.9,0.9,0.9', 'abc', '0.9,'].map((t): Case => ({
    name: `--exit-threshold=${t}`, code: 2, message: /--exit-threshold: expected (a number in \(0, 1\]|one threshold, or one per exit head \(2\)), got/, seconds: 5,
    setup: () => ({ argv: ['export', sh(), '--out', path.join(fresh('o'), 'x'), `--exit-threshold=${t}`] }),
  })),
  { name: '--exit-threshold -1 (a value read as a flag)', code: 2, message: /--exit-threshold: expected a value \(one that starts with '-' is written --exit-threshold=-1\)/, seconds: 5, setup: () => ({ argv: ['export', sh(), '--out', path.join(fresh('o'), 'x'), '--exit-threshold', '-1'] }) },
  { name: 'an unknown option', code: 2, message: /--epoch: expected one of --arch, --epochs/, seconds: 5, setup: () => ({ argv: ['train', '--epoch', '1', '--out', path.join(fresh('o'), 'x')] }) },
  ...['constructor', '__proto__', 'toString'].map((b): Case => ({
    name: `--board ${b}`, code: 2, message: /--board: expected one of stm32f746/, seconds: 5,
    setup: () => ({ argv: ['export', sh(), '--out', path.join(fresh('o'), 'x'), '--board', b] }),
  })),
  { name: 'a command named like an object key', code: 2, message: /unknown command "constructor"/, setup: () => ({ argv: ['constructor'] }) },
  { name: '--name too long for a file name', code: 2, message: /--name: expected a C identifier of at most 64/, seconds: 5, setup: () => ({ argv: ['export', sh(), '--out', path.join(fresh('o'), 'x'), '--name', 'n'.repeat(300)] }) },
  { name: '--calib-count 1e12', code: 2, message: /--calib-count: expected an integer from 1 to 100,000/, seconds: 5, setup: () => ({ argv: ['export', sh(), '--out', path.join(fresh('o'), 'x'), '--calib-count', '1e12'] }) },
  { name: 'verify --count 1e12', code: 2, message: /--count: expected an integer from 1 to 100,000/, seconds: 5, setup: () => ({ argv: ['verify', exportDir, '--count', '1e12'] }) },
  { name: 'verify --count beyond the data', code: 2, message: /--count: expected at most the 2000 subset test images available/, seconds: 5, setup: () => ({ argv: ['verify', exportDir, '--count', '5000', '--data', 'subset'] }) },
  // ---- calibration data
  { name: 'all-black calibration images', code: 2, message: /calibration data \(black-idx3-ubyte \(\/255\)\): value range: expected samples that vary, got "all 100 samples within \[0, 0\]"/, setup: () => {
    const d = fresh('black');
    writeIdxImages(path.join(d, 'black-idx3-ubyte'), 100, () => 0);
    return { argv: ['export', sh(), '--out', path.join(d, 'x'), '--calib', path.join(d, 'black-idx3-ubyte')], keep: [d] };
  } },
  { name: 'mostly blank calibration images', code: 2, message: /blank samples: expected at most half of the 100 calibration samples blank .*got "90 blank"/, setup: () => {
    const d = fresh('mostly');
    writeIdxImages(path.join(d, 'm-idx3-ubyte'), 100, (i, k) => (i < 10 ? (k * 7) % 256 : 3));
    return { argv: ['export', sh(), '--out', path.join(d, 'x'), '--calib', path.join(d, 'm-idx3-ubyte')], keep: [d] };
  } },
  { name: '--calib naming a folder', code: 2, message: /--calib\): expected|got "a folder"/, setup: () => ({ argv: ['export', sh(), '--out', path.join(fresh('o'), 'x'), '--calib', tmp] }) },
  // ---- output folders: nothing of the user's lost
  { name: 'train --out a project folder', code: 2, message: /tinyblocks did not write \(README\.md, src\)/, seconds: 5, setup: () => {
    const d = fresh('project');
    fs.writeFileSync(path.join(d, 'README.md'), '# my project');
    fs.mkdirSync(path.join(d, 'src'));
    fs.writeFileSync(path.join(d, 'src', 'main.ts'), 'export {}');
    return { argv: ['train', '--arch', 'reference-small', '--data', 'subset', '--limit', '64', '--out', d], keep: [d] };
  } },
  { name: 'train --out a previous C export', code: 2, message: /holding a tinyblocks c-export output/, seconds: 5, setup: () => ({ argv: ['train', '--arch', 'reference-small', '--data', 'subset', '--limit', '64', '--out', exportDir], keep: [exportDir] }) },
  { name: 'qat --out a user folder', code: 2, message: /tinyblocks did not write \(notes\.txt\)/, seconds: 5, setup: () => {
    const d = fresh('qat');
    fs.writeFileSync(path.join(d, 'notes.txt'), 'mine');
    return { argv: ['qat', sh(), '--out', d], keep: [d] };
  } },
  { name: 'retrain-exits --out a user folder', code: 2, message: /tinyblocks did not write/, seconds: 5, setup: () => {
    const d = fresh('exits');
    fs.writeFileSync(path.join(d, 'data.csv'), '1,2');
    return { argv: ['retrain-exits', sh(), '--out', d], keep: [d] };
  } },
  { name: 'export over an export whose Makefile the user edited', code: 2, message: /changed since tinyblocks wrote them: Makefile.*--force/, seconds: 5, setup: () => {
    const d = path.join(fresh('edited'), 'c');
    fs.cpSync(exportDir, d, { recursive: true });
    fs.appendFileSync(path.join(d, 'Makefile'), '\n# my board\n');
    return { argv: ['export', sh(), '--out', d], keep: [d] };
  } },
  { name: 'export --out an existing file', code: 2, message: /--out: expected a folder, or a path that does not exist yet, got "an existing file"/, seconds: 5, setup: () => {
    const d = fresh('file');
    fs.writeFileSync(path.join(d, 'f'), 'x');
    return { argv: ['export', sh(), '--out', path.join(d, 'f')], keep: [d] };
  } },
  { name: 'export --out through a file (ENOTDIR)', code: 2, message: /--out: expected a folder, or a path that does not exist yet, got "a path through/, seconds: 5, setup: () => {
    const d = fresh('notdir');
    fs.writeFileSync(path.join(d, 'f'), 'x');
    return { argv: ['export', sh(), '--out', path.join(d, 'f', 'sub')], keep: [d] };
  } },
  { name: 'export --out on a read-only file system', code: 2, message: /--out: expected a folder you can write to, got "a read-only file system"|no write permission/, seconds: 5,
    skip: !(() => { try { fs.accessSync('/proc/sys', fs.constants.W_OK); return false; } catch { return true; } })(),
    setup: () => ({ argv: ['export', sh(), '--out', '/proc/sys/tinyblocks-out'] }) },
  // ---- export folders given to verify
  { name: 'verify: report.json replaced by {} and a 1-byte budget', code: 2, message: /SRAM: expected at most 1 bytes/, seconds: 5, setup: () => {
    const d = path.join(fresh('fake-report'), 'c');
    fs.cpSync(exportDir, d, { recursive: true });
    fs.writeFileSync(path.join(d, 'report.json'), '{}');
    return { argv: ['verify', d, '--sram', '1'], keep: [d] };
  } },
  { name: 'verify: a folder without a manifest', code: 2, message: /tinyblocks-manifest\.json: file: expected the manifest of a C export/, seconds: 5, setup: () => {
    const d = path.join(fresh('no-manifest'), 'c');
    fs.cpSync(exportDir, d, { recursive: true });
    fs.rmSync(path.join(d, 'tinyblocks-manifest.json'));
    return { argv: ['verify', d], keep: [d] };
  } },
  { name: 'verify: a corrupt int8 graph', code: 2, message: /reference\.int8\.json/, seconds: 5, setup: () => {
    const d = path.join(fresh('corrupt-graph'), 'c');
    fs.cpSync(exportDir, d, { recursive: true });
    fs.writeFileSync(path.join(d, 'reference.int8.json'), '{"format": 1, "nodes": [');
    return { argv: ['verify', d], keep: [d] };
  } },
];

describe('hostile inputs: exit code, message, time, nothing changed', () => {
  for (const c of CASES) {
    it.skipIf(c.skip)(c.name, async () => {
      const { argv, keep = [] } = c.setup();
      const before = keep.map(snapshot);
      const shippedBefore = snapshot(shippedModelDir());
      const t0 = performance.now();
      const r = await cli(argv);
      const seconds = (performance.now() - t0) / 1000;
      if (process.env.HOSTILE_VERBOSE) console.log(`${c.name} [${seconds.toFixed(2)} s, exit ${r.code}]: ${r.err.trim()}`);
      expect(r.err).toMatch(c.message);
      expect(r.code).toBe(c.code);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.err.split('\n').every((l) => l.length < 2000)).toBe(true);
      expect(seconds).toBeLessThan(c.seconds ?? 10);
      expect(keep.map(snapshot)).toEqual(before);
      expect(snapshot(shippedModelDir())).toEqual(shippedBefore);
    }, 30_000);
  }
});

describe('output folders people own', () => {
  it('export keeps a board port the user added to a previous export, and the folder mode', async () => {
    const d = path.join(fresh('port'), 'c');
    fs.cpSync(exportDir, d, { recursive: true });
    fs.chmodSync(d, 0o750);
    fs.writeFileSync(path.join(d, 'board_port.c'), 'int board_init(void) { return 0; }\n');
    const r = await cli(['export', sh(), '--out', d, '--calib-count', '100']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('kept 1 file you added: board_port.c');
    expect(fs.readFileSync(path.join(d, 'board_port.c'), 'utf8')).toContain('board_init');
    expect(fs.statSync(d).mode & 0o777).toBe(0o750);
  }, 60_000);

  it('export --out a symlink writes where it points and keeps the link', async () => {
    const base = fresh('symlink');
    fs.mkdirSync(path.join(base, 'real'));
    fs.symlinkSync(path.join(base, 'real'), path.join(base, 'link'));
    const r = await cli(['export', sh(), '--out', path.join(base, 'link'), '--calib-count', '100']);
    expect(r.code).toBe(0);
    expect(fs.lstatSync(path.join(base, 'link')).isSymbolicLink()).toBe(true);
    expect(fs.existsSync(path.join(base, 'real', 'reference_model.c'))).toBe(true);
  }, 60_000);

  it.skipIf(SKIP_C)("verify compiles only the export's files, not a user's own .c beside them", async () => {
    const d = path.join(fresh('user-c'), 'c');
    fs.cpSync(exportDir, d, { recursive: true });
    fs.writeFileSync(path.join(d, 'broken_port.c'), 'this is not C;\n');
    const r = await cli(['verify', d, '--count', '2', '--data', 'subset']);
    expect(r.err).not.toContain('broken_port');
    expect(r.out.trim().split('\n').at(-2)).toBe('verify host: 2/2 bit-exact');
    expect(r.code).toBe(0);
  }, 120_000);
});

describe('the installed command: one line, exit 2, no stack trace', () => {
  const pkgDir = path.resolve(import.meta.dirname, '..');
  const bin = path.join(pkgDir, 'dist', 'bin.js');
  it.skipIf(!fs.existsSync(bin))('a folder where model.json should be, and an unknown command', () => {
    const d = fresh('bin');
    fs.mkdirSync(path.join(d, 'model.json'));
    for (const argv of [['info', d], ['__proto__'], ['export', d, '--out', d, '--board', 'constructor']]) {
      const r = spawnSync(process.execPath, [bin, ...argv], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const dbg = spawnSync(process.execPath, [bin, 'info', d, '--debug'], { encoding: 'utf8', timeout: 20_000 });
    expect(dbg.status).toBe(2);
    expect(dbg.stderr).toMatch(/\n\s+at /); // --debug shows where
  }, 60_000);
});
