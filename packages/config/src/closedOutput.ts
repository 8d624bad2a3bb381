/**
 * `relay --help | head -1`, or a launcher that went away: the reader of our stdout closed it. Node ignores SIGPIPE,
 * so the next write fails with EPIPE, which crashes the process with a stack trace unless someone listens. A command
 * must not die half-way through its work for that (a relay mid-trip, a daemon serving): what it would have printed is
 * dropped and it carries on. Any other output error still crashes it.
 */
export function dropOutputWhenReaderCloses(stream: NodeJS.WritableStream = process.stdout): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
