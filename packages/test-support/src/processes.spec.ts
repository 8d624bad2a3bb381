import { Daemon, runProcess } from './processes';

const node = process.execPath;

describe('runProcess', () => {
  test('collects the exit code and both outputs, and feeds stdin', async () => {
    const script = `let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => {
      process.stdout.write('out:' + s); process.stderr.write('err'); process.exit(3); });`;
    await expect(runProcess(node, ['-e', script], { input: 'hello' })).resolves.toEqual({
      status: 3,
      signal: null,
      stdout: 'out:hello',
      stderr: 'err',
      killed: false,
    });
  });

  test('killAfterMs ends a process that would not end', async () => {
    const result = await runProcess(node, ['-e', 'setInterval(() => {}, 1000)'], { killAfterMs: 100 });
    expect(result).toMatchObject({ status: null, signal: 'SIGKILL', killed: true });
  });

  test('stdoutAsBuffer gives its stdout byte for byte (not decoded as UTF-8)', async () => {
    const bytes = Buffer.from([0, 1, 0xc3, 0x28, 0xff, 0xfe, 10]);
    const script = `process.stdout.write(Buffer.from('${bytes.toString('base64')}', 'base64')); process.stderr.write('err')`;
    const result = await runProcess(node, ['-e', script], { stdoutAsBuffer: true });
    expect(Buffer.isBuffer(result.stdout)).toBe(true);
    expect(result.stdout.equals(bytes)).toBe(true);
    expect(result).toMatchObject({ status: 0, stderr: 'err' });
  });

  test('a process that exits without reading its input ends the run normally (a broken pipe is ignored)', async () => {
    // Far more than a pipe holds: writing it fails once the process is gone.
    const input = Buffer.alloc(16 * 1024 * 1024, 'x');
    await expect(runProcess(node, ['-e', 'process.exit(4)'], { input })).resolves.toMatchObject({ status: 4 });
  });

  test('a command that cannot start rejects', async () => {
    await expect(runProcess('/nonexistent/command', [])).rejects.toThrow(/ENOENT/);
  });
});

describe('Daemon', () => {
  /**
   * Prints its ready line (after a log line), then runs until a signal; `ignoreTerm` makes SIGTERM do nothing. The
   * handler goes in before the ready line, as in a real daemon: a stop may follow the ready line at once.
   */
  const daemonScript = (ignoreTerm = false) => `
    process.on('SIGTERM', () => { ${ignoreTerm ? '' : 'console.error("stopping"); process.exit(0);'} });
    console.error(JSON.stringify({ msg: 'starting', pid: process.pid }));
    console.log('toy: ready');
    setInterval(() => {}, 1000);`;

  test('start resolves once the ready line is out; stop waits for the exit; a restart waits for a new ready line', async () => {
    const lines: string[] = [];
    let starts = 0;
    const daemon = new Daemon(node, {
      name: 'toy',
      args: () => (++starts === 1 ? ['-e', daemonScript()] : ['-e', `setTimeout(() => {}, 500); ${daemonScript()}`]),
      onStderrLine: (line) => lines.push(line),
    });
    await daemon.start();
    expect(daemon.running).toBe(true);
    expect(daemon.stdout).toBe('toy: ready\n');
    const pid = daemon.pid!;
    expect(daemon.logs()).toEqual([{ msg: 'starting', pid }]);

    await daemon.stop();
    expect(daemon.running).toBe(false);
    expect(daemon.exit).toEqual({ code: 0, signal: null });
    expect(() => process.kill(pid, 0)).toThrow(); // gone
    expect(lines).toEqual([JSON.stringify({ msg: 'starting', pid }), 'stopping']);

    await daemon.start();
    expect(daemon.stdout).toBe('toy: ready\ntoy: ready\n');
    expect(daemon.pid).not.toBe(pid);
    await daemon.stop('SIGKILL');
  });

  test('a daemon that exits before it is ready fails its start, with its stderr', async () => {
    const daemon = new Daemon(node, { name: 'toy', args: ['-e', 'console.error("no key file"); process.exit(2)'] });
    await expect(daemon.start()).rejects.toThrow(/toy exited at start:\nno key file/);
    expect(daemon.running).toBe(false);
  });

  test('stop with killAfterMs kills what ignores the signal', async () => {
    const daemon = new Daemon(node, { name: 'toy', args: ['-e', daemonScript(true)] });
    await daemon.start();
    await daemon.stop('SIGTERM', 200);
    expect(daemon.running).toBe(false);
    expect(daemon.exit).toEqual({ code: null, signal: 'SIGKILL' });
  });

  test('stderrTailChars keeps the tail of stderr only', async () => {
    const daemon = new Daemon(node, {
      name: 'toy',
      args: ['-e', `console.error('x'.repeat(1000) + 'END'); ${daemonScript()}`],
      stderrTailChars: 100,
    });
    await daemon.start();
    await daemon.stop();
    expect(daemon.stderr.length).toBeLessThanOrEqual(100);
    expect(daemon.describe()).toMatch(/^toy \(stderr tail\):\n/);
  });
});
