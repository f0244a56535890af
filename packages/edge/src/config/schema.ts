import { checkCidr } from '@edge451/geo';
import { isCountryCode } from '@edge451/policy';
import { z } from 'zod';

// Every object is strict: an unknown key is a typo an operator must hear about, not a silent no-op.

// `port: ${PORT}` arrives as a string after interpolation: every numeric field accepts a numeral string.
const fromNumeral = (value: unknown) =>
  typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
const numeric = <T extends z.ZodType>(schema: T) => z.preprocess(fromNumeral, schema);
const wholeNumber = (message: string) => numeric(z.number({ error: message }).int(message).positive(message));
const portMessage = 'expected a port number from 0 to 65535';
const port = numeric(
  z.number({ error: portMessage }).int(portMessage).min(0, portMessage).max(65535, portMessage),
);
const hostAddress = z.string().min(1, 'expected a listen address such as 0.0.0.0, 127.0.0.1 or ::');
const durationMs = wholeNumber('expected a duration in milliseconds');

// A pair of files as certbot writes them: `cert` holds the chain, leaf first (fullchain.pem).
const tlsFilesSchema = z.strictObject({
  cert: z.string().min(1, "expected the path of a PEM certificate chain, such as certbot's fullchain.pem"),
  key: z.string().min(1, "expected the path of the certificate's PEM private key, such as privkey.pem"),
});

// A listener with `tls` terminates TLS and its pair is the certificate for unknown or absent SNI.
const listenerSchema = z
  .strictObject({
    host: hostAddress.default('0.0.0.0'),
    port: port.optional(),
    tls: tlsFilesSchema.optional(),
  })
  .transform(({ host, port, tls }) => ({
    host,
    port: port ?? (tls === undefined ? 8080 : 8443),
    ...(tls && { tls }),
  }));

const listenerListSchema = z
  .array(listenerSchema)
  .min(1, 'expected at least one listener')
  .superRefine((listeners, context) => {
    const seen = new Map<string, number>();
    listeners.forEach((listener, index) => {
      const address = `${listener.host}:${listener.port}`;
      const first = seen.get(address);
      if (first !== undefined && listener.port !== 0) {
        const message = `expected a different address than listen[${first}] (${address})`;
        context.addIssue({ code: 'custom', path: [index], message });
      }
      seen.set(address, index);
    });
  });

// One listener or a list. Not z.union: a union reports "Invalid input" for a listener with a bad port;
// choosing the schema by shape keeps messages at the key that is wrong (`listen.port`, `listen[1].tls`).
const listenSchema = z.unknown().transform((value, context) => {
  const parsed: z.ZodSafeParseResult<ListenerConfig | ListenerConfig[]> | undefined = Array.isArray(value)
    ? listenerListSchema.safeParse(value)
    : typeof value === 'object' && value !== null
      ? listenerSchema.safeParse(value)
      : undefined;
  if (parsed === undefined) {
    context.addIssue({
      code: 'custom',
      message: 'expected a listener { host, port, tls? } or a list of them',
    });
    return z.NEVER;
  }
  return resultOf(parsed, context);
});

/** A nested parse's value, or its issues reported at their own paths (the alternative to z.union's "Invalid input"). */
function resultOf<T>(parsed: z.ZodSafeParseResult<T>, context: z.RefinementCtx): T {
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) context.addIssue({ ...issue });
  return z.NEVER;
}

// A day at most: far beyond any sane client timeout, and well below the ~24.8 days past which Node's
// timers overflow and fire at once (which would cut every idle keep-alive connection immediately).
const clientTimeoutMessage = 'expected a duration in milliseconds from 1 to 86400000 (a day)';
const clientTimeoutMs = numeric(
  z
    .number({ error: clientTimeoutMessage })
    .int(clientTimeoutMessage)
    .positive(clientTimeoutMessage)
    .max(86_400_000, clientTimeoutMessage),
);

