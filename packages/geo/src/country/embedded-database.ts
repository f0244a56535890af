import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Path of the database shipped with the package: `geo-whois-asn-country.mmdb` from
 * `@ip-location-db/geo-whois-asn-country-mmdb` (IPv4 + IPv6, `country_code` schema; data from the
 * five RIRs' WHOIS/ASN records under CC BY 4.0 by the NRO, plus geofeeds). Good enough to locate
 * real clients with no account; point `path` at a GeoIP2/GeoLite2 file for better accuracy.
 */
export function embeddedDatabasePath(): string {
  const manifest = createRequire(import.meta.url).resolve(
    '@ip-location-db/geo-whois-asn-country-mmdb/package.json',
  );
  return join(dirname(manifest), 'geo-whois-asn-country.mmdb');
}
