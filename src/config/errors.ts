// The one error type configuration loading throws: the CLI turns it into a single line on
// stderr and exit code 2, so its message must stand on its own (no stack trace is shown).

export class ConfigError extends Error {
  /** One entry per bad key (or unreadable source), each naming the key and why it was rejected. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
