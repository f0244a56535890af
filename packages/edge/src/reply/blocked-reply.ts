import type { IncomingHttpHeaders } from 'node:http';
import type { Decision, Order } from '@edge451/policy';
import Negotiator from 'negotiator';
import type { Reply } from '../lifecycle/context.js';
import { boundedMemo } from '../support/bounded-memo.js';
import { escapeHtml } from './escape-html.js';

export type LegalNotice = { blockedBy: string; contact?: string | undefined };

type BlockedFacts = { host: string; country: string | null; decision: Decision; requestId: string };

const offered = ['text/html', 'application/json'];

/**
 * The 451 answer (RFC 7725): `Link: <blockedBy>; rel="blocked-by"` names who implements the block, the body
 * names the order. HTML by default, JSON when the client prefers it.
 * `Cache-Control: no-store` because the answer depends on the client's country: no shared cache may keep it.
 */
export function blockedReply(
  requestHeaders: IncomingHttpHeaders,
  legal: LegalNotice,
  facts: BlockedFacts,
): Reply {
  const wantsJson = prefersJson(requestHeaders.accept);
  let body: string;
  let bytes: number;
  if (wantsJson) {
    body = jsonBody(legal, facts);
    bytes = Buffer.byteLength(body);
  } else {
    const page = pageBefore(legal, facts);
    const requestId = escapeHtml(facts.requestId);
    body = page.text + requestId + PAGE_END;
    bytes = page.bytes + Buffer.byteLength(requestId) + PAGE_END_BYTES;
  }
  return {
    status: 451,
    headers: {
      'content-type': wantsJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'content-length': bytes,
      'cache-control': 'no-store',
      link: legalParts(legal).link,
      vary: 'Accept',
    },
    body,
  };
}

// Clients send few distinct Accept values, so each is negotiated once.
const negotiateJson = boundedMemo(
  (accept) => new Negotiator({ headers: { accept } }).mediaType(offered) === 'application/json',
  256,
);

function prefersJson(accept: string | undefined): boolean {
  return accept !== undefined && negotiateJson(accept);
}

function orderSummary(decision: Decision) {
  const order = decision.order;
  if (order === undefined) return null;
  return { id: order.id, authority: order.authority, reference: order.reference, url: order.url ?? null };
}

function jsonBody(legal: LegalNotice, facts: BlockedFacts): string {
  return `${JSON.stringify({
    status: 451,
    title: 'Unavailable For Legal Reasons',
    host: facts.host,
    country: facts.country,
    reason: facts.decision.reason,
    order: orderSummary(facts.decision),
    blockedBy: legal.blockedBy,
    contact: legal.contact ?? null,
    requestId: facts.requestId,
  })}\n`;
}

// The parts of the page that depend only on an order or on the legal notice are escaped once per object
// (orders are immutable; a new config or policy brings new objects), not once per blocked request.
const orderHtml = new WeakMap<Order, string>();
const legalHtml = new WeakMap<LegalNotice, { link: string; blockedBy: string; contact: string }>();

function orderLines(decision: Decision): string {
  const order = orderSummary(decision);
  if (order === null || decision.order === undefined)
    return '<p>Access is restricted from your location.</p>';
  let html = orderHtml.get(decision.order);
  if (html === undefined) {
    html = `<dl>
<dt>Order</dt><dd>${escapeHtml(order.id)}</dd>
<dt>Authority</dt><dd>${escapeHtml(order.authority)}</dd>
<dt>Reference</dt><dd>${escapeHtml(order.reference)}</dd>${
      order.url === null
        ? ''
        : `\n<dt>Decision</dt><dd><a href="${escapeHtml(order.url)}">${escapeHtml(order.url)}</a></dd>`
    }
</dl>`;
    orderHtml.set(decision.order, html);
  }
  return html;
}

function legalParts(legal: LegalNotice) {
  let parts = legalHtml.get(legal);
  if (parts === undefined) {
    parts = {
      link: `<${legal.blockedBy}>; rel="blocked-by"`,
      blockedBy: `<p>Blocked by: <a href="${escapeHtml(legal.blockedBy)}">${escapeHtml(legal.blockedBy)}</a></p>`,
      contact: legal.contact === undefined ? '' : `<p>Contact: ${escapeHtml(legal.contact)}</p>`,
    };
    legalHtml.set(legal, parts);
  }
  return parts;
}

type PageStart = { text: string; bytes: number };

const PAGE_END = `</small></p>
</body>
</html>
`;
const PAGE_END_BYTES = Buffer.byteLength(PAGE_END);

// A page differs between two blocked requests for the same host, country and order only by its request
// id: what comes before it is made (and measured in bytes) once. Per notice and order object, as above;
// bounded, so a client inventing hosts under a wildcard order costs a rebuild each, never memory.
const pageStarts = new WeakMap<LegalNotice, WeakMap<Order, OrderPages>>();

/**
 * The page starts of one order. The last one made is kept beside the memo: 451s come in runs for one host
 * and country, and comparing two strings costs less than building the memo's key and hashing it (the
 * Map lookup was ~1,800 instructions of every 451).
 */
class OrderPages {
  readonly #byHostAndCountry: (hostAndCountry: string) => PageStart;
  #lastHost: string | undefined;
  #lastCountry: string | null = null;
  #last: PageStart | undefined;

  constructor(legal: LegalNotice, decision: Decision) {
    this.#byHostAndCountry = boundedMemo((key) => {
      const [host = '', country = ''] = key.split(' ');
      return measured(pageStart(legal, decision, host, country === '' ? null : country));
    }, 1024);
  }

  get(host: string, country: string | null): PageStart {
    if (this.#last !== undefined && host === this.#lastHost && country === this.#lastCountry)
      return this.#last;
    // Normalised hosts and country codes hold no space.
    const page = this.#byHostAndCountry(`${host} ${country ?? ''}`);
    this.#lastHost = host;
    this.#lastCountry = country;
    this.#last = page;
    return page;
  }
}

function pageBefore(legal: LegalNotice, facts: BlockedFacts): PageStart {
  const order = facts.decision.order;
  if (order === undefined) return measured(pageStart(legal, facts.decision, facts.host, facts.country));
  let byOrder = pageStarts.get(legal);
  if (byOrder === undefined) {
    byOrder = new WeakMap();
    pageStarts.set(legal, byOrder);
  }
  let pages = byOrder.get(order);
  if (pages === undefined) {
    pages = new OrderPages(legal, facts.decision);
    byOrder.set(order, pages);
  }
  return pages.get(facts.host, facts.country);
}

function measured(text: string): PageStart {
  return { text, bytes: Buffer.byteLength(text) };
}

/** The page up to its request id; PAGE_END follows the id. */
function pageStart(legal: LegalNotice, decision: Decision, host: string, country: string | null): string {
  const { blockedBy, contact } = legalParts(legal);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>451 Unavailable For Legal Reasons</title></head>
<body>
<h1>Unavailable For Legal Reasons</h1>
<p>${escapeHtml(host)} is not available from ${escapeHtml(country ?? 'your country')} because of a legal order.</p>
${orderLines(decision)}
${blockedBy}
${contact}
<p><small>Request `;
}
