import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { PolicyValidationError } from './errors.js';
import { validateSources } from './validate-document.js';

const order = { id: 'o', authority: 'a', reference: 'r', countries: ['FR'], hosts: ['a.example'] };

function issuesOf(value: unknown) {
  try {
    compilePolicy(value);
  } catch (error) {
    if (error instanceof PolicyValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected a PolicyValidationError');
}

describe('document validation', () => {
  it('checks every field of an order and names the order by index and id', () => {
    const issues = issuesOf({
      orders: [
        {
          ...order,
          id: 'Bad Id',
          url: 'ftp://x.example',
          until: '2025-01-01T00:00:00Z',
          from: '2025-01-01T00:00:00Z',
        },
        { ...order, id: 'o2', includeSubdomains: 'yes', purgeCache: 1, hosts: 'a.example' },
        'not an order',
      ],
    });
    expect(issues).toEqual([
      {
        path: 'orders[0] (id "Bad Id").id',
        message: 'expected an id of 1–128 lower-case letters, digits, ".", "_" or "-", found "Bad Id"',
      },
      { path: 'orders[0] (id "Bad Id").url', message: 'expected an http(s) URL, found "ftp://x.example"' },
      {
        path: 'orders[0] (id "Bad Id").until',
        message: 'expected a date-time after from (2025-01-01T00:00:00Z), found "2025-01-01T00:00:00Z"',
      },
      { path: 'orders[1] (id "o2").includeSubdomains', message: 'expected true or false, found "yes"' },
      { path: 'orders[1] (id "o2").purgeCache', message: 'expected true or false, found number 1' },
      { path: 'orders[1] (id "o2").hosts', message: 'expected a list, found "a.example"' },
      { path: 'orders[2]', message: 'expected a mapping, found "not an order"' },
    ]);
  });

  it('requires orders, and refuses unknown top-level keys', () => {
    expect(issuesOf({ order: [] })).toEqual([
      { path: 'orders', message: 'expected a list, found nothing' },
      {
        path: 'order',
        message: 'unknown key: expected one of unknownCountry, countryGroups, orders, notifications, lifts',
      },
    ]);
  });

  it('checks country groups: names, members, built-ins, and use', () => {
    const issues = issuesOf({
      countryGroups: {
        'fr-all': ['FR'],
        EU: ['FR'],
        NESTED: ['FR-ALL'],
        WRONG: ['FR', 'UK'],
        BENELUX: ['be', 'NL'],
      },
      orders: [{ ...order, countries: ['benelux', 'wrong', 'missing', 'xx'] }],
    });
    expect(issues).toEqual([
      {
        path: 'countryGroups.fr-all',
        message: '"FR-ALL" is a built-in group (FR GP MQ GF RE YT PM BL MF WF PF NC); choose another name',
      },
      {
        path: 'countryGroups.EU',
        message: 'expected a group name of 3–64 letters, digits, "-" or "_", found "EU"',
      },
      {
        path: 'countryGroups.NESTED[0]',
        message: 'expected an ISO 3166-1 alpha-2 code (groups do not nest), found "FR-ALL"',
      },
      {
        path: 'countryGroups.WRONG[1]',
        message: 'expected an ISO 3166-1 alpha-2 country code, found "UK" (did you mean "GB"?)',
      },
      {
        path: 'orders[0] (id "o").countries[1]',
        message: 'expected an ISO 3166-1 alpha-2 code or the name of a country group, found "wrong"',
      },
      {
        path: 'orders[0] (id "o").countries[2]',
        message: 'expected an ISO 3166-1 alpha-2 code or the name of a country group, found "missing"',
      },
      {
        path: 'orders[0] (id "o").countries[3]',
        message: 'expected an ISO 3166-1 alpha-2 country code, found "XX"',
      },
    ]);
  });

  it('refuses a group defined differently in two files, naming both', () => {
    const a = { file: 'a.yaml', value: { countryGroups: { DOM: ['GP'] }, orders: [] } };
    const b = { file: 'b.yaml', value: { countryGroups: { dom: ['MQ'] }, orders: [] } };
    expect(() => validateSources([a, b])).toThrow(
      'b.yaml: countryGroups.dom: group "DOM" is already defined differently at a.yaml countryGroups.DOM',
    );
    const same = { file: 'c.yaml', value: { countryGroups: { DOM: ['gp'] }, orders: [] } };
    expect(validateSources([a, same]).groups.resolve('DOM')).toEqual(['GP']);
  });

  it('checks notifications and lifts, naming their order', () => {
    const issues = issuesOf({
      orders: [order],
      notifications: [
        {
          orderId: 'nope',
          hosts: ['b.example'],
          notifiedBy: 'ARCOM',
          reference: 'n',
          at: '2025-01-01T00:00:00Z',
        },
        { orderId: 'o', hosts: [], notifiedBy: 'ARCOM', reference: 'n', at: 'yesterday' },
      ],
      lifts: [{ orderId: 'o', host: '*.com', liftedBy: 'court', at: '2025-01-01T00:00:00Z', why: 'x' }],
    });
    expect(issues).toEqual([
      {
        path: 'notifications[0] (order "nope").orderId',
        message: 'expected the id of an order, found "nope" (no such order)',
      },
      {
        path: 'notifications[1] (order "o").at',
        message:
          'expected an RFC 3339 date-time with an offset, such as "2025-03-28T00:00:00Z", found "yesterday"',
      },
      { path: 'notifications[1] (order "o").hosts', message: 'expected at least 1 entry, found none' },
      {
        path: 'lifts[0] (order "o").why',
        message: 'unknown key: expected one of orderId, host, liftedBy, reference, at',
      },
      {
        path: 'lifts[0] (order "o").host',
        message:
          'expected a host name such as "example.com" or "*.example.com", found "*.com": a wildcard or includeSubdomains must name at least two labels',
      },
    ]);
  });

  it('does not cascade: entries of an invalid order are not reported again', () => {
    const issues = issuesOf({
      orders: [{ ...order, countries: [] }],
      notifications: [
        {
          orderId: 'o',
          hosts: ['b.example'],
          notifiedBy: 'ARCOM',
          reference: 'n',
          at: '2025-01-01T00:00:00Z',
        },
      ],
    });
    expect(issues).toEqual([
      { path: 'orders[0] (id "o").countries', message: 'expected at least 1 entry, found none' },
    ]);
  });
});
