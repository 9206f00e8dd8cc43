/** Seed 000's three nodes with `xxx` replaced by a business id, as its script sends them. */
export function seedNodes(biz: number, storage: 'tspider_storage' | 'clickhouse_storage' | 'mysql_storage' = 'tspider_storage'): Array<Record<string, unknown>> {
  return [
    { result_table_id: `${biz}_system_proc`, bk_biz_id: biz, from_nodes: [], frontend_info: { y: 50, x: 30 }, id: 1, node_type: 'stream_source', name: 'data source' },
    {
      id: 2,
      bk_biz_id: biz,
      count_freq: 300,
      window_type: 'scroll',
      table_name: 'system_proc_ip_grp',
      from_nodes: [{ from_result_table_ids: [`${biz}_system_proc`], id: 1 }],
      output_name: 'Statistics of maximum memory and cpu in 5 minutes',
      waiting_time: 60,
      frontend_info: { y: 50, x: 350 },
      sql: `SELECT max(mem_res) as mem, max(cpu_usage_pct) as cpu_usage_pct,max(mem_usage_pct) as mem_usage_pct,ip,pid
                        FROM ${biz}_system_proc
                      group by ip, pid`,
      node_type: 'realtime',
      name: 'Statistics of maximum memory and cpu in 5 minutes',
    },
    {
      indexed_fields: ['create_by', 'biz_id', 'visitor_department', 'visitor_group'],
      expires: 3,
      result_table_id: `${biz}_cpu_mem_test_5min`,
      bk_biz_id: biz,
      from_nodes: [{ from_result_table_ids: [`${biz}_system_proc_ip_grp`], id: 2 }],
      frontend_info: { y: 50, x: 600 },
      id: 3,
      cluster: 'yyy-lasting',
      node_type: storage,
      name: 'Statistics on the maximum memory and cpu in 5 minutes',
    },
  ];
}