// How long node:http gives a client on the traffic listeners (slowloris protection); the README says why
// these defaults. None can be 0: node:http reads 0 as "never", which is what this section exists to prevent.
const clientTimeoutsSchema = z
  .strictObject({
    handshakeMs: clientTimeoutMs.default(10_000),
    headersMs: clientTimeoutMs.default(20_000),
    requestMs: clientTimeoutMs.default(300_000),
    keepAliveMs: clientTimeoutMs.default(75_000),
    sendMs: clientTimeoutMs.default(60_000),
  })
  .superRefine(({ headersMs, requestMs }, context) => {
    // The request timeout runs from the same start and covers the headers too; node:http refuses the reverse.
    if (headersMs > requestMs) {
      context.addIssue({
        code: 'custom',
        path: ['headersMs'],
        message: `expected at most clientTimeouts.requestMs (${requestMs}), which includes the headers; it is ${headersMs}`,
      });
    }
  });

// With workers > 1: how long a worker has to confirm a policy version or reloaded config before the primary
// kills it as hung (README, Admin API); also the range of workerStartMs. Healthy workers confirm in milliseconds, and a full snapshot at a
// million hosts in under a second: under 1 s a busy machine could see healthy workers killed. Over a day,
// the timer would overflow and fire at once.
const workerConfirmMessage = 'expected a duration in milliseconds from 1000 to 86400000 (a day)';
const workerConfirmMs = numeric(
  z
    .number({ error: workerConfirmMessage })
    .int(workerConfirmMessage)
    .min(1_000, workerConfirmMessage)
    .max(86_400_000, workerConfirmMessage),
);

const adminTokenSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected a token name of letters, digits, . _ -'),
  token: z.string().min(16, 'expected a token of at least 16 characters'),
});

const adminSchema = z.strictObject({
  host: hostAddress.default('127.0.0.1'),
  port: port.default(9451),
  tokens: z.array(adminTokenSchema).default([]),
});

// The CIDR and country rules are the geo and policy packages' own, so config and runtime never disagree.
const cidr = z.string().superRefine((value, context) => {
  const problem = checkCidr(value);
  if (problem !== null)
    context.addIssue({ code: 'custom', message: `expected a CIDR such as 10.0.0.0/8: ${problem}` });
});
const countryCode = z
  .string()
  .refine((value) => isCountryCode(value.toUpperCase()), 'expected an ISO 3166-1 alpha-2 country code');

const geoipSchema = z.strictObject({
  database: z.string().min(1).optional(),
  overrides: z.array(z.strictObject({ cidr, country: countryCode })).default([]),
  watch: z.boolean().default(true),
});

const clientIpSchema = z
  .strictObject({
    source: z.enum(['socket', 'x-forwarded-for', 'forwarded', 'proxy-protocol']).default('socket'),
    trustedProxies: z.array(cidr).default([]),
  })
  .refine((clientIp) => clientIp.source === 'socket' || clientIp.trustedProxies.length > 0, {
    path: ['trustedProxies'],
    message:
      'expected at least one trusted proxy: headers and PROXY headers are only read from trusted peers',
  });

const originUrl = z
  .string()
  .refine(
    isHttpUrl,
    'expected an http:// or https:// origin URL without a path, such as http://10.0.0.5:8080',
  );

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP header name');
const headerValue = z.string().regex(/^[\t\x20-\x7e]*$/, 'expected a header value of visible ASCII');
const extraHeaders = z.record(headerName, headerValue).default({});

