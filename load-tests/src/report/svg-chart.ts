/** One bar: a label, its value, and the text printed after it. */
export type ChartBar = { label: string; value: number; text: string; color: string };
export type ChartGroup = { title: string; bars: ChartBar[] };

const width = 960;
const labelWidth = 240;
const barArea = 500;
const barHeight = 16;
const gap = 4;
const groupGap = 18;
const titleHeight = 20;

/**
 * A horizontal bar chart, one group per scenario, each group scaled to its own largest value (groups
 * differ by orders of magnitude). Hand-written SVG: a chart library would be a dependency for 60 lines.
 * Bars with a non-finite value are drawn as "no figure" rather than as zero.
 */
export function renderBarChart(title: string, subtitle: string, groups: readonly ChartGroup[]): string {
  const parts: string[] = [];
  let y = 56;
  for (const group of groups) {
    parts.push(`<text x="10" y="${y + 14}" class="group">${escapeXml(group.title)}</text>`);
    y += titleHeight + gap;
    const max = Math.max(...group.bars.map((bar) => (Number.isFinite(bar.value) ? bar.value : 0)), 1e-9);
    for (const bar of group.bars) {
      const length = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * barArea) : 0;
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 12}" class="label" text-anchor="end">${escapeXml(bar.label)}</text>`,
      );
      if (length > 0) {
        parts.push(
          `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" fill="${bar.color}"/>`,
        );
      }
      const text = length > 0 ? bar.text : 'no figure';
      parts.push(
        `<text x="${labelWidth + length + 6}" y="${y + 12}" class="value">${escapeXml(text)}</text>`,
      );
      y += barHeight + gap;
    }
    y += groupGap;
  }
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<style>.title{font-size:16px;font-weight:bold}.subtitle{font-size:12px;fill:#555}.group{font-size:13px;font-weight:bold}.label{font-size:12px}.value{font-size:11px;fill:#333}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" class="title">${escapeXml(title)}</text>
<text x="10" y="40" class="subtitle">${escapeXml(subtitle)}</text>
${parts.join('\n')}
</svg>
`;
}

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
