import { compilePolicy, type Decision } from '@edge451/policy';
import { describe, expect, it } from 'vitest';
import { blockedReply } from './blocked-reply.js';

const policy = compilePolicy({
  orders: [
    {
      id: 'fr-1',
      authority: 'Tribunal <judiciaire> & "Paris"',
      reference: 'RG 25/1',
      url: 'https://example.org/a?b=1&c=2',
      countries: ['FR'],
      hosts: ['one.example', '*.one.example'],
    },
    { id: 'fr-2', authority: 'ARCOM', reference: 'N-2', countries: ['FR'], hosts: ['two.example'] },
  ],
});
const legal = { blockedBy: 'https://edge.example/legal', contact: 'legal@edge.example' };

function reply(host: string, accept?: string, country: string | null = 'FR', requestId = 'r-1') {
  const decision: Decision = policy.decide({ host, country: country ?? 'FR' });
  expect(decision.blocked).toBe(true);
  const headers = accept === undefined ? {} : { accept };
  return blockedReply(headers, legal, { host, country, decision, requestId });
}

const isJson = (accept?: string) =>
  String(reply('one.example', accept).headers['content-type']).startsWith('application/json');

describe('blockedReply', () => {
  it('negotiates HTML or JSON from Accept, q-values and ranges included, the same on every repeat', () => {
    for (let round = 0; round < 2; round++) {
      expect(isJson(undefined)).toBe(false);
      expect(isJson('text/html')).toBe(false);
      expect(isJson('*/*')).toBe(false);
      expect(isJson('application/json')).toBe(true);
      expect(isJson('application/*')).toBe(true);
      expect(isJson('text/html;q=0.5, application/json')).toBe(true);
      expect(isJson('application/json;q=0.1, text/html')).toBe(false);
    }
  });

  it('keeps negotiating correctly after more distinct Accept values than it remembers', () => {
    for (let n = 0; n < 600; n++)
      expect(isJson(`application/x-${n}, application/json;q=0.${1 + (n % 8)}`)).toBe(true);
    expect(isJson('text/html')).toBe(false);
  });

  it("escapes the order's and the notice's text in the page, once per order", () => {
    const first = String(reply('one.example').body);
    expect(first).toContain('Tribunal &lt;judiciaire&gt; &amp; &quot;Paris&quot;');
    expect(first).toContain('href="https://example.org/a?b=1&amp;c=2"');
    expect(first).toContain('Contact: legal@edge.example');
    expect(String(reply('one.example').body)).toBe(first);
    const second = String(reply('two.example').body);
    expect(second).toContain('<dd>fr-2</dd>');
    expect(second).toContain('<dd>ARCOM</dd>');
    expect(second).not.toContain('Decision</dt>');
  });

  it('sets Content-Length to the byte length and names who blocks in Link', () => {
    const answer = reply('one.example');
    expect(answer.headers['content-length']).toBe(Buffer.byteLength(String(answer.body)));
    expect(answer.headers.link).toBe('<https://edge.example/legal>; rel="blocked-by"');
  });

  it('names the host, country and request id of each request, also past the pages it remembers', () => {
    for (let n = 0; n < 1100; n++) {
      const host = `m${n}.one.example`;
      const requestId = `r-${n}<&>`;
      const answer = reply(
        n % 2 === 0 ? 'one.example' : host,
        undefined,
        n % 3 === 0 ? null : 'FR',
        requestId,
      );
      const body = String(answer.body);
      expect(body).toContain(
        `<p>${n % 2 === 0 ? 'one.example' : host} is not available from ${n % 3 === 0 ? 'your country' : 'FR'} `,
      );
      expect(body).toContain(`Request r-${n}&lt;&amp;&gt;</small>`);
      expect(answer.headers['content-length']).toBe(Buffer.byteLength(body));
    }
  });

  it('names the country of each request in a run of 451s for one host, and the host in a run for one country', () => {
    const runs: [string, string | null][] = [
      ['one.example', 'FR'],
      ['one.example', 'FR'],
      ['one.example', null],
      ['one.example', null],
      ['one.example', 'FR'],
      ['a.one.example', 'FR'],
      ['a.one.example', 'FR'],
      ['one.example', 'FR'],
    ];
    for (const [host, country] of runs) {
      const body = String(reply(host, undefined, country).body);
      expect(body).toContain(`<p>${host} is not available from ${country ?? 'your country'} `);
    }
  });

  it('measures a page holding non-ASCII order text in bytes', () => {
    const unicode = compilePolicy({
      orders: [
        {
          id: 'de-1',
          authority: 'Landgericht München',
          reference: '§ 7',
          countries: ['DE'],
          hosts: ['u.example'],
        },
      ],
    });
    const decision = unicode.decide({ host: 'u.example', country: 'DE' });
    for (const requestId of ['a', 'bb']) {
      const answer = blockedReply({}, legal, { host: 'u.example', country: 'DE', decision, requestId });
      expect(String(answer.body)).toContain('Landgericht München');
      expect(answer.headers['content-length']).toBe(Buffer.byteLength(String(answer.body)));
    }
  });
});
