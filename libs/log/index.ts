import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths whose values never reach a log line, wherever they appear in the first two
 * levels of a logged object (headers, bodies, configs, errors).
 */
export const redactedPaths = [
  'password', 'secret', 'apiKey', 'token', 'authorization', 'signature', 'credentials',
  '*.password', '*.secret', '*.apiKey', '*.token', '*.authorization', '*.signature', '*.credentials',
  '*.*.password', '*.*.secret', '*.*.apiKey', '*.*.token', '*.*.authorization', '*.*.signature',
  'headers["webhook-signature"]', '*.headers["webhook-signature"]', 'headers.cookie', '*.headers.cookie',
  'mongodbUri', 'config.mongodbUri',
];

export function createLogger(options: { service: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}
