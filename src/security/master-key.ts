import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { RollgateError } from '../errors.js';

const KEY_FILE = 'master.key';

/**
 * The master key of an embedded install (nothing configured): made at random on the first start and kept in
 * `<dataDir>/master.key` (mode 0600), so restarts keep their tokens and sealed secrets and no two installs share
 * a key. Config refuses to run against real services without ROLLGATE_MASTER_KEY, so this is never their key.
 */
export function embeddedMasterKey(dataDir: string, logger: Logger): string {
  const file = path.resolve(dataDir, KEY_FILE);
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (createOnce(file)) logger.info({ file }, 'generated a master key for this install (set ROLLGATE_MASTER_KEY to use your own)');
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new RollgateError('INVALID_CONFIG', `invalid configuration: ${file} is readable by other users (mode ${mode.toString(8)}): run chmod 600 ${file}`);
    }
    const key = readFileSync(file, 'utf8').trim();
    if (key.length < 16) throw new RollgateError('INVALID_CONFIG', `invalid configuration: ${file} holds no usable key (16+ characters): delete it to make a new one`);
    return key;
  } catch (err) {
    if (err instanceof RollgateError) throw err;
    throw new RollgateError('INVALID_CONFIG', `invalid configuration: cannot keep the master key in ${file} (set ROLLGATE_DATA_DIR or ROLLGATE_MASTER_KEY)`, { cause: err });
  }
}

/**
 * Several processes may start on one data directory at once: the key is written whole to a private file and
 * hard-linked into place, which fails atomically when another process got there first, so no one reads half a key.
 */
function createOnce(file: string): boolean {
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(draft);
  }
}
