/**
 * The .proto files are loaded at run time from the repository's proto/ directory. This proves the
 * lookup works from compiled JavaScript in dist/ (not only from src/ under jest), whatever the cwd.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const packageDir = path.resolve(__dirname, '..');

test('compiled dist/proto.js finds and loads proto/powebsocket*.proto', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      'src/proto.ts',
      '--outDir',
      'dist',
      '--rootDir',
      'src',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'ES2022',
      '--esModuleInterop',
      '--skipLibCheck',
      '--types',
      'node',
    ],
    { cwd: packageDir, stdio: 'pipe' },
  );
  const script = `
    const proto = require(${JSON.stringify(path.join(packageDir, 'dist', 'proto.js'))});
    const op = proto.decodeOperation(proto.encodeParcelCollectionRequest(true));
    process.stdout.write(JSON.stringify({ dir: proto.findProtoDirectory(), op }));
  `;
  const output = execFileSync(process.execPath, ['-e', script], { cwd: os.tmpdir() }).toString();
  expect(JSON.parse(output)).toEqual({
    dir: path.resolve(packageDir, '../../proto'),
    op: { tag: 2, message: { keepAlive: true } },
  });
}, 60_000);
