/**
 * What the three daemons (the two gateways and the Twitter API adapter) share in `--help`: their logs and their
 * exit statuses, which the launcher and scripts rely on.
 */
export const DAEMON_EXIT = {
  /** Stopped by SIGINT/SIGTERM after a clean shutdown, or --help. */
  OK: 0,
  /** Could not start (a port or socket in use, an unreadable file) or the shutdown failed. */
  FAILURE: 1,
  /** Usage or configuration error: bad flag, bad variable (the message names it). */
  USAGE: 2,
} as const;

export const DAEMON_HELP_FOOTER = `Logs: on stderr, human lines on a terminal and JSON lines otherwise (files, pipes, npm start);
RELAYNET_LOG_FORMAT=human or json chooses. SIGINT/SIGTERM: clean shutdown.

Exit status:
  ${DAEMON_EXIT.OK}    stopped by SIGINT or SIGTERM (clean shutdown), or --help
  ${DAEMON_EXIT.FAILURE}    could not start (e.g. its port or socket is in use), or the shutdown failed
  ${DAEMON_EXIT.USAGE}    usage or configuration error (the message names the flag or variable)
  130  SIGINT before it was ready, or a second one during the shutdown (143 for SIGTERM)
`;
