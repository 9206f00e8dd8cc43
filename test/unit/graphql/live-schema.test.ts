import { GraphQLList, GraphQLNonNull, GraphQLObjectType, printType, validateSchema, type GraphQLSchema } from 'graphql';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ServedApi } from '../../../src/dataservice/api-service.js';
import { ApiDefinitionSchema, type ApiDefinitionInput } from '../../../src/dataservice/definition.js';
import { LiveSchema, withPublishedApis, type PublishedCatalog } from '../../../src/graphql/live-schema.js';
import { buildGraphQLSchema } from '../../../src/graphql/schema.js';
import { LocalLiveUpdates } from '../../../src/live/live-updates.js';

let base: GraphQLSchema;

beforeAll(async () => {
  base = await buildGraphQLSchema({ pubSub: new LocalLiveUpdates().pubSub });
});

function served(input: ApiDefinitionInput, version = 1): ServedApi {
  return { id: `id-${input.name}`, version, builtin: false, definition: ApiDefinitionSchema.parse(input) };
}

const wizard = served({
  name: 'shop_orders',
  path: '/shop/orders',
  mode: 'wizard',
  dataSource: 'src',
  table: 'orders',
  description: 'Orders of the shop',
  requestParams: [
    { name: 'region', column: 'region', type: 'STRING', operator: 'in' },
    { name: 'revenue', column: 'revenue', type: 'DOUBLE', operator: 'between' },
    { name: 'minId', column: 'id', type: 'LONG', operator: '>=', required: true },
    { name: 'paid', column: 'paid', type: 'BOOLEAN', operator: '=', required: true, default: 'true' },
  ],
  responseParams: [
    { column: 'id', type: 'LONG' },
    { column: 'revenue', name: 'amount', type: 'DOUBLE', description: 'Revenue in yuan' },
    { column: 'created', type: 'DATETIME' },
    { column: '__hidden', type: 'STRING' },
  ],
});
const script = served({ name: 'top_hosts', path: '/top', mode: 'script', dataSource: 'src', script: 'SELECT 1 AS x', pagination: false });

describe('withPublishedApis', () => {
  it('types each API from its parameters: lists for in/between, non-null when required without default, paging arguments', () => {
    const schema = withPublishedApis(base, [wizard, script]);
    expect(validateSchema(schema)).toEqual([]);
    const published = schema.getType('PublishedApis') as GraphQLObjectType;
    const field = published.getFields()['shop_orders']!;
    const args = Object.fromEntries(field.args.map((a) => [a.name, String(a.type)]));
    expect(args).toEqual({ region: '[String!]', revenue: '[Float!]', minId: 'Long!', paid: 'Boolean', pageNum: 'Int', pageSize: 'Int' });
    expect(String(field.type)).toBe('ApiPage_shop_orders!');
    expect(printType(schema.getType('Api_shop_orders')!)).toContain('amount: Float');
    // "__" names are GraphQL's own: such a column stays REST-only.
    expect(Object.keys((schema.getType('Api_shop_orders') as GraphQLObjectType).getFields())).toEqual(['id', 'amount', 'created']);
    // A script API without response parameters answers JSON objects, unpaged.
    const top = published.getFields()['top_hosts']!;
    expect(String(top.type)).toBe('ApiRows_top_hosts!');
    const rows = (schema.getType('ApiRows_top_hosts') as GraphQLObjectType).getFields()['rows']!.type;
    expect(rows).toBeInstanceOf(GraphQLNonNull);
    expect(String(((rows as GraphQLNonNull<GraphQLList<GraphQLNonNull<GraphQLObjectType>>>).ofType).ofType)).toBe('JSONObject!');
    // The static fields stay.
    expect(published.getFields()['catalogRevision']).toBeDefined();
    expect(schema.getQueryType()?.getFields()['cpuMemRollups']).toBeDefined();
  });

  it('never gives two APIs the same type name, whatever their names', () => {
    const names = ['shop', 'shop_Page', 'Page_shop', 'shop_Rows', 'Rows_shop'];
    const apis = names.map((name) => served({ name, path: `/${name}`, mode: 'wizard', dataSource: 'src', table: 't', responseParams: [{ column: 'a', type: 'INT' }] }));
    const schema = withPublishedApis(base, [...apis, served({ name: 'Page_shop_x', path: '/x', mode: 'script', dataSource: 'src', script: 'SELECT 1', pagination: false })]);
    expect(validateSchema(schema)).toEqual([]);
    expect(Object.keys((schema.getType('PublishedApis') as GraphQLObjectType).getFields())).toEqual(['catalogRevision', ...names, 'Page_shop_x']);
  });
});

describe('LiveSchema', () => {
  it('rebuilds and tells its listeners only when the served APIs change', () => {
    let apis: ServedApi[] = [];
    let notify = () => {};
    const catalog: PublishedCatalog = {
      served: () => apis,
      onRoutesChange: (listener) => {
        notify = listener;
        return () => {
          notify = () => {};
        };
      },
    };
    const live = new LiveSchema(base, catalog, pino({ level: 'silent' }));
    const seen: GraphQLSchema[] = [];
    live.onChange((s) => seen.push(s));
    const fields = () => Object.keys((live.current().getType('PublishedApis') as GraphQLObjectType).getFields());
    expect(fields()).toEqual(['catalogRevision']);

    apis = [wizard];
    notify();
    expect(fields()).toEqual(['catalogRevision', 'shop_orders']);
    notify(); // the route table reloaded, nothing changed
    expect(seen).toHaveLength(1);

    apis = [served({ ...(wizard.definition as ApiDefinitionInput) }, 2)]; // a new version
    notify();
    expect(seen).toHaveLength(2);

    apis = [];
    notify();
    expect(fields()).toEqual(['catalogRevision']);
    expect(seen.at(-1)).toBe(live.current());
    live.stop();
    apis = [wizard];
    notify();
    expect(fields()).toEqual(['catalogRevision']);
  });
});
