import { z } from 'zod';
import type { Principal } from '../auth/authenticator.js';
import { FLOWS_GRANT } from '../auth/grants.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import { parseInput } from '../dataservice/validation-errors.js';
import { RollgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import { compileFlow, physicalTable, type CompiledChain } from './flow-graph.js';
import { FlowNode, isStorage } from './flow-nodes.js';
import type { FlowRecord, FlowStore, FlowTask, FlowWriter, TaskAction } from './flow-store.js';

/** `bk_app_code` / `bk_app_secret` are a rollgate app's appKey / appSecret; `bk_username` is recorded as the operator. */
const Credentials = z.looseObject({
  bk_app_code: z.string().min(1).max(64),
  bk_app_secret: z.string().min(1).max(256),
  bk_username: z.string().min(1).max(100).optional(),
  bkdata_authentication_method: z.string().max(32).optional(),
});

export type FlowCredentials = z.infer<typeof Credentials>;

/** bk_app_code and bk_app_secret, as the seed's scripts send them in the body (POST, PATCH) or the query (GET, DELETE). */
export function flowCredentials(input: unknown): FlowCredentials {
  if (typeof input !== 'object' || input === null || !('bk_app_code' in input) || !('bk_app_secret' in input)) {
    throw new RollgateError('UNAUTHENTICATED', 'bk_app_code and bk_app_secret are required', { field: 'bk_app_code' });
  }
  return parseInput(Credentials, input);
}

const CreateFlow = z.looseObject({
  project_id: z.number().int().nonnegative().default(0),
  flow_name: z.string().min(1).max(255),
  nodes: z.array(FlowNode).min(1).max(200),
});

const AddNodes = z.looseObject({ nodes: z.array(FlowNode).min(1).max(200) });

/** The compiled chains of a deploy, as shown in task deploy data: what runs where. */
export function describeChains(chains: readonly CompiledChain[], topicPrefix: string): unknown[] {
  return chains.map((c) => ({
    node_ids: c.nodeIds,
    topic: topicPrefix + c.spec.source.topic,
    consumer_group: `${topicPrefix}rollgate-${c.spec.name}`,
    window: c.spec.window,
    group_by: c.spec.groupBy,
    measures: c.spec.measures.map((m) => ({ name: m.name, op: m.op, field: m.field ?? null, type: m.type })),
    where: c.where ?? null,
    storage: { store: c.spec.sink.store, table: c.spec.sink.table, expires_days: c.spec.sink.retentionDays },
    api: c.publishPath === undefined ? null : `/api${c.publishPath}`,
  }));
}

export interface FlowServiceDeps {
  store: FlowStore;
  /** Built-in rollups: their sources are the known topic schemas (schema/events/*.json). */
  knownSources: readonly RollupSpec[];
  topicPrefix: string;
  logger: Logger;
  now?: () => number;
}

/**
 * The DataFlow lifecycle of seeds 000/001. Calls authenticate with the app's
 * credentials from the request, change the flow store, and leave running to
 * the workers (FlowWorker), which follow the store's revision.
 */
export class FlowService {
  private readonly now: () => number;

  constructor(private readonly deps: FlowServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  get store(): FlowStore {
    return this.deps.store;
  }

  /**
   * The operator name of a call whose app the route authenticated (by `flowCredentials`, under the same policy as
   * every route): the app needs the `flows` grant.
   */
  operator(principal: Principal, credentials: FlowCredentials): string {
    if (!principal.grants.includes(FLOWS_GRANT)) throw new RollgateError('NOT_GRANTED', `app ${principal.appKey} has no flows grant`);
    return credentials.bk_username ?? principal.appKey;
  }

  async create(input: unknown, operator: string): Promise<{ flow_id: number; node_ids: number[] }> {
    const body = parseInput(CreateFlow, input);
    // Checked with the caller's ids first, so errors name the nodes as sent.
    compileFlow(0, body.nodes, this.deps.knownSources);
    return this.deps.store.write(async (tx) => {
      const [flowId = 0, ...nodeIds] = await tx.ids(1 + body.nodes.length);
      const nodes = renumber(body.nodes, new Map(body.nodes.map((n, i) => [n.id, nodeIds[i] ?? 0])));
      await claimTables(tx, flowId, nodes);
      const now = this.now();
      await tx.put(
        { flowId, flowName: body.flow_name, projectId: body.project_id, nodes, status: 'no-start', deployedNodes: undefined, deployVersion: 0, createdBy: operator, createdAt: now, updatedBy: operator, updatedAt: now },
        'create',
      );
      this.deps.logger.info({ flowId, operator, nodes: nodes.length }, 'flow created');
      return { flow_id: flowId, node_ids: nodes.map((n) => n.id) };
    });
  }

  async get(flowId: number): Promise<Record<string, unknown>> {
    const flow = await this.deps.store.get(flowId);
    const latest = (await this.deps.store.tasks(flowId))[0];
    return { ...flowView(flow, latest), nodes: flow.nodes.map(nodeView) };
  }

  async graph(flowId: number): Promise<{ nodes: unknown[]; links: unknown[] }> {
    const flow = await this.deps.store.get(flowId);
    const links = flow.nodes.flatMap((n) => n.from_nodes.map((f) => ({ from_node_id: f.id, to_node_id: n.id, from_result_table_ids: f.from_result_table_ids })));
    return { nodes: flow.nodes.map(nodeView), links };
  }

  /** Deploys the current graph: workers (re)start its runners; the task says when one has. */
  start(flowId: number, operator: string): Promise<{ task_id: number }> {
    return this.deploy(flowId, operator, 'start');
  }

  restart(flowId: number, operator: string): Promise<{ task_id: number }> {
    return this.deploy(flowId, operator, 'restart');
  }

  async stop(flowId: number, operator: string): Promise<{ task_id: number }> {
    return this.deps.store.write(async (tx) => {
      const flow = await tx.get(flowId);
      if (flow.status !== 'running') throw new RollgateError('FLOW_STATE_CONFLICT', `flow ${flowId} is not running (${flow.status})`);
      const [taskId = 0] = await tx.ids(1);
      const now = this.now();
      await tx.put({ ...flow, status: 'stopped', updatedBy: operator, updatedAt: now }, 'update');
      await tx.addTask(newTask(taskId, flow, 'stop', operator, flow.deployVersion, { flow_id: flowId }, now));
      return { task_id: taskId };
    });
  }

  async addNodes(flowId: number, input: unknown, operator: string): Promise<{ node_ids: number[] }> {
    // One node (BKData's add-node body) or `{"nodes": [...]}`.
    const body = parseInput(AddNodes, typeof input === 'object' && input !== null && 'nodes' in input ? input : { nodes: [input] });
    return this.deps.store.write(async (tx) => {
      const flow = await tx.get(flowId);
      const taken = new Set(flow.nodes.map((n) => n.id));
      body.nodes.forEach((n, i) => {
        if (taken.has(n.id)) throw new RollgateError('INVALID_FLOW_GRAPH', `nodes[${i}].id: ${n.id} is an existing node's id; give new nodes ids of their own`, { field: `nodes[${i}].id` });
      });
      const ids = await tx.ids(body.nodes.length);
      const added = renumber(body.nodes, new Map(body.nodes.map((n, i) => [n.id, ids[i] ?? 0])));
      const nodes = [...flow.nodes, ...added];
      compileFlow(flowId, nodes, this.deps.knownSources);
      await claimTables(tx, flowId, nodes);
      await tx.put({ ...flow, nodes, updatedBy: operator, updatedAt: this.now() }, 'update');
      return { node_ids: added.map((n) => n.id) };
    });
  }

  /** Changes one node's config; a running flow picks it up at its next restart. */
  async patchNode(flowId: number, nodeId: number, input: unknown, operator: string): Promise<Record<string, unknown>> {
    if (typeof input !== 'object' || input === null) throw new RollgateError('INVALID_PARAMETER', 'the body must be a JSON object of node fields');
    return this.deps.store.write(async (tx) => {
      const flow = await tx.get(flowId);
      const at = flow.nodes.findIndex((n) => n.id === nodeId);
      const current = flow.nodes[at];
      if (current === undefined) throw new RollgateError('NOT_FOUND', `flow ${flowId} has no node ${nodeId}`, { field: 'node_id' });
      const changes = stripCredentials(input as Record<string, unknown>);
      if ('node_type' in changes && changes['node_type'] !== current.node_type) {
        throw new RollgateError('INVALID_PARAMETER', `node_type: a ${current.node_type} node cannot become ${String(changes['node_type'])}`, { field: 'node_type' });
      }
      const patched = parseInput(FlowNode, { ...current, ...changes, id: nodeId, node_type: current.node_type });
      const nodes = flow.nodes.map((n, i) => (i === at ? patched : n));
      compileFlow(flowId, nodes, this.deps.knownSources);
      await claimTables(tx, flowId, nodes);
      await tx.put({ ...flow, nodes, updatedBy: operator, updatedAt: this.now() }, 'update');
      return nodeView(patched);
    });
  }

  async latestDeployData(flowId: number): Promise<Record<string, unknown> | null> {
    await this.deps.store.get(flowId);
    const task = (await this.deps.store.tasks(flowId)).find((t) => t.action !== 'stop');
    return task === undefined ? null : taskView(task);
  }

  /** Deploy history: every task of the flow, newest first. */
  async tasks(flowId: number): Promise<unknown[]> {
    await this.deps.store.get(flowId);
    return (await this.deps.store.tasks(flowId)).map(taskView);
  }

  /** The flow in the create body's shape: `import/` (or `create/`) takes it back. */
  async export(flowId: number): Promise<Record<string, unknown>> {
    const flow = await this.deps.store.get(flowId);
    return { flow_name: flow.flowName, project_id: flow.projectId, nodes: flow.nodes };
  }

  async delete(flowId: number): Promise<{ flow_id: number }> {
    return this.deps.store.write(async (tx) => {
      const flow = await tx.get(flowId);
      if (flow.status === 'running') throw new RollgateError('FLOW_STATE_CONFLICT', `flow ${flowId} is running: stop it first`);
      await tx.delete(flowId);
      return { flow_id: flowId };
    });
  }

  private async deploy(flowId: number, operator: string, action: 'start' | 'restart'): Promise<{ task_id: number }> {
    return this.deps.store.write(async (tx) => {
      const flow = await tx.get(flowId);
      if (action === 'start' && flow.status === 'running') throw new RollgateError('FLOW_STATE_CONFLICT', `flow ${flowId} is already running: restart it to deploy changes`);
      if (action === 'restart' && flow.status !== 'running') throw new RollgateError('FLOW_STATE_CONFLICT', `flow ${flowId} is not running (${flow.status}): start it`);
      const chains = compileFlow(flowId, flow.nodes, this.deps.knownSources);
      await claimTables(tx, flowId, flow.nodes);
      const [taskId = 0] = await tx.ids(1);
      const now = this.now();
      const deployVersion = flow.deployVersion + 1;
      await tx.put({ ...flow, status: 'running', deployedNodes: flow.nodes, deployVersion, updatedBy: operator, updatedAt: now }, 'update');
      await tx.addTask(newTask(taskId, flow, action, operator, deployVersion, { flow_id: flowId, chains: describeChains(chains, this.deps.topicPrefix) }, now));
      this.deps.logger.info({ flowId, operator, action, deployVersion }, 'flow deploy requested');
      return { task_id: taskId };
    });
  }
}

function newTask(taskId: number, flow: FlowRecord, action: TaskAction, operator: string, deployVersion: number, deployData: unknown, now: number): FlowTask {
  return { taskId, flowId: flow.flowId, action, status: 'pending', operator, deployVersion, message: 'waiting for a flow worker', deployData, createdAt: now, finishedAt: undefined };
}

/**
 * A storage node's table belongs to one flow: another flow's rows (its versions, its retention) would overwrite
 * or expire them. The table counts as taken while any other flow, running or not, names it in its nodes or in
 * what it last deployed. Runs inside the write transaction, whose first statement serialises writers.
 */
async function claimTables(tx: FlowWriter, flowId: number, nodes: readonly FlowNode[]): Promise<void> {
  const wanted = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (isStorage(n)) wanted.set(physicalTable(n.result_table_id), i);
  });
  for (const other of await tx.list()) {
    if (other.flowId === flowId) continue;
    for (const n of [...other.nodes, ...(other.deployedNodes ?? [])]) {
      if (!isStorage(n)) continue;
      const table = physicalTable(n.result_table_id);
      const i = wanted.get(table);
      if (i !== undefined) {
        throw new RollgateError('CONFLICT', `nodes[${i}].result_table_id: table ${table} belongs to flow ${other.flowId}; give the storage node a result table of its own`, {
          field: `nodes[${i}].result_table_id`,
        });
      }
    }
  }
}

