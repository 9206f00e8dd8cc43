import { Ctx, Field, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from './context.js';

/**
 * The namespace of published DataService APIs. Here it holds only the
 * catalog revision; at run time live-schema.ts adds one typed field per
 * published API, so they come and go with the catalog.
 */
@ObjectType({ description: 'One field per published DataService API, typed from its request and response parameters; they change as APIs are published or taken offline' })
export class PublishedApis {
  @Field(() => Int, { description: 'The catalog revision these fields reflect' })
  catalogRevision!: number;
}

@Resolver()
export class PublishedResolver {
  @Query(() => PublishedApis, { description: 'Published DataService APIs as typed fields; each checks the app grant, as REST does' })
  published(@Ctx() ctx: GraphQLContext): PublishedApis {
    return { catalogRevision: ctx.apis.catalogRevision };
  }
}
