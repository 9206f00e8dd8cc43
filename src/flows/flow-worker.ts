import { AggregatorRunner } from '../aggregation/runner.js';
import type { RollupRevisions } from '../cache/rollup-revisions.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import { CatalogFollower } from '../dataservice/catalog/catalog-follower.js';
import type { TopicLog } from '../ingest/topic-log.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RollupStore } from '../store/rollup-store.js';
import { compileFlow, type CompiledChain } from './flow-graph.js';
import type { FlowRecord, FlowStore } from './flow-store.js';

export interface FlowWorkerDeps {
  flows: FlowStore;
  knownSources: readonly RollupSpec[];
  log: TopicLog;
  storeFor: (spec: RollupSpec) => Promise<RollupStore>;
  logger: Logger;
  metrics: Metrics;
  flushMs: number;
  idleMs: number;
  topicPrefix: string;
  revisions?: RollupRevisions;
  /** Publishes a DataService API for a chain whose storage node asks for one; returns its path. */
  publishApi?: (chain: CompiledChain & { publishPath: string }, operator: string) => Promise<string>;
  now?: () => number;
}

interface Deployed {
  version: number;
  runners: AggregatorRunner[];
}

/**
 * Runs the flows the store says should run, on this process: it follows the
 * flow store's revision (as gateways follow the catalog's) and starts or
 * stops one AggregatorRunner per source → realtime → storage chain. Several
 * workers may run at once: each chain's consumer group (`rollgate-flow-<id>-<node>`)
 * gives every partition to one of them, and its checkpoints (stored with the
 * results) let a stop, restart or move resume exactly where it left off.
 */
export class FlowWorker {
  private readonly deployed = new Map<number, Deployed>();
  private readonly follower: CatalogFollower;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly deps: FlowWorkerDeps) {
    this.follower = new CatalogFollower(deps.flows, () => this.converge(), deps.logger, 'flows');
    this.now = deps.now ?? Date.now;
  }

  /** The flows running here and the deploy version each runs. */
  get running(): ReadonlyMap<number, number> {
    return new Map([...this.deployed].map(([id, d]) => [id, d.version]));
  }

  /** Flows with a chain here whose store refuses writes (fetching paused until it accepts them). */
  waitingForStore(): number[] {
    return [...this.deployed].filter(([, d]) => d.runners.some((r) => r.status === 'waiting-for-store')).map(([id]) => id);
  }

  async start(): Promise<void> {
    await this.follower.start();
  }

  /** Stops every runner here (each flushes and checkpoints); the flows stay `running` for other or later workers. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.follower.stop();
    for (const id of [...this.deployed.keys()]) await this.undeploy(id);
  }

  /** Converges now instead of at the next poll. */
  refresh(): Promise<void> {
    return this.follower.refresh(true);
  }

  private async converge(): Promise<void> {
    if (this.stopped) return;
    const flows = await this.deps.flows.list();
    const wanted = new Map(flows.filter((f) => f.status === 'running').map((f) => [f.flowId, f]));
    for (const [id, d] of [...this.deployed]) {
      const flow = wanted.get(id);
      if (flow === undefined || flow.deployVersion !== d.version) await this.undeploy(id);
    }
    for (const flow of flows) {
      if (flow.status !== 'running') {
        await this.deps.flows.finishTasks(flow.flowId, ['stop'], flow.deployVersion, 'success', 'stopped', this.now());
        continue;
      }
      if (this.deployed.has(flow.flowId)) continue;
      await this.deploy(flow);
    }
  }

  private async deploy(flow: FlowRecord): Promise<void> {
    const { logger } = this.deps;
    const runners: AggregatorRunner[] = [];
    try {
      const chains = compileFlow(flow.flowId, flow.deployedNodes ?? flow.nodes, this.deps.knownSources);
      for (const chain of chains) {
        const { spec } = chain;
        // A flow may name a topic nobody has written yet; its producers' key decides partitions from then on.
        await this.deps.log.ensureTopic(this.deps.topicPrefix + spec.source.topic, 1);
        const runner = new AggregatorRunner({
          spec,
          log: this.deps.log,
          store: await this.deps.storeFor(spec),
          logger: logger.child({ component: 'flow', flowId: flow.flowId, rollup: spec.name }),
          metrics: this.deps.metrics,
          flushMs: this.deps.flushMs,
          idleMs: this.deps.idleMs,
          topicPrefix: this.deps.topicPrefix,
          ...(this.deps.revisions === undefined ? {} : { revisions: this.deps.revisions }),
        });
        // start() creates the storage table before it consumes.
        await runner.start();
        runners.push(runner);
      }
      const published: string[] = [];
      for (const chain of chains) {
        const { publishPath } = chain;
        if (publishPath === undefined) continue;
        if (this.deps.publishApi === undefined) throw new Error('this worker cannot publish APIs');
        published.push(await this.deps.publishApi({ ...chain, publishPath }, flow.updatedBy));
      }
      this.deployed.set(flow.flowId, { version: flow.deployVersion, runners });
      logger.info({ flowId: flow.flowId, deployVersion: flow.deployVersion, chains: chains.length }, 'flow running');
      const message = `running ${chains.length} chain(s)${published.length === 0 ? '' : `; published ${published.join(', ')}`}`;
      await this.deps.flows.finishTasks(flow.flowId, ['start', 'restart'], flow.deployVersion, 'success', message, this.now());
    } catch (err) {
      for (const r of runners) await r.stop().catch(() => undefined);
      // Remembered as deployed with no runners: the same version is not retried on every poll; a restart deploys anew.
      this.deployed.set(flow.flowId, { version: flow.deployVersion, runners: [] });
      const message = err instanceof Error ? err.message : String(err);
      logger.error({ err, flowId: flow.flowId }, 'flow failed to start');
      await this.deps.flows.finishTasks(flow.flowId, ['start', 'restart'], flow.deployVersion, 'failure', message, this.now());
    }
  }

  private async undeploy(flowId: number): Promise<void> {
    const d = this.deployed.get(flowId);
    if (d === undefined) return;
    this.deployed.delete(flowId);
    for (const r of d.runners) await r.stop();
    this.deps.logger.info({ flowId, deployVersion: d.version }, 'flow stopped here');
  }
}
