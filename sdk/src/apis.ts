/**
 * Parameters and rows of the gateway's built-in published APIs, so
 * `client.rows('cpu-mem-5min', { ip })` is typed. Any other path is called
 * with plain `Params` and rows typed by the caller. Times are ISO-8601 UTC
 * strings; a `Date` parameter is sent as one.
 */
export type ParamScalar = string | number | boolean | Date;
export type ParamValue = ParamScalar | ReadonlyArray<ParamScalar> | null | undefined;
export type Params = Record<string, ParamValue>;

/** Paging parameters of every API published with pagination. */
export interface PageParams {
  /** 1-based; `pages()` and `rows()` start here and walk forward. */
  pageNum?: number;
  /** Rows per page, up to the gateway's API_MAX_PAGE_SIZE (2,000 by default). */
  pageSize?: number;
}

export interface WindowParams {
  /** Windows starting at or after this time. */
  from?: string | Date;
  /** Windows starting before this time. */
  to?: string | Date;
}

export interface CpuMem5minParams extends PageParams, WindowParams {
  ip?: string;
  pid?: number;
  /** true: closed windows only; false: open (partial) windows only. */
  final?: boolean;
}

/** Maxima of one (ip, pid) over one 5-minute window; newest window first, then ip, pid. */
export interface CpuMem5minRow {
  window_start: string;
  ip: string;
  pid: number;
  mem: number;
  cpu_usage_pct: number;
  mem_usage_pct: number;
  samples: number;
  final: boolean;
}

export interface CpuMemTopHostsParams extends PageParams {
  /** Windows starting at or after this time (required). */
  from: string | Date;
  to?: string | Date;
}

/** One host's largest values over a time range (over its processes); hottest host first. */
export interface CpuMemTopHostRow {
  ip: string;
  max_cpu_usage_pct: number;
  max_mem_usage_pct: number;
  max_mem: number;
  /** Processes of the host seen in the range. */
  processes: number;
}

export interface CpuMemHostTrendParams {
  ip: string;
  /** Windows starting at or after this time (required). */
  from: string | Date;
  to?: string | Date;
}

/** One host's maxima over its processes in one 5-minute window; oldest window first. */
export interface CpuMemHostTrendRow {
  window_start: string;
  max_cpu_usage_pct: number;
  max_mem_usage_pct: number;
  max_mem: number;
}

export interface ProcTotals5minParams extends PageParams, WindowParams {
  ip?: string;
  pid?: number;
  final?: boolean;
}

/** Sums, minimum and mean of one (ip, pid) over one 5-minute window; newest window first. */
export interface ProcTotals5minRow {
  window_start: string;
  ip: string;
  pid: number;
  samples: number;
  cpu_pct_sum: number;
  mem_res_sum: number;
  cpu_pct_min: number;
  mem_usage_pct_avg: number;
  final: boolean;
}

export interface WebPv5minParams extends PageParams, WindowParams {
  app_id?: string;
  page_id?: string;
  event_type?: string;
  final?: boolean;
}

export interface WebPv5minRow {
  window_start: string;
  app_id: string;
  page_id: string;
  event_type: string;
  pv: number;
  /** Distinct visitors, estimated (HyperLogLog, about 1.6 % standard error). */
  uv: number;
  final: boolean;
}

export interface RegionOrderTotalsParams {
  region?: string;
}

export interface RegionOrderTotalRow {
  order_region: string;
  order_cnt: number;
  /** Exact to the cent. */
  order_total_revenue: number;
}

export interface RegionOrderTrendParams extends WindowParams {
  region?: string;
}

/** One region's orders in one 5-minute window of create_time; oldest window first. */
export interface RegionOrderTrendRow extends RegionOrderTotalRow {
  window_start: string;
}

/** The built-in APIs by path (under /api). */
export interface BuiltinApis {
  'cpu-mem-5min': { params: CpuMem5minParams; row: CpuMem5minRow };
  'cpu-mem-top-hosts': { params: CpuMemTopHostsParams; row: CpuMemTopHostRow };
  'cpu-mem-host-trend': { params: CpuMemHostTrendParams; row: CpuMemHostTrendRow };
  'proc-totals-5min': { params: ProcTotals5minParams; row: ProcTotals5minRow };
  'web-pv-5min': { params: WebPv5minParams; row: WebPv5minRow };
  'region-order-totals': { params: RegionOrderTotalsParams; row: RegionOrderTotalRow };
  'region-order-trend': { params: RegionOrderTrendParams; row: RegionOrderTrendRow };
}

/**
 * One page of a paged API's answer (the envelope's `data`). An API without
 * paging answers as one page holding all its rows; `truncated` is then true
 * when the gateway's row cap (API_MAX_ROWS, or the API's own) cut them.
 */
export interface Page<Row> {
  pageNum: number;
  pageSize: number;
  /** Rows matching the parameters, over all pages. */
  totalNum: number;
  rows: Row[];
  truncated?: boolean;
}

/** The envelope's `data` of an API without paging. */
export interface UnpagedData<Row> {
  rows: Row[];
  /** The rows were cut at `rowLimit`. */
  truncated: boolean;
  rowLimit: number;
}

/** What `POST /auth/token` answers. */
export interface TokenResponse {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
  expiresAt: string;
  appKey: string;
  grants: string[];
}
