import { createClient, type ClickHouseClient } from '@clickhouse/client';

export interface ClickHouseEndpoint {
  url: string;
  database: string;
  user: string;
  password: string;
}

/**
 * The @clickhouse/client every ClickHouse store of rollgate uses, set up once. 18.16 rejects settings it does
 * not know, so only these go with every request, which it knows (and defaults to): since 25.8 64-bit integers
 * default to unquoted JSON numbers, which lose precision above 2^53, and an insert with a field the table lacks
 * must fail, not drop that field silently as current servers do.
 */
export function clickhouseClient(endpoint: ClickHouseEndpoint): ClickHouseClient {
  return createClient({
    url: endpoint.url,
    username: endpoint.user,
    password: endpoint.password,
    request_timeout: 30_000,
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1, input_format_skip_unknown_fields: 0 },
  });
}
