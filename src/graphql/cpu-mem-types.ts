import { Field, Float, GraphQLISODateTime, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';

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
