import { randomBytes } from 'node:crypto';
import { Argument, Command, InvalidArgumentError } from 'commander';
import { aggregatorNames, findRollup, rollups } from '../../aggregators/index.js';
import { regionOrders } from '../../aggregators/region-orders.js';
import { RegionOrdersRunner } from '../aggregation/region-orders-runner.js';
import { RegionOrdersStore } from '../store/region-orders-store.js';
import { ClickHouseDetailSink } from '../store/order-detail-clickhouse.js';
import { DuckDbRegionOrdersStore } from '../store/duckdb-region-orders-store.js';
import { ChangeEventOrderSink } from '../demo/order-change-events.js';
import { OrdersGenerator } from '../demo/orders-generator.js';
import { seededRandom } from '../demo/metrics-producer.js';
import { AggregatorRunner } from '../aggregation/runner.js';
import { loadConfigFromProcess, type Config } from '../config.js';
import { DemoMetricsProducer } from '../demo/metrics-producer.js';
import { RollgateError } from '../errors.js';
import type { Server } from 'node:http';
import { createOpsServer } from '../http/ops-server.js';
import { progressBar } from './progress.js';
import { createGateway } from '../http/server.js';
import { createLogger, type Logger } from '../logger.js';
import { Runtime } from '../runtime.js';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { createHash } from 'node:crypto';
import { redactUrl } from '../config.js';
import { startOrdersGenerator } from '../demo/orders-source.js';
import { BinlogStream } from '../ingest/cdc/binlog-stream.js';
import { CdcRunner } from '../ingest/cdc/cdc-runner.js';
import { KafkaChangeLog } from '../ingest/cdc/kafka-change-log.js';
import { MySqlCdcSource } from '../ingest/cdc/mysql-cdc-source.js';
import { mysqlEndpoint } from '../store/mysql-url.js';
import { RawEventsSink } from '../ingest/monitor/raw-events-sink.js';
import { ClickHouseWebEvents } from '../store/web-events-table.js';
import { FlowWorker } from '../flows/flow-worker.js';
import { publishFlowApi } from '../flows/publish-api.js';

const program = new Command()
  .name('rollgate')
  .description('Streaming rollups from Kafka, served over REST and GraphQL')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the HTTP gateway (REST /api, GraphQL /graphql, /healthz, /readyz)')
  .action(() => run(async (rt) => [await startGateway(rt)]));

program
  .command('aggregate')
  .description('run one rollup aggregator')
  .addArgument(new Argument('<name>', 'rollup name').choices(aggregatorNames))
  .action((name: string) =>
    run(async (rt) => {
      const stopAggregator = await startAggregator(rt, name);
      const ops = await createOpsServer({ logger: rt.logger, metrics: rt.metrics, checks: rt.checks });
      await ops.listen({ host: rt.config.http.host, port: rt.config.aggregator.metricsPort });
      process.stdout.write(`rollgate aggregate ${name}: health and metrics on ${baseUrl(rt, ops.server.address())}/metrics\n`);
      return [stopAggregator, () => ops.close()];
    }),
  );

program
  .command('flows')
  .description('run the DataFlow worker: runs every started flow (/dataflow), following the flow store without restarts; run several for failover')
  .action(() =>
    run(async (rt) => {
      const stopFlows = await startFlowWorker(rt);
      const ops = await createOpsServer({ logger: rt.logger, metrics: rt.metrics, checks: rt.checks });
      await ops.listen({ host: rt.config.http.host, port: rt.config.aggregator.metricsPort });
      process.stdout.write(`rollgate flows: health and metrics on ${baseUrl(rt, ops.server.address())}/metrics\n`);
      return [stopFlows, () => ops.close()];
    }),
  );

