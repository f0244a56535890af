import { createHash, timingSafeEqual } from 'node:crypto';

export type AdminToken = { name: string; token: string };

/**
 * Returns a function mapping an `Authorization` header to the token's name, or undefined.
 * Comparison is constant-time and checks every token (hashing first makes lengths equal), so response
 * timing tells an attacker neither which prefix nor which token was close.
 */
export function createTokenCheck(
  tokens: readonly AdminToken[],
): (authorization: string | undefined) => string | undefined {
  const known = tokens.map((entry) => ({ name: entry.name, digest: digest(entry.token) }));
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (match?.[1] === undefined) return undefined;
    const presented = digest(match[1]);
    let found: string | undefined;
    for (const entry of known) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry.name;
    }
    return found;
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
