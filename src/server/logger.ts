import { pino, type Logger } from "pino";

/**
 * The service logger. Authorization headers, cookies and token fields are
 * redacted wherever they appear, as a second line of defence: code never
 * logs them on purpose.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        "*.authorization",
        "*.cookie",
        "*.token",
        "*.tokens",
        "*.apiKey",
        "*.password",
        "req.headers.authorization",
        "req.headers.cookie",
      ],
      censor: "[redacted]",
    },
  });
}
