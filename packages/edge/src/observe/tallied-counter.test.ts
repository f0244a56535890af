import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedCounter } from './tallied-counter.js';

describe('TalliedCounter', () => {
  it('shows every increment made before a scrape, once, and builds each label object once', async () => {
    const registry = new Registry();
    const counter = new TalliedCounter({
      name: 'test_blocks_total',
      help: 'test',
      labelNames: ['order_id', 'country'],
      registers: [registry],
    });
    let labelObjects = 0;
    const inc = (orderId: string, country: string) =>
      counter.inc(`${orderId} ${country}`, () => {
        labelObjects++;
        return { order_id: orderId, country };
      });
    const scrape = async () =>
      (await registry.metrics()).split('\n').filter((line) => line.startsWith('test_'));

    for (let n = 0; n < 3; n++) inc('paris-2025', 'FR');
    inc('paris-2025', 'GP');
    expect(await scrape()).toEqual([
      'test_blocks_total{order_id="paris-2025",country="FR"} 3',
      'test_blocks_total{order_id="paris-2025",country="GP"} 1',
    ]);
    // A second scrape must not add the same tallies again.
    expect(await scrape()).toEqual([
      'test_blocks_total{order_id="paris-2025",country="FR"} 3',
      'test_blocks_total{order_id="paris-2025",country="GP"} 1',
    ]);
    inc('paris-2025', 'FR');
    inc('rome-7', 'IT');
    expect(await scrape()).toEqual([
      'test_blocks_total{order_id="paris-2025",country="FR"} 4',
      'test_blocks_total{order_id="paris-2025",country="GP"} 1',
      'test_blocks_total{order_id="rome-7",country="IT"} 1',
    ]);
    expect(labelObjects).toBe(3);
  });

  it('counts into prom-client, so its JSON (what the cluster aggregates) agrees', async () => {
    const registry = new Registry();
    const counter = new TalliedCounter({
      name: 'test_requests_total',
      help: 'test',
      labelNames: ['outcome'],
      registers: [registry],
    });
    counter.inc('hit', () => ({ outcome: 'hit' }));
    counter.inc('hit', () => ({ outcome: 'hit' }));
    const [metric] = await registry.getMetricsAsJSON();
    expect(metric?.values).toEqual([{ value: 2, labels: { outcome: 'hit' } }]);
  });
});
