import type { CatalogRow, SqlClient } from '../dataservice/catalog/sql-client.js';
import { RollgateError } from '../errors.js';
import { FlowNode } from './flow-nodes.js';

/**
 * What a flow should be doing. Workers converge on it: `running` flows run
 * the nodes deployed at the last start/restart (`deployVersion` bumps each
 * time), everything else runs nothing.
 */
export type FlowStatus = 'no-start' | 'running' | 'stopped';

export interface FlowRecord {
  flowId: number;
  flowName: string;
  projectId: number;
  /** The editable graph, with flow-wide node ids. */
  nodes: FlowNode[];
  status: FlowStatus;
  /** The graph as of the last start or restart: what workers run. */
  deployedNodes: FlowNode[] | undefined;
  deployVersion: number;
  createdBy: string;
  createdAt: number;
  updatedBy: string;
  updatedAt: number;
}

export type TaskAction = 'start' | 'stop' | 'restart';
/** A task is pending until a worker has done it (or failed to). */
export type TaskStatus = 'pending' | 'success' | 'failure';

export interface FlowTask {
  taskId: number;
  flowId: number;
  action: TaskAction;
  status: TaskStatus;
  operator: string;
  deployVersion: number;
  message: string;
  /** What was deployed: tables, consumer groups, compiled SQL (JSON). */
  deployData: unknown;
  createdAt: number;
  finishedAt: number | undefined;
}

const T = { meta: 'rollgate_flow_meta', flows: 'rollgate_flows', tasks: 'rollgate_flow_tasks' };

/**
 * Flows and their tasks, in the catalog's database (MySQL shared by every
 * gateway and worker, or the embedded DuckDB). Every write bumps one revision
 * in the same transaction; workers poll it to pick changes up.
 */
export class FlowStore {
  constructor(private readonly db: SqlClient) {}

  async init(): Promise<void> {
    const text = this.db.textType;
    await this.db.run(`CREATE TABLE IF NOT EXISTS ${T.meta} (id INTEGER NOT NULL PRIMARY KEY, revision BIGINT NOT NULL, next_id BIGINT NOT NULL)`);
    if ((await this.db.all(`SELECT id FROM ${T.meta} WHERE id = 1`)).length === 0) {
      await this.db.run(`INSERT INTO ${T.meta} (id, revision, next_id) VALUES (1, 0, 0)`).catch(() => undefined);
    }
    await this.db.run(
      `CREATE TABLE IF NOT EXISTS ${T.flows} (flow_id BIGINT NOT NULL PRIMARY KEY, flow_name VARCHAR(255) NOT NULL, project_id BIGINT NOT NULL,
       nodes ${text} NOT NULL, status VARCHAR(16) NOT NULL, deployed_nodes ${text}, deploy_version INTEGER NOT NULL,
       created_by VARCHAR(100) NOT NULL, created_at BIGINT NOT NULL, updated_by VARCHAR(100) NOT NULL, updated_at BIGINT NOT NULL)`,
    );
    await this.db.run(
      `CREATE TABLE IF NOT EXISTS ${T.tasks} (task_id BIGINT NOT NULL PRIMARY KEY, flow_id BIGINT NOT NULL, action VARCHAR(16) NOT NULL,
       status VARCHAR(16) NOT NULL, operator VARCHAR(100) NOT NULL, deploy_version INTEGER NOT NULL, message VARCHAR(2000) NOT NULL,
       deploy_data ${text} NOT NULL, created_at BIGINT NOT NULL, finished_at BIGINT)`,
    );
  }

  async revision(): Promise<number> {
    const rows = await this.db.all(`SELECT revision FROM ${T.meta} WHERE id = 1`);
    return Number(rows[0]?.['revision'] ?? 0);
  }

  async list(): Promise<FlowRecord[]> {
    return listFlows(this.db);
  }

  async get(flowId: number): Promise<FlowRecord> {
    const rows = await this.db.all(`SELECT * FROM ${T.flows} WHERE flow_id = ?`, [flowId]);
    if (rows[0] === undefined) throw new RollgateError('NOT_FOUND', `no flow ${flowId}`, { field: 'flow_id' });
    return toFlow(rows[0]);
  }

  /**
   * Runs `work` in one transaction with `ids(n)` handing out n fresh flow,
   * node and task ids (one sequence, so they are unique across all three).
   */
  async write<T>(work: (tx: FlowWriter) => Promise<T>): Promise<T> {
    return this.db.transaction(async (db) => {
      // Taken first: the row lock orders concurrent writers (MySQL) before they read anything.
      await db.run(`UPDATE ${T.meta} SET revision = revision + 1 WHERE id = 1`);
      return work(new FlowWriter(db));
    });
  }

  async tasks(flowId: number): Promise<FlowTask[]> {
    return (await this.db.all(`SELECT * FROM ${T.tasks} WHERE flow_id = ? ORDER BY task_id DESC`, [flowId])).map(toTask);
  }

  async task(taskId: number): Promise<FlowTask | undefined> {
    const rows = await this.db.all(`SELECT * FROM ${T.tasks} WHERE task_id = ?`, [taskId]);
    return rows[0] === undefined ? undefined : toTask(rows[0]);
  }

