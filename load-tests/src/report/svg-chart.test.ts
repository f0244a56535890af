import { describe, expect, it } from 'vitest';
import { renderBarChart } from './svg-chart.js';

const bar = (label: string, value: number) => ({ label, value, text: `${value} req/s`, color: '#123456' });

describe('renderBarChart', () => {
  it('scales each group to its own largest bar', () => {
    const svg = renderBarChart('t', 's', [
      { title: 'small', bars: [bar('a', 10), bar('b', 5)] },
      { title: 'large', bars: [bar('c', 10_000)] },
    ]);
    const widths = [...svg.matchAll(/<rect x="240" y="\d+" width="([\d.]+)"/g)].map((match) =>
      Number(match[1]),
    );
    expect(widths).toEqual([500, 250, 500]);
  });

  it('draws a missing figure as "no figure", not as a zero-length bar', () => {
    const svg = renderBarChart('t', 's', [{ title: 'g', bars: [bar('a', 1), bar('failed', Number.NaN)] }]);
    expect(svg.match(/<rect x="240"/g)).toHaveLength(1);
    expect(svg).toContain('>no figure<');
  });

  it('escapes labels so a name cannot break the document', () => {
    const svg = renderBarChart('a < b & "c"', 's', [{ title: 'g', bars: [bar('x<y>', 1)] }]);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg).toContain('x&lt;y&gt;');
  });
});
