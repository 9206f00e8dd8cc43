import { hkdfSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, TEST_APP, TEST_APP_ENV } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';

/**
 * No secret is a constant in the code: an attacker who reads the source cannot mint tokens. The key every
 * earlier release fell back to is the first thing an attacker tries.
 */
const OLD_CONSTANT_KEY = 'rollgate-development-master-key-not-secret';

function forge(masterKey: string, audience: 'rollgate-admin' | 'rollgate-api', claims: Record<string, unknown>): string {
  const secret = Buffer.from(hkdfSync('sha256', Buffer.from(masterKey, 'utf8'), Buffer.alloc(0), 'rollgate jwt hs256 v1', 32)).toString('base64url');
  return jwt.sign(claims, secret, { algorithm: 'HS256', keyid: 'mk1', expiresIn: 600, issuer: 'rollgate', audience, subject: audience === 'rollgate-admin' ? 'admin' : TEST_APP.appKey });
}

const running: RollgateProcess[] = [];
const dataDir = mkdtempSync(path.join(tmpdir(), 'rollgate-data-'));
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(dataDir, { recursive: true, force: true });
});

async function serveEmbedded(): Promise<{ proc: RollgateProcess; base: string }> {
  const proc = startRollgate(['serve'], { ROLLGATE_MASTER_KEY: '', ROLLGATE_DATA_DIR: dataDir, ROLLGATE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...TEST_APP_ENV });
  running.push(proc);
  return { proc, base: await proc.url() };
}

describe('the master key', () => {
  it('refuses serve, aggregate, flows and cdc against real services without one, saying how to make one', async () => {
    const stack = stackEnv();
    for (const args of [['serve'], ['aggregate', 'cpu-mem-5min'], ['flows'], ['cdc']]) {
      for (const nodeEnv of ['development', 'test']) {
        const proc = startRollgate(args, { ...stack, NODE_ENV: nodeEnv, ROLLGATE_MASTER_KEY: '', METRICS_PORT: '0' });
        running.push(proc);
        const code = await proc.exit();
        expect(code, `${args.join(' ')}: ${proc.output()}`).not.toBe(0);
        expect(proc.output(), args.join(' ')).toMatch(/ROLLGATE_MASTER_KEY must be set .*openssl rand -base64 32/);
      }
    }
  });

  it('is made at random for an embedded install, kept private in its data directory, and survives a restart', async () => {
    const first = await serveEmbedded();
    const keyFile = path.join(dataDir, 'master.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const adminToken = (await (
      await fetch(`${first.base}/admin/token`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    ).json()) as { data: { token: string } };
    const appToken = (await (
      await fetch(`${first.base}/auth/token`, { method: 'POST', headers: { authorization: `APPCODE ${TEST_APP.appCode}` } })
    ).json()) as { data: { token: string } };

    // Forged with the key of earlier releases, or with anything but this install's key: refused.
    for (const key of [OLD_CONSTANT_KEY, 'a-guess-at-the-master-key-0123456789']) {
      const admin = await fetch(`${first.base}/admin/apis`, { headers: { authorization: `Bearer ${forge(key, 'rollgate-admin', { role: 'admin' })}` } });
      expect(admin.status).toBe(401);
      const api = await fetch(`${first.base}/api/cpu-mem-5min?pageSize=1`, {
        headers: { authorization: `Bearer ${forge(key, 'rollgate-api', { appKey: TEST_APP.appKey, grants: ['api:cpu-mem-5min'] })}` },
      });
      expect(api.status).toBe(401);
      expect(((await api.json()) as { errCode: number }).errCode).not.toBe(0);
    }

    await first.proc.stop();
    const second = await serveEmbedded();
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    // Tokens issued before the restart still verify: the key was kept, not made again.
    expect((await fetch(`${second.base}/admin/apis`, { headers: { authorization: `Bearer ${adminToken.data.token}` } })).status).toBe(200);
    expect((await fetch(`${second.base}/api/cpu-mem-5min?pageSize=1`, { headers: { authorization: `Bearer ${appToken.data.token}` } })).status).toBe(200);
  });
});
