/**
 * Whether a MySQL or MariaDB server writes a binlog that CDC can read: row
 * events with full before and after images. Pure: it judges the rows of
 * `SHOW GLOBAL VARIABLES`, so it is unit-tested without a server.
 */

/** The variables `rollgate cdc` asks the server for. */
export const BINLOG_VARIABLES = [
  'log_bin',
  'binlog_format',
  'binlog_row_image',
  'server_id',
  'binlog_transaction_compression',
  'binlog_row_value_options',
  'version',
] as const;

export interface BinlogSettingProblem {
  variable: string;
  actual: string;
  required: string;
  /** The `[mysqld]` option-file line that fixes it. */
  fix: string;
}

export interface BinlogSettingsVerdict {
  ok: boolean;
  flavor: 'mariadb' | 'mysql';
  problems: BinlogSettingProblem[];
}

/**
 * `variables` maps lower-case variable names to their values, as
 * `SHOW GLOBAL VARIABLES` returns them. `replicaServerId` is the id CDC
 * connects with: a replica with the server's own id is refused.
 */
export function checkBinlogSettings(variables: ReadonlyMap<string, string>, replicaServerId: number): BinlogSettingsVerdict {
  const get = (name: string) => variables.get(name)?.trim() ?? '';
  const flavor = /mariadb/i.test(get('version')) ? 'mariadb' : 'mysql';
  const problems: BinlogSettingProblem[] = [];
  const require = (variable: string, ok: (value: string) => boolean, required: string, fix: string) => {
    const actual = get(variable);
    if (!ok(actual)) problems.push({ variable, actual: actual === '' ? '(not set)' : actual, required, fix });
  };
  const is = (expected: string) => (value: string) => value.toUpperCase() === expected;

  require('log_bin', (v) => v.toUpperCase() === 'ON' || v === '1', 'ON', 'log_bin = mysql-bin');
  require('binlog_format', is('ROW'), 'ROW', 'binlog_format = ROW');
  require('binlog_row_image', is('FULL'), 'FULL', 'binlog_row_image = FULL');
  require('server_id', (v) => /^[1-9][0-9]*$/.test(v), 'a non-zero id', 'server_id = 1');
  const serverId = get('server_id');
  if (serverId !== '' && serverId === String(replicaServerId)) {
    problems.push({
      variable: 'server_id',
      actual: serverId,
      required: `different from the id CDC connects with (${replicaServerId})`,
      fix: 'rollgate cdc --server-id <another id>',
    });
  }
  // MySQL 8 only: zongji cannot decode these event forms, and rows would be lost.
  if (variables.has('binlog_transaction_compression')) {
    require('binlog_transaction_compression', (v) => v.toUpperCase() === 'OFF' || v === '0', 'OFF', 'binlog_transaction_compression = OFF');
  }
  if (variables.has('binlog_row_value_options')) {
    require('binlog_row_value_options', (v) => !/PARTIAL_JSON/i.test(v), "'' (no PARTIAL_JSON)", "binlog_row_value_options = ''");
  }
  return { ok: problems.length === 0, flavor, problems };
}

/** The message `rollgate cdc` fails with: what is wrong, and the server settings that fix it. */
export function describeBinlogProblems(verdict: BinlogSettingsVerdict): string {
  const lines = verdict.problems.map((p) => `  ${p.variable} is ${p.actual}; needs ${p.required}`);
  const fixes = [...new Set(verdict.problems.filter((p) => !p.fix.startsWith('rollgate')).map((p) => p.fix))];
  const cliFixes = verdict.problems.filter((p) => p.fix.startsWith('rollgate')).map((p) => p.fix);
  return [
    `the ${verdict.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} binlog cannot be used for change-data capture:`,
    ...lines,
    ...(fixes.length > 0
      ? ['Set these in the server\'s option file and restart it (log_bin cannot change at run time):', '  [mysqld]', ...fixes.map((f) => `  ${f}`)]
      : []),
    ...(cliFixes.length > 0 ? [`Or run ${cliFixes.join('; ')}.`] : []),
  ].join('\n');
}
