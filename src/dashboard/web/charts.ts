import type { EChartsCoreOption } from 'echarts/core';
import type { CpuMemHostTrendRow, CpuMemTopHostRow, RegionOrderTotalRow, RegionOrderTrendRow } from '../../../sdk/src/index.js';

/**
 * ECharts options from API rows (the SDK's types of the built-in APIs): pure
 * functions, so what each chart shows is plain to read and test.
 */
const ACCENT = ['#37e2d5', '#5b8cff', '#ffb547', '#ff5a6e', '#a66bff', '#6be27a', '#ff8ad8', '#e2e237'];
const AXIS = { axisLine: { lineStyle: { color: '#1d3a6e' } }, splitLine: { lineStyle: { color: '#13254a' } }, axisLabel: { color: '#7f93bd' } };
const BASE = { backgroundColor: 'transparent', color: ACCENT, textStyle: { color: '#d6e2ff' }, animationDuration: 300, grid: { left: 56, right: 24, top: 28, bottom: 28 } };

/** The time range every time chart spans, so the charts line up and a lone window is not stretched to fill the axis. */
export interface TimeRange {
  from: number;
  to: number;
}

const timeAxis = (range: TimeRange) => ({ type: 'time', min: range.from, max: range.to, ...AXIS });

export function hostLine(rows: readonly CpuMemHostTrendRow[], metric: 'cpu' | 'mem', range: TimeRange): EChartsCoreOption {
  const cpu = metric === 'cpu';
  return {
    ...BASE,
    tooltip: { trigger: 'axis' },
    legend: { top: 0, left: 'center', textStyle: { color: '#7f93bd' } },
    xAxis: timeAxis(range),
    yAxis: cpu
      ? { type: 'value', name: '%', min: 0, ...AXIS }
      : [
          { type: 'value', name: '%', min: 0, max: 100, ...AXIS },
          { type: 'value', name: 'GiB', min: 0, ...AXIS, splitLine: { show: false } },
        ],
    series: [
      {
        name: cpu ? 'max CPU %' : 'max memory %',
        type: 'line',
        showSymbol: rows.length < 3,
        smooth: true,
        areaStyle: { opacity: 0.15 },
        data: rows.map((r) => [r.window_start, cpu ? r.max_cpu_usage_pct : r.max_mem_usage_pct]),
      },
      ...(cpu
        ? []
        : [
            {
              name: 'max resident GiB',
              type: 'line',
              showSymbol: rows.length < 3,
              yAxisIndex: 1,
              lineStyle: { type: 'dashed' },
              data: rows.map((r) => [r.window_start, Math.round((r.max_mem / 1024 ** 3) * 100) / 100]),
            },
          ]),
    ],
  };
}

export function topHostsBar(rows: readonly CpuMemTopHostRow[]): EChartsCoreOption {
  // Hottest at the top of a horizontal bar chart: ECharts draws category 0 at the bottom.
  const ordered = [...rows].reverse();
  return {
    ...BASE,
    grid: { left: 96, right: 56, top: 8, bottom: 24 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'value', min: 0, ...AXIS },
    yAxis: { type: 'category', data: ordered.map((r) => r.ip), ...AXIS, axisLabel: { ...AXIS.axisLabel, interval: 0 } },
    series: [
      {
        name: 'max CPU %',
        type: 'bar',
        data: ordered.map((r) => r.max_cpu_usage_pct),
        label: { show: true, position: 'right', color: '#d6e2ff', formatter: (p: { value: number }) => `${p.value.toFixed(1)} %` },
        itemStyle: { borderRadius: [0, 3, 3, 0] },
      },
    ],
  };
}

/** Regions by revenue, largest at the top; `limit` of them (a city-level order table has dozens). */
export function regionTotalsBar(rows: readonly RegionOrderTotalRow[], limit = 12): EChartsCoreOption {
  const top = [...rows].sort((a, b) => b.order_total_revenue - a.order_total_revenue || a.order_region.localeCompare(b.order_region)).slice(0, limit);
  const ordered = top.reverse();
  return {
    ...BASE,
    grid: { left: 72, right: 72, top: 8, bottom: 24 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'value', min: 0, ...AXIS },
    yAxis: { type: 'category', data: ordered.map((r) => r.order_region), ...AXIS, axisLabel: { ...AXIS.axisLabel, interval: 0 } },
    series: [
      {
        name: 'revenue',
        type: 'bar',
        data: ordered.map((r) => r.order_total_revenue),
        label: { show: true, position: 'right', color: '#d6e2ff', formatter: (p: { dataIndex: number }) => plural(ordered[p.dataIndex]?.order_cnt ?? 0, 'order') },
        itemStyle: { borderRadius: [0, 3, 3, 0], color: '#5b8cff' },
      },
    ],
  };
}

/** Revenue per 5-minute window, stacked by region: the `limit` largest regions of the range, the rest as "other". */
export function regionTrendBars(rows: readonly RegionOrderTrendRow[], range: TimeRange, limit = 7): EChartsCoreOption {
  const revenue = new Map<string, number>();
  for (const r of rows) revenue.set(r.order_region, (revenue.get(r.order_region) ?? 0) + r.order_total_revenue);
  const named = [...revenue.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit).map(([region]) => region);
  const groups = revenue.size > named.length ? [...named, 'other'] : named;
  const byGroup = new Map<string, Map<string, number>>(groups.map((g) => [g, new Map()]));
  for (const r of rows) {
    const group = byGroup.get(named.includes(r.order_region) ? r.order_region : 'other');
    group?.set(r.window_start, (group.get(r.window_start) ?? 0) + r.order_total_revenue);
  }
  return {
    ...BASE,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { top: 0, right: 0, textStyle: { color: '#7f93bd' } },
    xAxis: timeAxis(range),
    yAxis: { type: 'value', name: 'revenue', min: 0, ...AXIS },
    series: groups.map((group) => ({
      name: group,
      type: 'bar',
      stack: 'revenue',
      barMaxWidth: 18,
      data: [...(byGroup.get(group) ?? new Map<string, number>()).entries()].map(([windowStart, value]) => [windowStart, Math.round(value * 100) / 100]),
    })),
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** How many data points an option draws: what the page reports on each chart for people and tests. */
export function pointCount(option: EChartsCoreOption): number {
  const series = (option as { series?: Array<{ data?: unknown[] }> }).series ?? [];
  return series.reduce((n, s) => n + (s.data?.length ?? 0), 0);
}
