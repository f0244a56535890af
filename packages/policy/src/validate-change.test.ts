import { describe, expect, it } from 'vitest';
import { changeShapeIssues } from './validate-change.js';

// The shape of a change alone, as the state directory checks a stored change: what no policy file can
// make valid is reported; what depends on the files (the order, its groups) is not.

const order = {
  id: 'fr-2025-motogp',
  authority: 'Tribunal judiciaire de Paris',
  reference: 'RG 25/01234',
  countries: ['FR', 'EU-EXTRA'],
  hosts: ['motogpstream.me', '*.mirrors.example'],
};
const notify = {
  type: 'notify',
  orderId: 'fr-2025-motogp',
  hosts: ['a.example', { host: 'b.example', includeSubdomains: true }],
  notifiedBy: 'ARCOM',
  reference: 'n°7',
  at: '2026-11-30T10:00:00.000Z',
};
const lift = { type: 'lift-host', orderId: 'fr-2025-motogp', host: '*.mirrors.example', liftedBy: 'court' };

describe('changeShapeIssues', () => {
  it('a well-formed change of each type has none, even naming an order or a group no file has', () => {
    for (const change of [
      { type: 'put-order', order },
      { type: 'delete-order', orderId: 'gone-from-the-files' },
      notify,
      lift,
    ]) {
      expect(changeShapeIssues(change)).toEqual([]);
    }
  });

  it('a damaged type, field, date, host or country is reported at its path', () => {
    const paths = (change: unknown) => changeShapeIssues(change).map((issue) => issue.path);
    expect(changeShapeIssues({ ...notify, type: 'notifx' })).toEqual([
      { path: 'type', message: expect.stringContaining('found "notifx"') },
    ]);
    expect(changeShapeIssues(null)).toEqual([{ path: 'type', message: expect.any(String) }]);
    expect(paths({ ...notify, at: 'yesterday' })).toEqual(['at']);
    expect(paths({ ...notify, hosts: ['a.example', 'b..example'] })).toEqual(['hosts[1]']);
    expect(paths({ ...notify, hosts: [] })).toEqual(['hosts']);
    expect(paths({ ...notify, notifiedBy: undefined })).toEqual(['notifiedBy']);
    expect(paths({ ...lift, host: 'not a host' })).toEqual(['host']);
    expect(paths({ type: 'delete-order', orderId: 'Upper Case' })).toEqual(['orderId']);
    expect(paths({ type: 'put-order', order: { ...order, countries: ['XX'] } })).toEqual([
      'order (id "fr-2025-motogp").countries[0]',
    ]);
    expect(paths({ type: 'put-order', order: { ...order, hosts: [42] } })).toEqual([
      'order (id "fr-2025-motogp").hosts[0]',
    ]);
  });
});
