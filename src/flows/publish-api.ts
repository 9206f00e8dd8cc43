import type { ApiService } from '../dataservice/api-service.js';
import { builtinRollupApi } from '../dataservice/builtins.js';
import type { WizardDefinition } from '../dataservice/definition.js';
import { RollgateError } from '../errors.js';
import type { CompiledChain } from './flow-graph.js';

/** API group of the APIs flows publish: an app needs `group:dataflow` to call them. */
export const FLOW_API_GROUP = 'dataflow';

/** The same wizard API a built-in rollup gets (filters on the group columns and window start), at the path the node asked for. */
export function flowApiDefinition(chain: CompiledChain & { publishPath: string }): WizardDefinition {
  const base = builtinRollupApi(chain.spec).definition as WizardDefinition;
  return { ...base, name: chain.spec.name.replace(/-/g, '_'), group: FLOW_API_GROUP, path: chain.publishPath };
}

/**
 * Creates (or updates) and publishes the chain's API. Its name is the chain's
 * rollup name, so a restart republishes the same API, and two workers racing
 * to create it end with one.
 */
export async function publishFlowApi(apis: ApiService, chain: CompiledChain & { publishPath: string }, operator: string): Promise<string> {
  const definition = flowApiDefinition(chain);
  for (let attempt = 0; ; attempt++) {
    const existing = (await apis.list({ name: definition.name })).find((a) => a.name === definition.name);
    try {
      const id = existing === undefined ? (await apis.create(definition, operator)).id : (await apis.update(existing.id, definition, operator)).id;
      await apis.publish(id, operator);
      return `/api${definition.path}`;
    } catch (err) {
      // Another worker created it between the lookup and the create: take the update path.
      if (attempt === 0 && err instanceof RollgateError && err.code === 'CONFLICT' && existing === undefined) continue;
      throw err;
    }
  }
}
