import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { AppCodeHasher } from '../../src/auth/appcode.js';
import { AppService } from '../../src/auth/apps.js';
import { CatalogStore } from '../../src/dataservice/catalog/catalog-store.js';
import { MySqlClient } from '../../src/dataservice/catalog/sql-client.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { uniqueName } from '../helpers/events.js';
import { silentLogger } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';

/**
 * Gateways that start together on a fresh MySQL catalog each create the
 * bootstrap app: whichever inserts second must update instead of failing
 * its start-up on the duplicate key.
 */
const stack = stackEnv();
const database = uniqueName('rollgate_boot');
const url = `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`;
const KEY = 'bootstrap-race-master-key-0123456789';
const clients: MySqlClient[] = [];
const services: AppService[] = [];

afterAll(async () => {
  for (const s of services) s.stop();
  for (const c of clients) await c.close();
  const conn = await mysql.createConnection(stack.MYSQL_URL);
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await conn.end();
});

async function gatewayApps(): Promise<AppService> {
  const client = await MySqlClient.open(url);
  clients.push(client);
  const catalog = new CatalogStore(client);
  await catalog.init();
  const apps = new AppService(catalog, new SecretBox(KEY), new AppCodeHasher(KEY), silentLogger);
  await apps.start();
  services.push(apps);
  return apps;
}

describe('the bootstrap app', () => {
  it('is created once when several gateways start at the same moment, with the grants of all of them', async () => {
    const instances = await Promise.all(Array.from({ length: 4 }, () => gatewayApps()));
    const credentials = { appKey: 'race-app', appSecret: 'race-app-secret-0123456789', appCode: 'race-app-code-0123456789' };
    await Promise.all(instances.map((apps, i) => apps.bootstrap(credentials, [`api:one_${i}`])));
    const view = await instances[0]!.get('race-app');
    expect(view.status).toBe('enabled');
    for (const apps of instances) expect(apps.findByCode(credentials.appCode)?.record.appKey).toBe('race-app');
    expect(view.grants.length).toBeGreaterThanOrEqual(1);
  });
});
