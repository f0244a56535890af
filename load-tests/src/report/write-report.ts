import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { throughputChartGroups } from './chart-groups.js';
import { type ReportInput, renderMarkdownReport } from './markdown-report.js';
import { renderBarChart } from './svg-chart.js';

const docsDir = fileURLToPath(new URL('../../../docs/', import.meta.url));

/** Writes docs/benchmarks.md and docs/benchmarks.svg; returns the paths written. */
export async function writeReport(input: ReportInput): Promise<string[]> {
  await mkdir(docsDir, { recursive: true });
  const chartFile = `${docsDir}benchmarks.svg`;
  const reportFile = `${docsDir}benchmarks.md`;
  const subtitle = `${input.machineBefore.cpuModel}, ${input.machineBefore.cores} cores, ${input.machineBefore.takenAt.slice(0, 10)}; medians of ${input.options.rounds} round(s)`;
  await writeFile(
    chartFile,
    renderBarChart(
      'edge451 benchmark: throughput by scenario',
      subtitle,
      throughputChartGroups(input.results),
    ),
  );
  await writeFile(reportFile, renderMarkdownReport(input, 'benchmarks.svg'));
  return [reportFile, chartFile];
}