program
  .command('demo')
  .description('all in one process: demo metrics producer, every aggregator and the gateway (embedded services unless configured)')
  .option('--series <n>', 'number of (ip, pid) series', positiveInt, 50)
  .option('--backfill-hours <h>', 'history to backfill before streaming live', positiveNumber, 2)
  .option('--interval-seconds <s>', 'seconds between samples of a series', positiveNumber, 5)
  .option('--order-rate <n>', 'embedded only: generated orders per second for region-orders', positiveNumber, 2)
  .action((opts: { series: number; backfillHours: number; intervalSeconds: number; orderRate: number }) =>
    run(async (rt) => {
      // The demo is for trying things: give it an admin token for this run when none is configured.
      const demoToken = rt.config.admin.token === undefined ? randomBytes(18).toString('base64url') : undefined;
      rt.config.admin.token ??= demoToken;
      // And an app to call the APIs with, granted every built-in API, unless ROLLGATE_BOOTSTRAP_APP_* name one.
      const demoApp =
        rt.config.auth.bootstrapApp === undefined
          ? { appKey: `demo-${randomBytes(6).toString('hex')}`, appSecret: randomBytes(24).toString('base64url'), appCode: randomBytes(24).toString('base64url') }
          : undefined;
      rt.config.auth.bootstrapApp ??= demoApp;
      // The dashboard at / opens without sign-in, with that app's tokens, unless DASHBOARD_APP_KEY names another.
      rt.config.dashboard.appKey ??= rt.config.auth.bootstrapApp?.appKey;
      const stoppers: Stopper[] = [];
      for (const spec of rollups) stoppers.push(await startAggregator(rt, spec.name));
      stoppers.push(await startFlowWorker(rt));
      // Seed 002's orders: with MYSQL_URL, region-orders reads what `rollgate cdc` captures; embedded, the
      // generator writes CDC-shaped change events straight into the log and region-orders keeps its state in DuckDB.
      if (rt.config.mysql !== undefined) stoppers.push(await startAggregator(rt, regionOrders.name));
      else stoppers.push(await startEmbeddedOrders(rt, opts.orderRate));
      const log = rt.getLog();
      const topic = rt.config.topicPrefix + cpuMem5min.source.topic;
      await log.ensureTopic(topic, 3);
      const producer = await log.producer();
      const demo = new DemoMetricsProducer(
        producer,
        {
          topic,
          series: opts.series,
          backfillMs: opts.backfillHours * 3600_000,
          intervalMs: opts.intervalSeconds * 1000,
          seed: 42,
        },
        rt.logger.child({ component: 'demo' }),
      );
      // The gateway listens first so its URLs print while the backfill is still on its way.
      const gateway = await startGateway(rt, { ...(demoToken === undefined ? {} : { demoToken }), ...(demoApp === undefined ? {} : { demoApp }) });
      const backfill = progressBar('demo backfill', demo.backfillEvents(), 'events');
      await demo.start(Date.now(), (sent) => backfill.update(sent));
      backfill.stop();
      return [
        async () => {
          await demo.stop();
          await producer.close();
        },
        ...stoppers,
        gateway,
      ];
    }),
  );

program
  .command('cdc')
  .description('capture row changes of MySQL/MariaDB tables from the binlog into Kafka topics <TOPIC_PREFIX><table> as Debezium change events (needs MYSQL_URL and KAFKA_BROKERS)')
  .option('--tables <list>', 'comma-separated tables of the MYSQL_URL database', tableList, ['customers', 'orders'])
  .option('--name <name>', 'logical source name: the key of the stored offset and source.name (default: the database name)')
  .option('--server-id <id>', 'server id to read the binlog with, unique among the server\'s replicas (default: derived from the name)', positiveInt)
  .option('--partitions <n>', 'partitions of the change topics it creates', positiveInt, 1)
  .action((opts: { tables: string[]; name?: string; serverId?: number; partitions: number }) =>
    run(async (rt) => {
      const stopCdc = await startCdc(rt, opts);
      const ops = await createOpsServer({ logger: rt.logger, metrics: rt.metrics, checks: rt.checks });
      await ops.listen({ host: rt.config.http.host, port: rt.config.aggregator.metricsPort });
      process.stdout.write(`rollgate cdc: health and metrics on ${baseUrl(rt, ops.server.address())}/metrics\n`);
      return [stopCdc, () => ops.close()];
    }),
  );

program
  .command('monitor-sink')
  .description('copy the browser monitor topic <TOPIC_PREFIX>web_events into the day-partitioned ClickHouse table web_events (needs CLICKHOUSE_URL)')
  .action(() =>
    run(async (rt) => {
      const clickhouse = rt.config.clickhouse;
      if (clickhouse === undefined) throw new RollgateError('INVALID_CONFIG', 'rollgate monitor-sink needs CLICKHOUSE_URL');
      const sink = new RawEventsSink({
        log: rt.getLog(),
        writer: new ClickHouseWebEvents(clickhouse),
        topicPrefix: rt.config.topicPrefix,
        logger: rt.logger.child({ component: 'monitor-sink' }),
      });
      await sink.start();
      process.stdout.write(`rollgate monitor-sink: ${sink.topic} -> ${clickhouse.database}.web_events\n`);
      return [() => sink.stop()];
    }),
  );

