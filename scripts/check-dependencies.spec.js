// The dependency check on small workspaces made here: it passes a correct one and names each kind of mistake.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SCRIPT = path.join(__dirname, 'check-dependencies.js');
let root;

function write(relative, content) {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
}

function check() {
  const result = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'check-dependencies-'));
  write('package.json', {
    name: 'root',
    scripts: { build: 'tsc -b', test: 'jest', each: 'lerna run test' },
    devDependencies: { jest: '1', typescript: '1', lerna: '1' },
  });
  write('packages/lib/package.json', {
    name: '@x/lib',
    dependencies: { ws: '1' },
    devDependencies: { 'fast-check': '1' },
  });
  write(
    'packages/lib/src/index.ts',
    "import { WebSocket } from 'ws';\nimport { join } from 'node:path';\nexport { WebSocket, join };\n",
  );
  write('packages/lib/src/index.spec.ts', "import fc from 'fast-check';\nimport { WebSocket } from './index';\n");
  write('packages/app/package.json', { name: '@x/app', dependencies: { '@x/lib': '1' } });
  write('packages/app/src/main.ts', "export * from '@x/lib';\n");
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test('passes a workspace whose packages declare what they import', () => {
  expect(check()).toEqual({ status: 0, output: expect.stringContaining('every import is declared') });
});

test('names packages that tests import undeclared, a sibling workspace package included', () => {
  write('packages/app/test/main.spec.ts', "import fc from 'fast-check';\n");
  write('packages/lib/test/app.spec.ts', "import { WebSocket } from '@x/app';\n");
  const { status, output } = check();
  expect(status).toBe(1);
  expect(output).toContain(
    'packages/app/test/main.spec.ts imports fast-check, which packages/app/package.json does not declare',
  );
  expect(output).toContain(
    'packages/lib/test/app.spec.ts imports @x/app, which packages/lib/package.json does not declare',
  );
});

test('names a run-time import declared only as a devDependency', () => {
  write('packages/lib/src/fuzz.ts', "export { default } from 'fast-check';\n");
  const { status, output } = check();
  expect(status).toBe(1);
  expect(output).toContain('packages/lib/src/fuzz.ts imports fast-check at run time, which is only a devDependency');
});

test('names a declared dependency that only tests use, and one that nothing uses', () => {
  write('packages/app/package.json', { name: '@x/app', dependencies: { '@x/lib': '1', commander: '1', ws: '1' } });
  write('packages/app/test/ws.spec.ts', "import 'ws';\n");
  const { status, output } = check();
  expect(status).toBe(1);
  expect(output).toContain('declares ws in dependencies, but only its tests use it: a devDependency');
  expect(output).toContain('declares commander in dependencies, but nothing imports it');
});

test("names a relative import into another package's folder, and a package the root should not hold", () => {
  write('packages/app/src/reach.ts', "export * from '../../lib/src/index';\n");
  write('package.json', {
    name: 'root',
    scripts: { build: 'tsc -b', test: 'jest lerna' },
    devDependencies: { jest: '1', typescript: '1', lerna: '1', 'fast-check': '1' },
  });
  const { status, output } = check();
  expect(status).toBe(1);
  expect(output).toContain('packages/app/src/reach.ts reaches into packages/lib/src/index by a relative path');
  expect(output).toContain('package.json declares fast-check (devDependencies): the root holds only the tools');
});

test("counts what the package's tsconfig excludes from its build as test code, and only that", () => {
  write('packages/lib/tsconfig.json', { include: ['src'], exclude: ['src/**/*.spec.ts', 'src/testUtils/**'] });
  write('packages/lib/src/testUtils/fixtures.ts', "import fc from 'fast-check';\nexport const any = fc.anything;\n");
  expect(check()).toEqual({ status: 0, output: expect.stringContaining('every import is declared') });
  write('packages/lib/src/helpers.ts', "import fc from 'fast-check';\nexport const any = fc.anything;\n");
  const { status, output } = check();
  expect(status).toBe(1);
  expect(output).toContain('packages/lib/src/helpers.ts imports fast-check at run time');
});
