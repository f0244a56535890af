/**
 * nginx's `proxy_redirect default`, for `Location` and `Content-Location`. An absolute URL on the origin's
 * own address (`http://10.0.0.5:8080/login`) would send the client somewhere it cannot reach and tell it
 * the internal address. Only the scheme and authority are swapped for the client's. The rest (path, query,
 * fragment) is kept byte for byte and never re-encoded, because an origin's signed or oddly escaped query
 * must arrive as it was sent. Anything else comes back as it was: a relative reference, another host, or a
 * value that does not parse. Nothing here throws, because a bad header from the origin must not become a
 * 500.
 */

// `scheme://` and the authority, which ends at the first `/`, `?` or `#` (RFC 3986 §3.2).
const schemeAndAuthority = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/;

// A host and an optional port, nothing more. Userinfo is left alone: rewriting would either drop the
// credentials or hand them on. So is anything the WHATWG parser would quietly repair before comparing: to
// it `\` ends a special URL's authority, and tabs and newlines are dropped. Such a value would be judged
// on one authority and then spliced after a different one.
const hostAndPort = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]*)?$/;

/**
 * Returns `value` with its scheme and authority replaced by `clientOrigin` when they name `origin`.
 * Otherwise it returns `value` unchanged. Both arguments are serialised origins as `URL.origin` writes
 * them: lower case, with the default port left out. The comparison uses the same normal form, so
 * `HTTP://10.0.0.5:80` names `http://10.0.0.5`.
 */
export function rewriteOriginUrl(value: string, origin: string, clientOrigin: string): string {
  const found = schemeAndAuthority.exec(value);
  if (found === null) return value;
  const [prefix, scheme = '', authority = ''] = found;
  if (!hostAndPort.test(authority)) return value;
  return namesOrigin(prefix, scheme, authority, origin) ? clientOrigin + value.slice(prefix.length) : value;
}

function namesOrigin(prefix: string, scheme: string, authority: string, origin: string): boolean {
  // Origins usually spell their own address the way it is configured, and that needs no parsing.
  if (prefix === origin) return true;
  if (!origin.startsWith(`${scheme.toLowerCase()}:`)) return false;
  try {
    return new URL(`${scheme}://${authority}`).origin === origin;
  } catch {
    return false;
  }
}
