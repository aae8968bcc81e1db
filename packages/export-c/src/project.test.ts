/**
 * The files a user copies into their firmware: the Makefile builds lib<name>.a (here with the
 * host CC) and the example main.c; main.c compiles with `cc -std=c99 -Wall -Wextra -Werror *.c`
 * and runs; the CMake fragment configures and builds through add_subdirectory (when cmake is
 * installed); everything is deterministic and listed in report.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CC, CI, makeTempDir, requireCompiler, SKIP_C } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { generateC } from './generate.js';
import { blockGraph, standardGraph } from './test-graph.js';
import { writeExport } from './write.js';

const tmp = makeTempDir('tb-export-project-');
afterAll(() => tmp.remove());
const gen = generateC(standardGraph(1));
const bgen = generateC(blockGraph(0.67));
const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const HAS_MAKE = has('make');
const HAS_CMAKE = has('cmake');

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function exportTo(dir: string, files: Record<string, string>): string {
  return writeExport(dir, { files });
}

describe('project files: Makefile, CMakeLists.txt, main.c', () => {
  it('are part of the export, listed in report.json, deterministic', () => {
    for (const g of [gen, bgen]) {
      for (const f of ['main.c', 'Makefile', 'CMakeLists.txt']) {
        expect(g.files[f], f).toBeTypeOf('string');
        expect(g.report.files).toContain(f);
      }
    }
    expect(generateC(standardGraph(1)).files).toEqual(gen.files);
    expect(generateC(blockGraph(0.67)).files).toEqual(bgen.files);
    const mk = gen.files['Makefile']!;
    for (const s of ['CC = arm-none-eabi-gcc', 'CFLAGS ?= -std=c99 -O2 -Wall -Wextra', 'CPU ?= cortex-m4', '-mcpu=$(CPU) -mthumb', 'LIB := libtiny.a', 'filter-out main.c']) expect(mk).toContain(s);
    expect(mk).toMatch(/\n\t\$\(AR\) rcs/); // recipes are indented with tabs
    const cm = gen.files['CMakeLists.txt']!;
    expect(cm).toContain('add_library(tiny_model STATIC');
    expect(cm).toContain('target_include_directories(tiny_model PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})');
    // every library source, and only those
    const listed = [...cm.matchAll(/\$\{CMAKE_CURRENT_SOURCE_DIR\}\/(\S+\.c)$/gm)].map((m) => m[1]);
    expect(listed.filter((f) => f !== 'main.c').sort()).toEqual(Object.keys(gen.files).filter((f) => f.endsWith('.c') && f !== 'main.c').sort());
    const main = gen.files['main.c']!;
    for (const s of ['tiny_run(', 'tiny_run_ex(', 'result.exit_taken', 'tiny_stream(', 'tiny_reset()', '__attribute__((weak))']) expect(main).toContain(s);
    // concepts and an intervention only where the model has concepts
    expect(bgen.files['main.c']).toContain('result.concepts[i]');
    expect(bgen.files['main.c']).toContain('options.concepts = intervention;');
    expect(main).not.toContain('intervention;');
  });

  it.skipIf(SKIP_C)('main.c: cc -std=c99 -Wall -Wextra -Werror *.c builds and runs the example', () => {
    requireCompiler();
    for (const g of [gen, bgen]) {
      const dir = exportTo(join(tmp.dir, `cc-${g.name}`), g.files);
      const sources = readdirSync(dir).filter((f) => f.endsWith('.c'));
      sh(CC, ['-std=c99', '-Wall', '-Wextra', '-Werror', ...sources, '-o', 'example'], dir);
      const out = sh(join(dir, 'example'), [], dir);
      expect(out).toMatch(/^predicted class: \d$/m);
      expect(out).toMatch(/^with exits: class \d, exit_taken -?\d+ \((final classifier|early exit)\), \d+ of \d+ MACs$/m);
      expect(out).toMatch(/^stream frame 2: class \d, \d+ MACs$/m);
      if (g === bgen) {
        expect(out).toMatch(/^concept codes:( -?\d+)+$/m);
        expect(out).toMatch(/^with concept 0 forced on: class \d$/m);
      }
    }
  });

  it.skipIf(SKIP_C || (!HAS_MAKE && !CI))('Makefile: make CC=<host cc> builds libtiny.a and the example in a copy of the export', () => {
    requireCompiler();
    const dir = exportTo(join(tmp.dir, 'make'), bgen.files);
    sh('make', [`CC=${CC}`, '-j2'], dir);
    expect(existsSync(join(dir, 'libblocks.a'))).toBe(true);
    const members = sh('ar', ['t', 'libblocks.a'], dir).trim().split('\n').sort();
    expect(members).toEqual(Object.keys(bgen.files).filter((f) => f.endsWith('.c') && f !== 'main.c').map((f) => f.replace(/\.c$/, '.o')).sort());
    sh('make', [`CC=${CC}`, 'example'], dir);
    expect(sh(join(dir, 'blocks_example'), [], dir)).toMatch(/^predicted class: \d$/m);
    sh('make', [`CC=${CC}`, 'clean'], dir);
    expect(existsSync(join(dir, 'libblocks.a'))).toBe(false);
  });

  it.skipIf(!has('arm-none-eabi-gcc') || !HAS_MAKE)('Makefile: the default build is arm-none-eabi-gcc for CPU=cortex-m4 (and CPU=cortex-m0)', () => {
    const dir = exportTo(join(tmp.dir, 'make-arm'), gen.files);
    const dry = sh('make', ['-n'], dir);
    expect(dry).toContain('arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -std=c99 -O2 -Wall -Wextra');
    sh('make', ['-j2', 'CFLAGS=-std=c99 -O2 -Wall -Wextra -Werror'], dir);
    expect(existsSync(join(dir, 'libtiny.a'))).toBe(true);
    sh('make', ['clean'], dir);
    sh('make', ['-j2', 'CPU=cortex-m0', 'objects'], dir);
    expect(existsSync(join(dir, 'build', 'tiny_model.o'))).toBe(true);
  });

  const cmakeSkip = SKIP_C || !HAS_CMAKE;
  if (!HAS_CMAKE) console.warn('SKIPPED the CMake fragment test: cmake is not installed');
  it.skipIf(cmakeSkip)('CMakeLists.txt: add_subdirectory + target_link_libraries builds an app from main.c', () => {
    const root = join(tmp.dir, 'cmake');
    mkdirSync(root, { recursive: true });
    exportTo(join(root, 'model'), bgen.files);
    writeFileSync(
      join(root, 'CMakeLists.txt'),
      ['cmake_minimum_required(VERSION 3.13)', 'project(app C)', 'add_subdirectory(model)', 'add_executable(app model/main.c)', 'target_link_libraries(app PRIVATE blocks_model)', ''].join('\n'),
    );
    sh('cmake', ['-S', root, '-B', join(root, 'build'), `-DCMAKE_C_COMPILER=${CC}`], root);
    sh('cmake', ['--build', join(root, 'build'), '-j', '2'], root);
    expect(sh(join(root, 'build', 'app'), [], root)).toMatch(/^predicted class: \d$/m);
  });
});
