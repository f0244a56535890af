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
      hosts: ['one.example'],
    },
    { id: 'fr-2', authority: 'ARCOM', reference: 'N-2', countries: ['FR'], hosts: ['two.example'] },
  ],
});
const legal = { blockedBy: 'https://edge.example/legal', contact: 'legal@edge.example' };

function reply(host: string, accept?: string) {
  const decision: Decision = policy.decide({ host, country: 'FR' });
  expect(decision.blocked).toBe(true);
  const headers = accept === undefined ? {} : { accept };
  return blockedReply(headers, legal, { host, country: 'FR', decision, requestId: 'r-1' });
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
});
