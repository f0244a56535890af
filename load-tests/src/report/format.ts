/** Formatting shared by the console tables and the markdown report; NaN prints as "–". */

export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return Math.round(value).toLocaleString('en-US');
}

export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

/** A difference in ms with its sign (a true minus), or a dash where it was not measured. */
export function formatSignedMs(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return `${value >= 0 ? '+' : '−'}${formatMs(Math.abs(value))}`;
}

export function formatMiB(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  return (bytes / 2 ** 20).toFixed(bytes >= 100 * 2 ** 20 ? 0 : 1);
}

export function formatRatio(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return `${value.toFixed(2)}×`;
}

export function formatMicros(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value.toFixed(1);
}

export function formatSeconds(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Pads cells into aligned columns (numbers right-aligned) for the console. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured markdown table; the first column left-aligned, the rest right-aligned. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|');
  const align = header.map((_, column) => (column === 0 ? ':--' : '--:'));
  return [header, align, ...rows].map((cells) => `| ${cells.map(escapeCell).join(' | ')} |`).join('\n');
}
