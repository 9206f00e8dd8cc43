import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

// The catalog as an admin sees it. Like /admin, nothing here carries a password, an appSecret or an appCode.

@ObjectType({ description: 'A data source published APIs read from; its password is never shown' })
export class DataSource {
  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'clickhouse, mysql or duckdb' })
  kind!: string;

  @Field(() => String)
  description!: string;

  @Field(() => Boolean, { description: 'A rollup store of the deployment, not editable' })
  builtin!: boolean;

  @Field(() => GraphQLJSONObject, { description: 'Connection settings without the password' })
  config!: Record<string, string | number | boolean>;

  @Field(() => String, { nullable: true })
  createdAt!: string | null;

  @Field(() => String, { nullable: true })
  updatedAt!: string | null;
}

@ObjectType({ description: 'A request parameter of an API' })
export class ApiRequestParam {
  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'STRING, INT, LONG, DOUBLE, BOOLEAN, DATE or DATETIME' })
  type!: string;

  @Field(() => Boolean)
  required!: boolean;

  @Field(() => String, { nullable: true, description: 'Wizard APIs: the column compared' })
  column!: string | null;

  @Field(() => String, { nullable: true, description: 'Wizard APIs: =, !=, >, >=, <, <=, in, like, prefix or between' })
  operator!: string | null;

  @Field(() => String, { nullable: true })
  default!: string | null;

  @Field(() => String)
  description!: string;
}

@ObjectType({ description: 'A response parameter of an API' })
export class ApiResponseParam {
  @Field(() => String, { description: 'The key in each returned row' })
  name!: string;

  @Field(() => String)
  column!: string;

  @Field(() => String)
  type!: string;

  @Field(() => String)
  description!: string;
}

@ObjectType({ description: 'A DataService API in any state, as its draft defines it' })
export class Api {
  @Field(() => String)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  group!: string;

  @Field(() => String)
  path!: string;

  @Field(() => String)
  method!: string;

  @Field(() => String, { description: 'draft, published or offline' })
  status!: string;

  @Field(() => Int, { nullable: true, description: 'The version served, or last served when offline' })
  version!: number | null;

  @Field(() => Int)
  latestVersion!: number;

  @Field(() => Boolean)
  draftChanged!: boolean;

  @Field(() => Boolean)
  builtin!: boolean;

  @Field(() => String, { description: 'wizard or script' })
  mode!: string;

  @Field(() => String)
  description!: string;

  @Field(() => String)
  dataSourceName!: string;

  @Field(() => Boolean)
  pagination!: boolean;

  @Field(() => [ApiRequestParam])
  requestParams!: ApiRequestParam[];

  @Field(() => [ApiResponseParam])
  responseParams!: ApiResponseParam[];

  @Field(() => String, { nullable: true })
  createdAt!: string | null;

  @Field(() => String, { nullable: true })
  updatedAt!: string | null;

  @Field(() => String, { nullable: true })
  updatedBy!: string | null;
}

@ObjectType()
export class AppRateLimit {
  @Field(() => Int, { description: 'Calls a second, sustained' })
  rps!: number;

  @Field(() => Int, { description: 'Calls allowed above the rate at once' })
  burst!: number;
}

@ObjectType({ description: 'An app that calls published APIs; its appSecret and appCode are never shown' })
export class App {
  @Field(() => String)
  appKey!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => String, { description: 'enabled or disabled' })
  status!: string;

  @Field(() => [String])
  ipAllowlist!: string[];

  @Field(() => [String], { description: 'api:<name>, group:<group> or flows' })
  grants!: string[];

  @Field(() => AppRateLimit)
  rateLimit!: AppRateLimit;

  @Field(() => Boolean)
  allowAppCodeQuery!: boolean;

  @Field(() => String)
  createdAt!: string;

  @Field(() => String)
  updatedAt!: string;
}

@InputType({ description: 'APIs of this group, in this status, whose name contains this text' })
export class ApiFilter {
  @Field(() => String, { nullable: true })
  group?: string;

  @Field(() => String, { nullable: true })
  status?: string;

  @Field(() => String, { nullable: true })
  name?: string;
}

@ObjectType({ description: 'The catalog, for callers with the admin token or an admin JWT' })
export class AdminQuery {
  // Fields come from AdminResolver; this marker keeps the type non-empty for schema printers.
  @Field(() => Boolean, { description: 'Always true: the caller is an admin' })
  isAdmin!: boolean;
}
