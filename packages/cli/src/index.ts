export { main } from './main.js';
export { CliError, UsageError } from './cli-error.js';
