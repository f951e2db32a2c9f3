/** A subcommand of the `sockjet` CLI. `run` resolves with the exit status; a UsageError means status 2. */
export interface Command {
  readonly name: string;
  /** One line for `sockjet --help`. */
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}
