import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'Where a page of a Relay connection sits (Relay Cursor Connections specification)' })
export class PageInfo {
  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first edge; null on an empty page' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge; null on an empty page' })
  endCursor!: string | null;
}
