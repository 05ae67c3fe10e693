import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pinoPretty from 'pino-pretty';

export type Logger = PinoLogger;

/**
 * Lines for a person at a terminal (`LOG_FORMAT=pretty`): the same records, written synchronously
 * by pino-pretty in this thread (no worker), coloured on a terminal.
 */
export function prettyDestination(destination?: DestinationStream): DestinationStream {
  return pinoPretty({ sync: true, colorize: destination === undefined && process.stdout.isTTY, ...(destination ? { destination } : {}) });
}

/**
 * Structured JSON lines on stdout. The redact list is a second net: code never hands tokens,
 * codes, secrets or cookie values to the logger in the first place.
 */
export function createLogger(level = 'info', destination?: DestinationStream, instance?: string): Logger {
  return pino(
    {
      level,
      base: { service: 'portero', ...(instance ? { instance } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.authorization', '*.cookie', '*.token', '*.code', '*.client_secret', '*.password'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
