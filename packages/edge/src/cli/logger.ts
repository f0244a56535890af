import { type Logger, pino } from 'pino';

/** The node's JSON logger (pino) on stdout. Field names reuse the request context's words. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
