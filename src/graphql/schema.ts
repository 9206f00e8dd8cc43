import 'reflect-metadata';
import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { LocalLiveUpdates } from '../live/live-updates.js';
import { AdminResolver, ApiFieldsResolver, AppFieldsResolver } from './admin-resolver.js';
import { PublishedResolver } from './published-resolver.js';
import { RegionOrderResolver } from './region-order-resolver.js';
import { RollupResolver } from './rollup-resolver.js';
import { LiveResolver } from './subscriptions.js';

export interface SchemaOptions {
  /** Where subscriptions listen: LiveUpdates.pubSub (Redis pub/sub, or in-process when embedded). */
  pubSub: PubSub;
}

/**
 * The static part of the schema, built by type-graphql: the one place its
 * resolvers are listed. Published-API fields are added at run time by
 * LiveSchema (live-schema.ts).
 */
export function buildGraphQLSchema(options: SchemaOptions): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [RollupResolver, RegionOrderResolver, PublishedResolver, AdminResolver, ApiFieldsResolver, AppFieldsResolver, LiveResolver],
    pubSub: options.pubSub,
    validate: false,
  });
}

const HEADER = '# Generated from src/graphql by `npm run schema`; do not edit. A test fails when it drifts.\n\n';

/** The SDL checked in as schema/schema.graphql (without the published-API fields, which depend on the catalog). */
export async function printGraphQLSchema(): Promise<string> {
  // Printing only: nothing is ever published to this in-process pub/sub.
  return HEADER + printSchema(await buildGraphQLSchema({ pubSub: new LocalLiveUpdates().pubSub })) + '\n';
}
