/**
 * The floor of any Node.js gateway on this machine, for bench:query: a bare
 * node:http server that answers every request by POSTing one fixed ClickHouse
 * query through an undici keep-alive pool (as rollgate's ClickHouse data source
 * does) and wrapping the rows in an envelope. No routing, auth, rate limit,
 * binding, conversion or logging: what is left is two HTTP hops and two JSON
 * round trips in one JS thread.
 *
 *   CLICKHOUSE_URL=… SQL='SELECT … FORMAT JSON' node bench/node-proxy.mjs   # prints its port
 */
import http from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';
import { Pool } from 'undici';

const clickhouse = new URL(process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123');
const pool = new Pool(clickhouse.origin, { connections: 10 });
const sql = process.env.SQL ?? 'SELECT 1 FORMAT JSON';

const server = http.createServer(async (_req, res) => {
  try {
    const answer = await pool.request({ method: 'POST', path: '/?wait_end_of_query=1', body: sql });
    const body = await answer.body.json();
    const out = JSON.stringify({ errCode: 0, errMsg: 'success', data: { totalNum: body.rows_before_limit_at_least ?? body.rows, rows: body.data } });
    res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(out);
  } catch (err) {
    res.writeHead(502).end(String(err));
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => pool.close().then(() => process.exit(0))));
