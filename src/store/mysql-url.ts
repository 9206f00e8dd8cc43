import { RollgateError } from '../errors.js';

export interface MySqlEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The URL's database, `rollgate` when it names none. */
  database: string;
}

/** `mysql://user:pass@host:3306/db` as connection settings. The password never leaves this object: log `redactUrl(url)` instead. */
export function mysqlEndpoint(url: string): MySqlEndpoint {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'rollgate';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new RollgateError('INVALID_CONFIG', 'the MySQL database name must be a plain identifier');
  return {
    host: u.hostname,
    port: u.port === '' ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
  };
}