  /** Marks a flow's pending tasks up to `deployVersion` done; the first worker to get there decides. */
  async finishTasks(flowId: number, actions: readonly TaskAction[], deployVersion: number, status: 'success' | 'failure', message: string, now: number): Promise<void> {
    const pending = await this.db.all(
      `SELECT task_id FROM ${T.tasks} WHERE flow_id = ? AND status = 'pending' AND deploy_version <= ? AND action IN (${actions.map(() => '?').join(', ')})`,
      [flowId, deployVersion, ...actions],
    );
    // Nothing to finish, nothing written: a write would bump the revision and wake every worker again.
    if (pending.length === 0) return;
    await this.write(async (tx) => {
      await tx.db.run(
        `UPDATE ${T.tasks} SET status = ?, message = ?, finished_at = ?
         WHERE flow_id = ? AND status = 'pending' AND deploy_version <= ? AND action IN (${actions.map(() => '?').join(', ')})`,
        [status, message.slice(0, 2000), now, flowId, deployVersion, ...actions],
      );
    });
  }
}

async function listFlows(db: SqlClient): Promise<FlowRecord[]> {
  return (await db.all(`SELECT * FROM ${T.flows} ORDER BY flow_id`)).map(toFlow);
}

/** The statements of one flow write transaction. */
export class FlowWriter {
  constructor(readonly db: SqlClient) {}

  async ids(n: number): Promise<number[]> {
    await this.db.run(`UPDATE ${T.meta} SET next_id = next_id + ? WHERE id = 1`, [n]);
    const last = Number((await this.db.all(`SELECT next_id FROM ${T.meta} WHERE id = 1`))[0]?.['next_id'] ?? 0);
    return Array.from({ length: n }, (_, i) => last - n + 1 + i);
  }

  async get(flowId: number): Promise<FlowRecord> {
    const rows = await this.db.all(`SELECT * FROM ${T.flows} WHERE flow_id = ?`, [flowId]);
    if (rows[0] === undefined) throw new RollgateError('NOT_FOUND', `no flow ${flowId}`, { field: 'flow_id' });
    return toFlow(rows[0]);
  }

  async list(): Promise<FlowRecord[]> {
    return listFlows(this.db);
  }

  async put(flow: FlowRecord, mode: 'create' | 'update'): Promise<void> {
    const values = [
      flow.flowName,
      flow.projectId,
      JSON.stringify(flow.nodes),
      flow.status,
      flow.deployedNodes === undefined ? null : JSON.stringify(flow.deployedNodes),
      flow.deployVersion,
      flow.updatedBy,
      flow.updatedAt,
    ];
    if (mode === 'update') {
      await this.db.run(
        `UPDATE ${T.flows} SET flow_name = ?, project_id = ?, nodes = ?, status = ?, deployed_nodes = ?, deploy_version = ?, updated_by = ?, updated_at = ?
         WHERE flow_id = ?`,
        [...values, flow.flowId],
      );
    } else {
      await this.db.run(
        `INSERT INTO ${T.flows} (flow_name, project_id, nodes, status, deployed_nodes, deploy_version, updated_by, updated_at, flow_id, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [...values, flow.flowId, flow.createdBy, flow.createdAt],
      );
    }
  }

  async delete(flowId: number): Promise<void> {
    await this.db.run(`DELETE FROM ${T.tasks} WHERE flow_id = ?`, [flowId]);
    await this.db.run(`DELETE FROM ${T.flows} WHERE flow_id = ?`, [flowId]);
  }

  async addTask(task: FlowTask): Promise<void> {
    await this.db.run(
      `INSERT INTO ${T.tasks} (task_id, flow_id, action, status, operator, deploy_version, message, deploy_data, created_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [task.taskId, task.flowId, task.action, task.status, task.operator, task.deployVersion, task.message, JSON.stringify(task.deployData), task.createdAt, task.finishedAt ?? null],
    );
  }
}

/** Stored graphs were valid when written; parsing again restores defaults and types. */
function parseNodes(text: unknown): FlowNode[] {
  const parsed: unknown = JSON.parse(String(text));
  return (Array.isArray(parsed) ? parsed : []).map((n) => FlowNode.parse(n));
}

function toFlow(r: CatalogRow): FlowRecord {
  const status = String(r['status']);
  return {
    flowId: Number(r['flow_id']),
    flowName: String(r['flow_name']),
    projectId: Number(r['project_id']),
    nodes: parseNodes(r['nodes']),
    status: status === 'running' || status === 'stopped' ? status : 'no-start',
    deployedNodes: r['deployed_nodes'] === null || r['deployed_nodes'] === undefined ? undefined : parseNodes(r['deployed_nodes']),
    deployVersion: Number(r['deploy_version']),
    createdBy: String(r['created_by']),
    createdAt: Number(r['created_at']),
    updatedBy: String(r['updated_by']),
    updatedAt: Number(r['updated_at']),
  };
}

function toTask(r: CatalogRow): FlowTask {
  const action = String(r['action']);
  const status = String(r['status']);
  return {
    taskId: Number(r['task_id']),
    flowId: Number(r['flow_id']),
    action: action === 'stop' || action === 'restart' ? action : 'start',
    status: status === 'success' || status === 'failure' ? status : 'pending',
    operator: String(r['operator']),
    deployVersion: Number(r['deploy_version']),
    message: String(r['message']),
    deployData: JSON.parse(String(r['deploy_data'])) as unknown,
    createdAt: Number(r['created_at']),
    finishedAt: r['finished_at'] === null || r['finished_at'] === undefined ? undefined : Number(r['finished_at']),
  };
}
