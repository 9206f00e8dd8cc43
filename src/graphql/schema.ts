import 'reflect-metadata';
import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { RegionOrderResolver } from './region-order-resolver.js';
import { RollupResolver } from './rollup-resolver.js';

export function buildGraphQLSchema(): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: [RollupResolver, RegionOrderResolver], validate: false });
}

const HEADER = '# Generated from src/graphql by `npm run schema`; do not edit. A test fails when it drifts.\n\n';

/** The SDL checked in as schema/schema.graphql. */
export async function printGraphQLSchema(): Promise<string> {
  return HEADER + printSchema(await buildGraphQLSchema()) + '\n';
}
