// Public API of @edge451/geo: client identity (who is the client?) and country lookup (where?).
// Other packages import only from here.

export type {
  ClientIpConfig,
  ClientIpInput,
  ClientIpResolver,
  ClientIpResult,
  ClientIpSource,
} from './client-ip/client-ip.js';
export { createClientIpResolver } from './client-ip/client-ip.js';
export { createTrustedPeerCheck, isTrustedPeer } from './client-ip/trusted-proxies.js';
export type { GeoDatabaseInfo } from './country/country-database.js';
export type { CountryLocator, CountryLocatorOptions, GeoReloadEvent } from './country/country-locator.js';
export { openCountryLocator } from './country/country-locator.js';
export type { CountryField, CountryLookup, CountrySource } from './country/country-lookup.js';
export { embeddedDatabasePath } from './country/embedded-database.js';
export type { CountryOverride } from './country/overrides.js';
export type { GeoErrorCode } from './errors.js';
export { GeoError } from './errors.js';
export { checkCidr } from './ip/cidr.js';
export { normalizeIp } from './ip/normalize-ip.js';
export type {
  ProxyHeaderFailure,
  ProxyHeaderResult,
  ReadProxyHeaderOptions,
} from './proxy-protocol/read-proxy-protocol-header.js';
export { readProxyProtocolHeader } from './proxy-protocol/read-proxy-protocol-header.js';
