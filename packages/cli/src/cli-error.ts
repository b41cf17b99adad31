/**
 * An error the CLI reports as one line and a non-zero exit code, without a
 * stack trace: bad arguments, a malformed torrent, a failed download.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    /** 2 for usage errors (as getopt tools do), 1 for everything else. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}
