import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Anything that could carry a credential is censored before it is written. */
const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.appSecret',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-ca-signature"]',
  'req.headers.cookie',
];

export function createLogger(config: Pick<Config, 'log'>): Logger {
  return pino({
    level: config.log.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } } : {}),
  });
}