program
  .command('orders-generator')
  .description('demo: create the orders/customers source tables (seed 002) in the MYSQL_URL database and insert random orders')
  .option('--rate <n>', 'orders per second', positiveNumber, 1)
  .option('--count <n>', 'stop after this many orders', positiveInt)
  .option('--seed <n>', 'random seed, for reproducible orders', Number, Date.now() % 2 ** 31)
  .action((opts: { rate: number; count?: number; seed: number }) =>
    run(async (rt) => {
      const mysqlUrl = rt.config.mysql?.url;
      if (mysqlUrl === undefined) throw new RollgateError('INVALID_CONFIG', 'rollgate orders-generator needs MYSQL_URL');
      const running = await startOrdersGenerator({
        mysqlUrl,
        ratePerSecond: opts.rate,
        seed: opts.seed,
        ...(opts.count === undefined ? {} : { maxOrders: opts.count }),
        logger: rt.logger.child({ component: 'orders-generator' }),
      });
      process.stdout.write(`rollgate orders-generator: ${opts.rate} orders/s into ${redactUrl(mysqlUrl)} (seed ${opts.seed})\n`);
      // With --count, a bar towards it; without, a line every ten seconds.
      const bar = opts.count === undefined ? undefined : progressBar('orders', opts.count, 'orders');
      const progress = setInterval(
        () => (bar === undefined ? process.stdout.write(`  ${running.generator.inserted} orders inserted\n`) : bar.update(running.generator.inserted)),
        bar === undefined ? 10_000 : 250,
      );
      void running.generator.done.then(() => {
        clearInterval(progress);
        bar?.update(running.generator.inserted);
        bar?.stop();
        if (opts.count !== undefined && running.generator.inserted >= opts.count) {
          process.stdout.write(`  ${running.generator.inserted} orders inserted; done\n`);
          process.kill(process.pid, 'SIGTERM');
        }
      });
      return [
        async () => {
          clearInterval(progress);
          bar?.stop();
          await running.stop();
        },
      ];
    }),
  );

type Stopper = () => Promise<void>;

/** `demoToken`, `demoApp`: an admin token and an app made up for this run, printed so the user can try them. */
async function startGateway(
  rt: Runtime,
  options: { demoToken?: string; demoApp?: { appKey: string; appSecret: string; appCode: string } } = {},
): Promise<Stopper> {
  for (const spec of rollups) {
    // The gateway only reads; it starts even when a store is down, and /readyz says so.
    const store = await rt.storeFor(spec);
    await store.ensureTable(spec).catch((err: unknown) => rt.logger.warn({ err, rollup: spec.name }, 'could not ensure rollup table'));
  }
  await rt.ensureRegionOrderTables().catch((err: unknown) => rt.logger.warn({ err, rollup: regionOrders.name }, 'could not ensure the region-orders tables'));
  const app = await createGateway({
    config: rt.config,
    logger: rt.logger,
    checks: rt.checks,
    metrics: rt.metrics,
    dataService: await rt.getDataService(),
    redis: await rt.getAuthRedis(),
    monitor: rt.getMonitorCollector(),
    live: rt.getLiveUpdates(),
  });
  await app.listen({ host: rt.config.http.host, port: rt.config.http.port });
  const base = baseUrl(rt, app.server.address());
  process.stdout.write(
    [
      '',
      `rollgate is listening on ${base}`,
      `  dashboard ${base}/${rt.config.dashboard.appKey === undefined ? '  (sign in with an AppCode; DASHBOARD_APP_KEY opens it)' : ''}`,
      ...rollups.map((r) => `  REST     ${base}/api/${r.name}?pageSize=20`),
      `  REST     ${base}/api/region-order-totals   ${base}/api/region-order-trend`,
      ...(options.demoApp === undefined
        ? rt.config.auth.bootstrapApp === undefined
          ? []
          : [`  app      ${rt.config.auth.bootstrapApp.appKey} (from ROLLGATE_BOOTSTRAP_APP_*)`]
        : [
            `  app      appKey ${options.demoApp.appKey}  appSecret ${options.demoApp.appSecret}`,
            `           Authorization: APPCODE ${options.demoApp.appCode}`,
          ]),
      `  GraphQL  ${base}/graphql   subscriptions: ${base.replace(/^http/, 'ws')}/graphql (graphql-ws)`,
      `  monitor  ${base}/monitor/upload (GET or POST; browser snippet: sdk/dist/monitor.js)`,
      `  OpenAPI  ${base}/openapi.json`,
      rt.config.admin.token === undefined
        ? '  admin    disabled (set ROLLGATE_ADMIN_TOKEN to manage data sources and APIs at /admin)'
        : `  admin    ${base}/admin/apis (Authorization: Bearer ${options.demoToken ?? '$ROLLGATE_ADMIN_TOKEN'})`,
      `  health   ${base}/healthz   ready: ${base}/readyz   metrics: ${base}/metrics`,
      ...Object.entries(rt.describe()).map(([k, v]) => `  ${k.padEnd(8)} ${v}`),
      '',
    ].join('\n') + '\n',
  );
  return () => app.close();
}

