import { type CandidateId, candidateLabels } from '../candidates/candidate.js';
import type { BenchResults } from '../run-scenarios.js';
import { formatMiB, formatRate, formatRatio } from './format.js';
import type { ChartGroup } from './svg-chart.js';

const colors: Record<CandidateId, string> = {
  origin: '#9e9e9e',
  upstream: '#bdbdbd',
  relay: '#e0e0e0',
  bare: '#616161',
  floor: '#8d6e63',
  'edge-1': '#d84315',
  'edge-auto': '#ff8a65',
  naive: '#5c6bc0',
  nginx: '#2e7d32',
};

/**
 * One chart group per throughput scenario: wrk's rows where wrk ran (autocannon saturates first on fast
 * paths), else autocannon's. Large-body scenarios are drawn in MiB/s, the rest in req/s; each bar's text
 * carries the ratio to the scenario's first baseline.
 */
export function throughputChartGroups(results: Pick<BenchResults, 'throughput'>): ChartGroup[] {
  return results.throughput.map(({ scenario, rows }) => {
    const tool = rows.some((row) => row.tool === 'wrk') ? 'wrk' : 'autocannon';
    const bytes = scenario.id.startsWith('large');
    const baseline = scenario.baselines[0];
    return {
      title: `${scenario.title} (${tool}, ${bytes ? 'MiB/s' : 'req/s'})`,
      bars: rows
        .filter((row) => row.tool === tool)
        .map((row) => {
          const value = bytes ? row.bytesPerSecond / 2 ** 20 : row.requestsPerSecond;
          const figure = bytes
            ? `${formatMiB(row.bytesPerSecond)} MiB/s`
            : `${formatRate(row.requestsPerSecond)} req/s`;
          const ratio =
            baseline === undefined || baseline === row.candidate
              ? ''
              : ` · ${formatRatio(row.ratios[baseline])} ${baseline}`;
          return {
            label: candidateLabels[row.candidate],
            value,
            text: `${figure}${ratio}`,
            color: colors[row.candidate],
          };
        }),
    };
  });
}
