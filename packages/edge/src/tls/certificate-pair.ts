import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';

/** Where a certificate and its key live: `cert` holds the chain, leaf first (certbot's fullchain.pem). */
export type CertificateFiles = { readonly cert: string; readonly key: string };

/** Stable codes for a certificate pair that cannot be used. */
export type CertificateProblemCode =
  | 'EDGE_TLS_FILE_UNREADABLE'
  | 'EDGE_TLS_CERT_INVALID'
  | 'EDGE_TLS_KEY_INVALID'
  | 'EDGE_TLS_KEY_MISMATCH';

/** Why a pair was refused: which file, and what was expected of it. */
export class CertificateProblem extends Error {
  override readonly name = 'CertificateProblem';
  constructor(
    readonly code: CertificateProblemCode,
    /** `cert` or `key`: the config key the problem belongs to. */
    readonly field: keyof CertificateFiles,
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A certificate chain and its key, loaded and checked, ready to hand to OpenSSL. */
export type CertificatePair = {
  readonly files: CertificateFiles;
  /** The raw file contents, to tell a real renewal from a touched file. */
  readonly pem: { readonly cert: Buffer; readonly key: Buffer };
  readonly context: SecureContext;
  readonly leaf: X509Certificate;
  /** `rsa`, `ec`, `ed25519`…: the key type OpenSSL signs the handshake with. */
  readonly keyType: string;
  /** Whether the leaf certificate is valid for `host` (a normalised name or IP literal, RFC 6125 rules). */
  covers(host: string): boolean;
};

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const completePemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Reads and checks a certificate chain and its private key: every certificate parses, the key parses and
 * belongs to the first certificate, and OpenSSL accepts the pair. Synchronous (two small files) so config
 * validation and renewals share it. Throws a CertificateProblem naming the file and what was expected;
 * never returns a pair a handshake could fail on.
 */
export function loadCertificatePair(files: CertificateFiles): CertificatePair {
  const certPem = readPem(files, 'cert');
  const keyPem = readPem(files, 'key');
  const chain = parseChain(certPem, files.cert);
  const leaf = chain[0] as X509Certificate;
  const key = parseKey(keyPem, files.key);
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateProblem(
      'EDGE_TLS_KEY_MISMATCH',
      'key',
      files.key,
      `${files.key} does not match the certificate in ${files.cert}: expected the private key of that certificate`,
    );
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CertificateProblem(
      'EDGE_TLS_CERT_INVALID',
      'cert',
      files.cert,
      `OpenSSL refused ${files.cert} with ${files.key} (${reason})`,
      { cause: error },
    );
  }
  return {
    files,
    pem: { cert: certPem, key: keyPem },
    context,
    leaf,
    keyType: key.asymmetricKeyType ?? 'unknown',
    covers: (host) => coversHost(leaf, host),
  };
}

/** Log fields that identify a served certificate: what an operator compares with `openssl x509`. */
export function describeCertificate(pair: CertificatePair) {
  return {
    cert_file: pair.files.cert,
    subject_alt_names: pair.leaf.subjectAltName,
    serial: pair.leaf.serialNumber,
    fingerprint256: pair.leaf.fingerprint256,
    key_type: pair.keyType,
    valid_to: pair.leaf.validTo,
  };
}

// Browsers take names from subjectAltName only and reject partial wildcards (`w*.example.com`); the CN is
// consulted only when there is no DNS name at all, as OpenSSL and Node's own client do.
function coversHost(leaf: X509Certificate, host: string): boolean {
  if (isIP(host) !== 0) return leaf.checkIP(host) !== undefined;
  return leaf.checkHost(host, { partialWildcards: false }) !== undefined;
}

function readPem(files: CertificateFiles, field: keyof CertificateFiles): Buffer {
  const file = files[field];
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    const expected = field === 'cert' ? 'a PEM certificate chain' : 'a PEM private key';
    throw new CertificateProblem(
      'EDGE_TLS_FILE_UNREADABLE',
      field,
      file,
      `cannot read ${file} (${reason}): expected ${expected}`,
      { cause: error },
    );
  }
}

function parseChain(pem: Buffer, file: string): X509Certificate[] {
  const text = pem.toString('latin1');
  const blocks = text.match(pemCertificate) ?? [];
  const expected = "expected PEM certificates, leaf first, as in certbot's fullchain.pem";
  // A file cut while it was written (a renewal caught mid-copy) can end inside a block, even inside its
  // BEGIN line, which the certificate pattern just skips: served, the leaf would go out without its issuer.
  if (/-----BEGIN/.test(text.replace(completePemBlock, ''))) {
    throw new CertificateProblem(
      'EDGE_TLS_CERT_INVALID',
      'cert',
      file,
      `${file} ends in an incomplete certificate (the file may still be being written): ${expected}`,
    );
  }
  if (blocks.length === 0) {
    throw new CertificateProblem(
      'EDGE_TLS_CERT_INVALID',
      'cert',
      file,
      `${file} holds no certificate: ${expected}`,
    );
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      const message = `certificate ${index + 1} in ${file} does not parse: ${expected}`;
      throw new CertificateProblem('EDGE_TLS_CERT_INVALID', 'cert', file, message, { cause: error });
    }
  });
}

function parseKey(pem: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(pem.toString('latin1'));
    const expected = encrypted
      ? 'an unencrypted private key (the edge cannot ask for a passphrase)'
      : 'a PEM private key';
    const message = `${file} is not a usable private key: expected ${expected}`;
    throw new CertificateProblem('EDGE_TLS_KEY_INVALID', 'key', file, message, { cause: error });
  }
}
