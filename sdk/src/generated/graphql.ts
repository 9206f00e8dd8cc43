/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Window starts are matched in [from, to) */
export type CpuMemFilter = {
  /** Only windows that can no longer change */
  finalOnly?: boolean | null | undefined;
  from?: string | null | undefined;
  ip?: string | null | undefined;
  pid?: number | null | undefined;
  to?: string | null | undefined;
};

/** Order of cpu-mem-5min rollups */
export type CpuMemOrder =
  /** Oldest window first: the exact reverse of WINDOW_START_DESC */
  | 'WINDOW_START_ASC'
  /** Newest window first; within a window by ip, then pid */
  | 'WINDOW_START_DESC';

export type CpuMemRollupConnectionQueryVariables = Exact<{
  filter?: CpuMemFilter | null | undefined;
  orderBy?: CpuMemOrder | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type CpuMemRollupConnectionQuery = { cpuMemRollupConnection: { totalCount: number, pageInfo: { hasPreviousPage: boolean, hasNextPage: boolean, startCursor: string | null, endCursor: string | null }, edges: Array<{ cursor: string, node: { windowStart: string, ip: string, pid: number, mem: number, cpuUsagePct: number, memUsagePct: number, samples: number, final: boolean } }> } };

export type CpuMemRollupsQueryVariables = Exact<{
  filter?: CpuMemFilter | null | undefined;
  pageNum?: number | null | undefined;
  pageSize?: number | null | undefined;
}>;


export type CpuMemRollupsQuery = { cpuMemRollups: { pageNum: number, pageSize: number, totalNum: number, rows: Array<{ windowStart: string, ip: string, pid: number, mem: number, cpuUsagePct: number, memUsagePct: number, samples: number, final: boolean }> } };

export type RegionOrderTotalsQueryVariables = Exact<{
  region?: string | null | undefined;
}>;


export type RegionOrderTotalsQuery = { regionOrderTotals: Array<{ region: string, orderCnt: number, orderTotalRevenue: number, orderTotalRevenueDecimal: string }> };

export type RegionOrderTrendQueryVariables = Exact<{
  region?: string | null | undefined;
  from?: string | null | undefined;
  to?: string | null | undefined;
}>;


export type RegionOrderTrendQuery = { regionOrderTrend: Array<{ windowStart: string, region: string, orderCnt: number, orderTotalRevenue: number, orderTotalRevenueDecimal: string }> };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const CpuMemRollupConnectionDocument = new TypedDocumentString(`
    query CpuMemRollupConnection($filter: CpuMemFilter, $orderBy: CpuMemOrder, $first: Int, $after: String, $last: Int, $before: String) {
  cpuMemRollupConnection(
    filter: $filter
    orderBy: $orderBy
    first: $first
    after: $after
    last: $last
    before: $before
  ) {
    totalCount
    pageInfo {
      hasPreviousPage
      hasNextPage
      startCursor
      endCursor
    }
    edges {
      cursor
      node {
        windowStart
        ip
        pid
        mem
        cpuUsagePct
        memUsagePct
        samples
        final
      }
    }
  }
}
    `) as unknown as TypedDocumentString<CpuMemRollupConnectionQuery, CpuMemRollupConnectionQueryVariables>;
export const CpuMemRollupsDocument = new TypedDocumentString(`
    query CpuMemRollups($filter: CpuMemFilter, $pageNum: Int, $pageSize: Int) {
  cpuMemRollups(filter: $filter, pageNum: $pageNum, pageSize: $pageSize) {
    pageNum
    pageSize
    totalNum
    rows {
      windowStart
      ip
      pid
      mem
      cpuUsagePct
      memUsagePct
      samples
      final
    }
  }
}
    `) as unknown as TypedDocumentString<CpuMemRollupsQuery, CpuMemRollupsQueryVariables>;
export const RegionOrderTotalsDocument = new TypedDocumentString(`
    query RegionOrderTotals($region: String) {
  regionOrderTotals(region: $region) {
    region
    orderCnt
    orderTotalRevenue
    orderTotalRevenueDecimal
  }
}
    `) as unknown as TypedDocumentString<RegionOrderTotalsQuery, RegionOrderTotalsQueryVariables>;
export const RegionOrderTrendDocument = new TypedDocumentString(`
    query RegionOrderTrend($region: String, $from: DateTimeISO, $to: DateTimeISO) {
  regionOrderTrend(region: $region, from: $from, to: $to) {
    windowStart
    region
    orderCnt
    orderTotalRevenue
    orderTotalRevenueDecimal
  }
}
    `) as unknown as TypedDocumentString<RegionOrderTrendQuery, RegionOrderTrendQueryVariables>;