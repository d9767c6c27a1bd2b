import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The forest and the series detector as another project uses them: `flowcut` installed under
// node_modules, imported through its `flowcut/rcf` and `flowcut/series` entries (dist/, which
// `npm test` builds first), compiled by the project's own TypeScript under strict NodeNext
// settings, then run.
const ROOT = new URL('../..', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules/.bin/tsc');
const run = promisify(execFile);

/** A README library example and the output it says the example prints. */
function readmeExample(name: string): { code: string; output: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- example: ${name} `);
  expect(at).toBeGreaterThan(0);
  const blocks = [...readme.slice(at).matchAll(/```(\w+)\n([\s\S]*?)```/g)].slice(0, 2);
  expect(blocks.map((b) => b[1])).toEqual(['ts', 'text']);
  return { code: blocks[0]![2]!, output: blocks[1]![2]! };
}

function consumerProject(code: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowcut-consumer-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/flowcut'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], outDir: 'out' };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['example.ts'] }));
  writeFileSync(join(dir, 'example.ts'), code);
  return dir;
}

describe("the library's package entries, flowcut/rcf and flowcut/series", () => {
  for (const [name, entry] of [
    ['rcf-library', 'flowcut/rcf'],
    ['series-library', 'flowcut/series'],
  ] as const) {
    it(`compiles and runs the README's ${entry} example in another project, printing what the README shows`, async () => {
      const { code, output } = readmeExample(name);
      expect(code).toContain(`from '${entry}'`);
      const dir = consumerProject(code);
      await run(TSC, ['-p', dir]);
      const { stdout } = await run(process.execPath, [join(dir, 'out/example.js')], { cwd: dir });
      expect(stdout).toBe(output);
    });
  }

  it('keeps the modules behind the entry private', async () => {
    const dir = consumerProject("export * from 'flowcut/dist/rcf/tree.js';\n");
    const tsc = await run(TSC, ['-p', dir]).then(() => '', (e: { stdout: string }) => e.stdout);
    expect(tsc).toMatch(/Cannot find module 'flowcut\/dist\/rcf\/tree\.js'/);
    writeFileSync(join(dir, 'deep.mjs'), "import 'flowcut/dist/rcf/tree.js';\n");
    const node = await run(process.execPath, [join(dir, 'deep.mjs')]).then(() => '', (e: { stderr: string }) => e.stderr);
    expect(node).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });
});
