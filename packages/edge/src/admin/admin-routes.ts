import type { PurgeSelector } from '@edge451/cache';
import type { CountryLocator } from '@edge451/geo';
import type { PolicyChange } from '@edge451/policy';
import type { AuditLog } from '../runtime/audit-log.js';
import { explainDecision } from '../runtime/explain-decision.js';
import type { PolicyState } from '../runtime/policy-state.js';
import { AdminHttpError, type AdminRequest, type AdminResponse, json } from './admin-reply.js';

/** Prometheus exposition text and its content type. */
export type MetricsSource = { contentType: string; metrics(): Promise<string> };

export type AdminDeps = {
  policy: PolicyState;
  locator: CountryLocator;
  audit: AuditLog;
  /** This process's registry, or the cluster aggregate in a primary. */
  registry: MetricsSource;
  isReady: () => boolean;
  /** Purges this node's cache (every worker's, in a cluster); undefined when `cache: false`. */
  purge: ((selector: PurgeSelector) => Promise<number>) | undefined;
};

type Handler = (request: AdminRequest, params: string[], deps: AdminDeps) => Promise<AdminResponse>;
type Route = { method: string; pattern: RegExp; open: boolean; handle: Handler };

// A dozen fixed routes: a table of patterns reads better here than a router dependency.
const segment = '([^/]+)';
export const adminRoutes: Route[] = [
  { method: 'GET', pattern: /^\/healthz$/, open: true, handle: async () => json(200, { status: 'ok' }) },
  {
    method: 'GET',
    pattern: /^\/readyz$/,
    open: true,
    handle: async (_request, _params, deps) =>
      deps.isReady() ? json(200, { status: 'ready' }) : json(503, { status: 'starting' }),
  },
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    open: true,
    handle: async (_request, _params, deps) => ({
      status: 200,
      headers: { 'content-type': deps.registry.contentType },
      body: await deps.registry.metrics(),
    }),
  },
  {
    method: 'GET',
    pattern: /^\/policy$/,
    open: false,
    handle: async (_r, _p, deps) => json(200, describe(deps)),
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^/orders/${segment}$`),
    open: false,
    handle: (request, [id], deps) => {
      const body = objectBody(request);
      if (body.id !== undefined && body.id !== id) {
        throw new AdminHttpError(
          400,
          `order id in the body ("${String(body.id)}") differs from the URL ("${id}")`,
        );
      }
      return applyChange(deps, request, { type: 'put-order', order: { ...body, id } });
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^/orders/${segment}$`),
    open: false,
    handle: (request, [id], deps) => applyChange(deps, request, { type: 'delete-order', orderId: id ?? '' }),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/orders/${segment}/notifications$`),
    open: false,
    handle: (request, [id], deps) => {
      const body = objectBody(request);
      return applyChange(deps, request, { ...body, type: 'notify', orderId: id ?? '' } as PolicyChange);
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^/orders/${segment}/hosts/${segment}$`),
    open: false,
    handle: (request, [id, host], deps) => {
      const body = request.body === undefined ? {} : objectBody(request);
      const change = {
        liftedBy: request.actor,
        ...body,
        type: 'lift-host',
        orderId: id ?? '',
        host: host ?? '',
      };
      return applyChange(deps, request, change as PolicyChange);
    },
  },
  {
    method: 'GET',
    pattern: /^\/decide$/,
    open: false,
    handle: async (request, _params, deps) => {
      const host = request.query.get('host');
      if (host === null) throw new AdminHttpError(400, 'expected a host query parameter');
      const ip = request.query.get('ip') ?? undefined;
      const country = request.query.get('country') ?? undefined;
      if (ip === undefined && country === undefined) throw new AdminHttpError(400, 'expected ip or country');
      return json(200, explainDecision(deps.policy.current(), deps.locator, { host, ip, country }));
    },
  },
  {
    method: 'POST',
    pattern: /^\/cache\/purge$/,
    open: false,
    handle: async (request, _params, deps) => {
      if (deps.purge === undefined) throw new AdminHttpError(409, 'the cache is off (cache: false)');
      const purged = await deps.purge(objectBody(request) as PurgeSelector);
      return json(200, { purged });
    },
  },
  {
    method: 'GET',
    pattern: /^\/audit$/,
    open: false,
    handle: async (request, _params, deps) => {
      const limit = Number(request.query.get('limit') ?? '100');
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new AdminHttpError(400, 'expected limit to be a whole number from 1 to 10000');
      }
      return json(200, { entries: deps.audit.recent(limit) });
    },
  },
];

/**
 * Answers once the change is in force on this node (every worker, in a cluster), with that instant: 200.
 * 202 with `inForceAt: null` when that was not confirmed and stored within IN_FORCE_WAIT_MS: the change
 * is stored and applied, and GET /audit shows its in-force instant once it has one.
 */
async function applyChange(
  deps: AdminDeps,
  request: AdminRequest,
  change: PolicyChange,
): Promise<AdminResponse> {
  const { policy, entry, inForceAt } = await deps.policy.apply(change, request.actor);
  const answer = {
    version: policy.version,
    versionBefore: entry.versionBefore,
    inForceAt,
    audit: { ...entry, inForceAt },
  };
  if (inForceAt !== null) return json(200, answer);
  return json(202, { ...answer, pending: NOT_YET_IN_FORCE });
}

const NOT_YET_IN_FORCE =
  'the change is stored and applied, but its in-force instant was not confirmed and stored in time (the ' +
  "node's log says which workers lag); GET /audit shows its inForceAt once it is";

function describe(deps: AdminDeps) {
  const policy = deps.policy.current();
  return {
    version: policy.version,
    hostCount: policy.hostCount,
    unknownCountry: policy.unknownCountry,
    orders: policy.orders,
  };
}

function objectBody(request: AdminRequest): Record<string, unknown> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AdminHttpError(400, 'expected a JSON object body');
  }
  return body as Record<string, unknown>;
}
