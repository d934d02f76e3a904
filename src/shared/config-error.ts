// A configuration the process cannot run with: the server and the CLI print it as one
// line naming the variable (no stack) and exit 2. Raised by src/main/config.ts while
// reading the environment, and by storage when the configured database cannot be used.
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}
