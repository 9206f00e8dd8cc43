import { Field, Float, GraphQLISODateTime, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { PageInfo } from './page-info.js';

// Every decorator names its type explicitly: esbuild-based runners (tests, tsx)
// emit no decorator metadata, and type-graphql must not depend on it.

@ObjectType({ description: 'Maxima of one (ip, pid) over one 5-minute window' })
export class CpuMemRollup {
  @Field(() => GraphQLISODateTime, { description: 'Start of the 5-minute window (UTC)' })
  windowStart!: Date;

  @Field(() => String)
  ip!: string;

  @Field(() => Int)
  pid!: number;

  @Field(() => GraphQLSafeInt, { description: 'Largest resident memory in bytes' })
  mem!: number;

  @Field(() => Float, { description: 'Largest CPU use in percent' })
  cpuUsagePct!: number;

  @Field(() => Float, { description: 'Largest memory use in percent' })
  memUsagePct!: number;

  @Field(() => GraphQLSafeInt, { description: 'Number of samples folded into the window' })
  samples!: number;

  @Field(() => Boolean, { description: 'True once the window can no longer change' })
  final!: boolean;
}

@ObjectType()
export class CpuMemRollupPage {
  @Field(() => Int)
  pageNum!: number;

  @Field(() => Int)
  pageSize!: number;

  @Field(() => Int, { description: 'Rows matching the filter, over all pages' })
  totalNum!: number;

  @Field(() => [CpuMemRollup])
  rows!: CpuMemRollup[];
}

@InputType({ description: 'Window starts are matched in [from, to)' })
export class CpuMemFilter {
  @Field(() => String, { nullable: true })
  ip?: string;

  @Field(() => Int, { nullable: true })
  pid?: number;

  @Field(() => GraphQLISODateTime, { nullable: true })
  from?: Date;

  @Field(() => GraphQLISODateTime, { nullable: true })
  to?: Date;

  @Field(() => Boolean, { nullable: true, description: 'Only windows that can no longer change' })
  finalOnly?: boolean;
}

export enum CpuMemOrder {
  /** Newest window first; within a window by ip, then pid. */
  WINDOW_START_DESC = 'WINDOW_START_DESC',
  /** Oldest window first: the exact reverse of WINDOW_START_DESC. */
  WINDOW_START_ASC = 'WINDOW_START_ASC',
}

registerEnumType(CpuMemOrder, {
  name: 'CpuMemOrder',
  description: 'Order of cpu-mem-5min rollups',
  valuesConfig: {
    WINDOW_START_DESC: { description: 'Newest window first; within a window by ip, then pid' },
    WINDOW_START_ASC: { description: 'Oldest window first: the exact reverse of WINDOW_START_DESC' },
  },
});

@ObjectType()
export class CpuMemRollupEdge {
  @Field(() => String, { description: 'Opaque; valid for the same filter and order' })
  cursor!: string;

  @Field(() => CpuMemRollup)
  node!: CpuMemRollup;
}

@ObjectType({ description: 'cpu-mem-5min rollups as a Relay connection' })
export class CpuMemRollupConnection {
  @Field(() => [CpuMemRollupEdge])
  edges!: CpuMemRollupEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Rows matching the filter, whatever the cursors and page size' })
  totalCount!: number;
}
