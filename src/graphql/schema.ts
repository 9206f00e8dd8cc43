import 'reflect-metadata';
import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { LocalLiveUpdates } from '../live/live-updates.js';
import { RegionOrderResolver } from './region-order-resolver.js';
import { RollupResolver } from './rollup-resolver.js';
import { LiveResolver } from './subscriptions.js';

export interface SchemaOptions {
  /** Where subscriptions listen: LiveUpdates.pubSub (Redis pub/sub, or in-process when embedded). */
  pubSub: PubSub;
}

export function buildGraphQLSchema(options: SchemaOptions): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: [RollupResolver, RegionOrderResolver, LiveResolver], pubSub: options.pubSub, validate: false });
}

const HEADER = '# Generated from src/graphql by `npm run schema`; do not edit. A test fails when it drifts.\n\n';

/** The SDL checked in as schema/schema.graphql. */
export async function printGraphQLSchema(): Promise<string> {
  // Printing only: nothing is ever published to this in-process pub/sub.
  return HEADER + printSchema(await buildGraphQLSchema({ pubSub: new LocalLiveUpdates().pubSub })) + '\n';
}
