/** A CLI usage problem: printed as is, exit 1. */
export class CliError extends Error {}