const siteSchema = z.strictObject({
  name: z.string().min(1).optional(),
  hosts: z.array(z.string().min(1)).min(1, 'expected at least one host'),
  origin: originUrl,
  preserveHost: z.boolean().default(false),
  timeouts: z
    .strictObject({
      connectMs: durationMs.default(5_000),
      headersMs: durationMs.default(30_000),
      bodyMs: durationMs.default(30_000),
      // How long a request may wait for a free connection once `connections` are busy (then 503, never sent).
      queueMs: durationMs.default(5_000),
    })
    .prefault({}),
  connections: wholeNumber('expected a number of connections').default(128),
  headers: z.strictObject({ request: extraHeaders, response: extraHeaders }).prefault({}),
  // The certificate for this site's names on TLS listeners (chosen by SNI); the listener's own otherwise.
  tls: tlsFilesSchema.optional(),
  // 308 to https for requests that arrive over http, after the policy decision (a blocked client gets 451).
  redirectToHttps: z.boolean().default(false),
  // `Location` / `Content-Location` naming the origin's own address point at the scheme and host the
  // client used (nginx's `proxy_redirect default`). Done per reply: the cache keeps the origin's value.
  rewriteRedirects: z.boolean().default(true),
});

const policySchema = z.strictObject({
  files: z.array(z.string().min(1)).default([]),
  unknownCountry: z.enum(['allow', 'block']).default('allow'),
});

const legalSchema = z.strictObject({
  blockedBy: z.url({ error: 'expected the URL of the page that explains blocks (RFC 7725 blocked-by)' }),
  contact: z.string().min(1).optional(),
});

const cacheSizesSchema = z.strictObject({
  maxBytes: wholeNumber('expected a size in bytes').default(256 * 1024 * 1024),
  maxEntryBytes: wholeNumber('expected a size in bytes').default(8 * 1024 * 1024),
});

// `false` or the memory tier's sizes; chosen by value, so a bad size is reported at `cache.maxBytes`.
const cacheSchema = z
  .unknown()
  .transform((value, context) =>
    value === false ? (false as const) : resultOf(cacheSizesSchema.safeParse(value), context),
  );

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Blocked requests are always logged (they are evidence); the rest is sampled.
  sampleRate: numeric(z.number({ error: 'expected a rate from 0 to 1' }).min(0).max(1)).default(1),
});

export const configSchema = z.strictObject({
  // `.prefault({})`: an absent section is parsed as an empty one, so its fields' own defaults apply and
  // every default is written once.
  listen: listenSchema.prefault({}),
  clientTimeouts: clientTimeoutsSchema.prefault({}),
  workers: z
    .union([numeric(z.number().int().min(1).max(256)), z.literal('auto')], {
      error: 'expected a number of workers from 1 to 256, or auto',
    })
    .default(1),
  workerConfirmMs: workerConfirmMs.default(5_000),
  // A worker loads the geo database and opens its cache before it listens: seconds on a busy machine, and
  // the first fork of a cold start is the slowest, so the bound is generous. Same range as workerConfirmMs.
  workerStartMs: workerConfirmMs.default(30_000),
  admin: adminSchema.prefault({}),
  geoip: geoipSchema.prefault({}),
  clientIp: clientIpSchema.prefault({}),
  sites: z.array(siteSchema).min(1, 'expected at least one site'),
  policy: policySchema.prefault({}),
  legal: legalSchema,
  cache: cacheSchema.prefault({}),
  log: logSchema.prefault({}),
  state: z.strictObject({ dir: z.string().min(1).optional() }).prefault({}),
  shutdown: z.strictObject({ drainMs: durationMs.default(10_000) }).prefault({}),
});

/** The validated config as written (relative paths not yet resolved). */
export type ConfigInput = z.infer<typeof configSchema>;

/** One traffic listener: plain HTTP, or TLS when `tls` names its default certificate. */
export type ListenerConfig = z.infer<typeof listenerSchema>;

/** node:http's timeouts for clients of the traffic listeners. */
export type ClientTimeoutsConfig = z.infer<typeof clientTimeoutsSchema>;

/** A certificate chain file and its private key file. */
export type TlsFilesConfig = z.infer<typeof tlsFilesSchema>;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.pathname === '/' &&
      url.search === '' &&
      url.username === ''
    );
  } catch {
    return false;
  }
}
