import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { RollgateError } from '../../../src/errors.js';
import { embeddedMasterKey } from '../../../src/security/master-key.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-key-'));
  dirs.push(dir);
  return path.join(dir, 'data');
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('embeddedMasterKey', () => {
  it('makes a random key on first use, private to its owner, and returns the same one afterwards', () => {
    const dir = freshDir();
    const key = embeddedMasterKey(dir, logger);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path.join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
    expect(embeddedMasterKey(dir, logger)).toBe(key);
    // No draft left behind by the atomic create.
    expect(readdirSync(dir)).toEqual(['master.key']);
  });

  it('gives every install its own key', () => {
    const keys = new Set(Array.from({ length: 5 }, () => embeddedMasterKey(freshDir(), logger)));
    expect(keys.size).toBe(5);
  });

  it('keeps a key the operator put there', () => {
    const dir = freshDir();
    embeddedMasterKey(dir, logger);
    writeFileSync(path.join(dir, 'master.key'), 'an-operator-chosen-key-0123456789\n', { mode: 0o600 });
    expect(embeddedMasterKey(dir, logger)).toBe('an-operator-chosen-key-0123456789');
    expect(readFileSync(path.join(dir, 'master.key'), 'utf8')).toBe('an-operator-chosen-key-0123456789\n');
  });

  it('refuses a key file other users can read, and one too short to be a key', () => {
    const dir = freshDir();
    embeddedMasterKey(dir, logger);
    const file = path.join(dir, 'master.key');
    chmodSync(file, 0o644);
    expect(() => embeddedMasterKey(dir, logger)).toThrow(/chmod 600/);
    chmodSync(file, 0o600);
    writeFileSync(file, 'short\n');
    const err = (() => {
      try {
        embeddedMasterKey(dir, logger);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RollgateError);
    expect((err as RollgateError).code).toBe('INVALID_CONFIG');
  });
});