/** Request ids become flow-wide node ids, in `id` and in every `from_nodes[].id` that names a node of this batch. */
function renumber(nodes: readonly FlowNode[], ids: ReadonlyMap<number, number>): FlowNode[] {
  return nodes.map((n) => ({ ...n, id: ids.get(n.id) ?? n.id, from_nodes: n.from_nodes.map((f) => ({ ...f, id: ids.get(f.id) ?? f.id })) }));
}

function stripCredentials(body: Record<string, unknown>): Record<string, unknown> {
  const { bk_app_code: _code, bk_app_secret: _secret, bk_username: _user, bkdata_authentication_method: _method, ...rest } = body;
  return rest;
}

/** The status a caller sees: the desired one, or the transition a pending task is making. */
function displayStatus(flow: FlowRecord, latest: FlowTask | undefined): string {
  if (latest?.status === 'pending') return latest.action === 'stop' ? 'stopping' : 'starting';
  if (latest?.status === 'failure' && latest.action !== 'stop') return 'failure';
  return flow.status;
}

function flowView(flow: FlowRecord, latest: FlowTask | undefined): Record<string, unknown> {
  return {
    flow_id: flow.flowId,
    flow_name: flow.flowName,
    project_id: flow.projectId,
    status: displayStatus(flow, latest),
    deploy_version: flow.deployVersion,
    latest_task: latest === undefined ? null : taskView(latest),
    created_by: flow.createdBy,
    created_at: new Date(flow.createdAt).toISOString(),
    updated_by: flow.updatedBy,
    updated_at: new Date(flow.updatedAt).toISOString(),
  };
}

function nodeView(node: FlowNode): Record<string, unknown> {
  return { ...node, node_id: node.id };
}

function taskView(t: FlowTask): Record<string, unknown> {
  return {
    task_id: t.taskId,
    flow_id: t.flowId,
    action: t.action,
    status: t.status,
    created_by: t.operator,
    deploy_version: t.deployVersion,
    message: t.message,
    deploy_data: t.deployData,
    created_at: new Date(t.createdAt).toISOString(),
    end_time: t.finishedAt === undefined ? null : new Date(t.finishedAt).toISOString(),
  };
}