async function startAggregator(rt: Runtime, name: string): Promise<Stopper> {
  if (name === regionOrders.name) return startRegionOrders(rt);
  const spec = findRollup(name);
  if (spec === undefined) throw new RollgateError('NOT_FOUND', `no rollup named ${name}`);
  const log = rt.getLog();
  await log.ensureTopic(rt.config.topicPrefix + spec.source.topic, 3);
  const runner = new AggregatorRunner({
    spec,
    log,
    store: await rt.storeFor(spec),
    logger: rt.logger.child({ component: 'aggregator', rollup: spec.name }),
    metrics: rt.metrics,
    flushMs: rt.config.aggregator.flushMs,
    idleMs: rt.config.aggregator.idleMs,
    topicPrefix: rt.config.topicPrefix,
    revisions: rt.getRevisions(),
    live: rt.getLiveUpdates(),
  });
  checkRunner(rt, spec.name, runner);
  await runner.start();
  return () => runner.stop();
}

/** /readyz fails while an aggregator waits for its store to accept writes. */
function checkRunner(rt: Runtime, name: string, runner: { readonly status: string }): void {
  rt.checks.push({
    name: `aggregator ${name}`,
    check: async () => {
      if (runner.status === 'waiting-for-store') throw new Error('waiting for its store to accept writes');
    },
  });
}

/** Runs the started flows of the flow store (in the catalog database) on this process. */
async function startFlowWorker(rt: Runtime): Promise<Stopper> {
  const dataService = await rt.getDataService();
  const worker = new FlowWorker({
    flows: dataService.flows.store,
    knownSources: rollups,
    log: rt.getLog(),
    storeFor: (spec) => rt.storeFor(spec),
    logger: rt.logger.child({ component: 'flows' }),
    metrics: rt.metrics,
    flushMs: rt.config.aggregator.flushMs,
    idleMs: rt.config.aggregator.idleMs,
    topicPrefix: rt.config.topicPrefix,
    revisions: rt.getRevisions(),
    publishApi: (chain, operator) => publishFlowApi(dataService.apis, chain, operator),
  });
  rt.checks.push({
    name: 'flows',
    check: async () => {
      const waiting = worker.waitingForStore();
      if (waiting.length > 0) throw new Error(`flows ${waiting.join(', ')} are waiting for their store to accept writes`);
    },
  });
  await worker.start();
  return () => worker.stop();
}

/** The changelog aggregator of seed 002: its state, results and offsets live in MySQL, so it needs MYSQL_URL. */
async function startRegionOrders(rt: Runtime): Promise<Stopper> {
  const mysql = rt.config.mysql;
  if (mysql === undefined) throw new RollgateError('INVALID_CONFIG', 'rollgate aggregate region-orders needs MYSQL_URL (its state and results live in MySQL)');
  // The enriched detail table goes to ClickHouse when it is configured; totals and trend need only MySQL.
  const clickhouse = rt.config.clickhouse;
  const store = new RegionOrdersStore(mysql.url, clickhouse === undefined ? undefined : new ClickHouseDetailSink(clickhouse));
  rt.track('region-orders store', () => store.close());
  rt.checks.push({ name: 'mysql', check: () => store.ping() });
  const runner = new RegionOrdersRunner({
    log: rt.getLog(),
    store,
    logger: rt.logger.child({ component: 'aggregator', rollup: regionOrders.name }),
    metrics: rt.metrics,
    topicPrefix: rt.config.topicPrefix,
    revisions: rt.getRevisions(),
    live: rt.getLiveUpdates(),
  });
  checkRunner(rt, regionOrders.name, runner);
  await runner.start();
  return () => runner.stop();
}

/**
 * The embedded order pipeline: no MySQL, so no binlog. The generator writes the
 * change events CDC would write into the in-process log, and region-orders
 * keeps its join state and results in the embedded DuckDB the gateway reads.
 */
