import { adminToken, type RunningEdge } from './edge.js';
import { send } from './http.js';

// The admin API as the end-to-end tests call it: typed answers, and one request helper.

export type AuditEntry = {
  seq: number;
  at: string;
  actor: string;
  action: string;
  change?: Record<string, unknown>;
  versionBefore: number;
  versionAfter: number;
  /** When the change was in force on the node (every worker); null until (or unless) that is recorded. */
  inForceAt: string | null;
};
/** 200 once the change is in force, with that instant; 202 with `inForceAt: null` when not confirmed in time. */
export type ChangeAnswer = {
  version: number;
  versionBefore: number;
  inForceAt: string | null;
  audit: AuditEntry;
  pending?: string;
};
export type PolicyView = {
  version: number;
  hostCount: number;
  orders: Array<Record<string, unknown> & { id: string; hostCount: number }>;
};
export type ErrorAnswer = { error: string; issues?: Array<{ path: string; message: string }> };
export type AdminAnswer<T> = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: T;
};

export type AdminCallOptions = {
  body?: unknown;
  /** Sent verbatim instead of `body` as JSON. */
  rawBody?: string;
  /** Content-Type of a body; default application/json. */
  contentType?: string;
  /** Bearer token; default the test token, `null` sends no Authorization. */
  token?: string | null;
  /** The whole Authorization header, verbatim (wins over `token`). */
  authorization?: string;
  headers?: Record<string, string>;
};

/** One admin request; the answer's body parsed as JSON when it is JSON, else the text. */
export async function callAdmin<T>(
  edge: RunningEdge,
  method: string,
  path: string,
  options: AdminCallOptions = {},
): Promise<AdminAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? adminToken : options.token;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (token !== null) headers.authorization = `Bearer ${token}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await send(`${edge.adminUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    json = response.body;
  }
  return { status: response.status, headers: response.headers, json: json as T };
}

export async function policyVersion(edge: RunningEdge): Promise<number> {
  return (await callAdmin<PolicyView>(edge, 'GET', '/policy')).json.version;
}

/** A regulator's notification body for the admin API. */
export function notification(hosts: string[], extra: Record<string, unknown> = {}) {
  return { hosts, notifiedBy: 'ARCOM', reference: 'ARCOM notification 2025-04-02 n°7', ...extra };
}
