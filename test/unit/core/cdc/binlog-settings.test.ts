import { describe, expect, it } from 'vitest';
import { checkBinlogSettings, describeBinlogProblems } from '../../../../src/core/cdc/binlog-settings.js';

const vars = (entries: Record<string, string>) => new Map(Object.entries(entries));

/** What a fresh Debian MariaDB answers to SHOW GLOBAL VARIABLES: the binlog off and MIXED. */
const mariadbDefaults = { log_bin: 'OFF', binlog_format: 'MIXED', binlog_row_image: 'FULL', server_id: '1', version: '10.11.19-MariaDB-0+deb12u1' };
const mariadbReady = { ...mariadbDefaults, log_bin: 'ON', binlog_format: 'ROW' };
/** MySQL 8.4 defaults: binlog on, ROW, FULL. */
const mysql8 = {
  log_bin: 'ON',
  binlog_format: 'ROW',
  binlog_row_image: 'FULL',
  server_id: '1',
  binlog_transaction_compression: 'OFF',
  binlog_row_value_options: '',
  version: '8.4.3',
};

describe('checkBinlogSettings', () => {
  it('accepts a MariaDB with the row-based binlog on, and MySQL 8 with its defaults', () => {
    expect(checkBinlogSettings(vars(mariadbReady), 5401)).toEqual({ ok: true, flavor: 'mariadb', problems: [] });
    expect(checkBinlogSettings(vars(mysql8), 5401)).toEqual({ ok: true, flavor: 'mysql', problems: [] });
  });

  it("names every setting a fresh MariaDB lacks, with seed 002's option-file lines", () => {
    const verdict = checkBinlogSettings(vars(mariadbDefaults), 5401);
    expect(verdict.ok).toBe(false);
    expect(verdict.problems.map((p) => [p.variable, p.actual, p.required])).toEqual([
      ['log_bin', 'OFF', 'ON'],
      ['binlog_format', 'MIXED', 'ROW'],
    ]);
    const message = describeBinlogProblems(verdict);
    expect(message).toContain('MariaDB binlog cannot be used');
    expect(message).toContain('log_bin is OFF; needs ON');
    expect(message).toContain('[mysqld]');
    expect(message).toContain('log_bin = mysql-bin');
    expect(message).toContain('binlog_format = ROW');
    expect(message).toContain('restart');
  });

  it('rejects partial row images, a zero or missing server id, and STATEMENT format', () => {
    const verdict = checkBinlogSettings(vars({ ...mysql8, binlog_row_image: 'MINIMAL', server_id: '0', binlog_format: 'STATEMENT' }), 5401);
    expect(verdict.problems.map((p) => p.variable)).toEqual(['binlog_format', 'binlog_row_image', 'server_id']);
    expect(describeBinlogProblems(verdict)).toContain('binlog_row_image = FULL');
    const { log_bin: _omit, ...noLogBin } = mysql8;
    expect(checkBinlogSettings(vars(noLogBin), 5401).problems[0]).toMatchObject({ variable: 'log_bin', actual: '(not set)' });
  });

  it('accepts log_bin as 1 and values in any case', () => {
    expect(checkBinlogSettings(vars({ ...mariadbReady, log_bin: '1', binlog_format: 'row', binlog_row_image: 'full' }), 5401).ok).toBe(true);
  });

  it('refuses to connect with the server\'s own id', () => {
    const verdict = checkBinlogSettings(vars({ ...mariadbReady, server_id: '5401' }), 5401);
    expect(verdict.problems).toEqual([expect.objectContaining({ variable: 'server_id', fix: 'rollgate cdc --server-id <another id>' })]);
    expect(describeBinlogProblems(verdict)).toContain('--server-id');
  });

  it('rejects MySQL 8 binlog forms zongji cannot decode, which would lose rows', () => {
    const verdict = checkBinlogSettings(vars({ ...mysql8, binlog_transaction_compression: 'ON', binlog_row_value_options: 'PARTIAL_JSON' }), 5401);
    expect(verdict.problems.map((p) => p.variable)).toEqual(['binlog_transaction_compression', 'binlog_row_value_options']);
  });
});