async function startEmbeddedOrders(rt: Runtime, ratePerSecond: number): Promise<Stopper> {
  const store = await DuckDbRegionOrdersStore.open(await rt.embeddedDuckDb());
  rt.track('region-orders store', () => store.close());
  const log = rt.getLog();
  const runner = new RegionOrdersRunner({
    log,
    store,
    logger: rt.logger.child({ component: 'aggregator', rollup: regionOrders.name }),
    metrics: rt.metrics,
    topicPrefix: rt.config.topicPrefix,
    revisions: rt.getRevisions(),
    live: rt.getLiveUpdates(),
  });
  await runner.start();
  const producer = await log.producer();
  const sink = new ChangeEventOrderSink(producer, rt.config.topicPrefix);
  await sink.snapshotCustomers();
  const generator = new OrdersGenerator(sink, { ratePerSecond, random: seededRandom(2002) }, rt.logger.child({ component: 'orders-generator' }));
  generator.start();
  return async () => {
    await generator.stop();
    await producer.close();
    await runner.stop();
  };
}

/** Runs CDC until stopped; exits the process if CDC fails for good (e.g. its binlog position was purged). */
async function startCdc(rt: Runtime, opts: { tables: string[]; name?: string; serverId?: number; partitions: number }): Promise<Stopper> {
  const { mysql, kafka, topicPrefix } = rt.config;
  if (mysql === undefined || kafka === undefined) {
    throw new RollgateError('INVALID_CONFIG', 'rollgate cdc needs MYSQL_URL (the source database) and KAFKA_BROKERS (where changes go)');
  }
  const endpoint = mysqlEndpoint(mysql.url);
  const name = opts.name ?? endpoint.database;
  const logger = rt.logger.child({ component: 'cdc', name });
  const replicaServerId = opts.serverId ?? defaultServerId(name);
  const changeLog = new KafkaChangeLog({ ...kafka, topicPrefix, name }, logger);
  rt.track('cdc kafka', () => changeLog.close());
  const runner = new CdcRunner(
    {
      source: new MySqlCdcSource(endpoint, logger),
      changeLog,
      openStream: (start, handlers) => new BinlogStream(endpoint, { replicaServerId, tables: opts.tables, start }, handlers, logger),
      logger,
      metrics: rt.metrics,
    },
    { name, tables: opts.tables, topicPrefix, replicaServerId, partitions: opts.partitions },
  );
  rt.checks.push({ name: 'kafka', check: () => changeLog.ping() });
  rt.checks.push({
    name: 'cdc',
    check: async () => {
      if (runner.status !== 'streaming' && runner.status !== 'snapshotting') throw new Error(`cdc is ${runner.status}`);
    },
  });
  logger.info({ mysql: redactUrl(mysql.url), tables: opts.tables, serverId: replicaServerId }, 'starting CDC');
  await runner.start();
  // A failure CDC cannot retry its way out of ends the process, non-zero, for its supervisor to see.
  void runner.failure.catch(() => {
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  });
  return () => runner.stop();
}

/** A replica server id from the CDC name: stable across restarts, unlikely to collide with real replicas (small ids). */
function defaultServerId(name: string): number {
  return 5400 + (createHash('sha1').update(name).digest().readUInt32BE(0) % 1_000_000);
}

function tableList(value: string): string[] {
  const tables = value.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  if (tables.length === 0 || tables.some((t) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(t))) throw new InvalidArgumentError('expected comma-separated table names');
  return tables;
}

function baseUrl(rt: Runtime, address: ReturnType<Server['address']>): string {
  const port = typeof address === 'object' && address !== null ? address.port : rt.config.http.port;
  const host = rt.config.http.host === '0.0.0.0' || rt.config.http.host === '::' ? 'localhost' : rt.config.http.host;
  return `http://${host}:${port}`;
}

/**
 * Starts the services of one command and keeps them until SIGINT/SIGTERM,
 * then stops them in order (flushing aggregators) and closes every client.
 * A second signal exits at once.
 */
async function run(start: (rt: Runtime) => Promise<Stopper[]>): Promise<void> {
  let config: Config;
  try {
    config = loadConfigFromProcess();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const logger: Logger = createLogger(config);
  const rt = new Runtime(config, logger);
  let stoppers: Stopper[] = [];
  let stoppingSince: number | undefined;
  const shutdown = async (signal: string) => {
    if (stoppingSince !== undefined) {
      // Some supervisors deliver one stop request twice (to the process and its group).
      if (Date.now() - stoppingSince < 1000) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'stopping');
    for (const stop of stoppers) {
      try {
        await stop();
      } catch (err) {
        logger.error({ err }, 'stop failed');
      }
    }
    await rt.close();
    logger.info('stopped');
    logger.flush();
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  try {
    stoppers = await start(rt);
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    await rt.close();
    logger.flush();
    process.exit(1);
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

await program.parseAsync(process.argv);
