// etcd's --cipher-suites: Go's names for TLS 1.2 cipher suites, as OpenSSL (Node's TLS) names them.
// As in Go, the list restricts TLS 1.2 only: TLS 1.3's suites are not configurable there, so
// their names are accepted and every TLS 1.3 suite stays on. Names etcd does not know are refused
// with etcd's message; suites Go knows but Node's OpenSSL lacks (RC4, 3DES) are refused too,
// rather than silently left out.
import { getCiphers } from 'node:tls';

/** Go's name → OpenSSL's, or undefined for a TLS 1.3 suite. */
const GO_SUITES: Record<string, string | undefined> = {
  TLS_AES_128_GCM_SHA256: undefined,
  TLS_AES_256_GCM_SHA384: undefined,
  TLS_CHACHA20_POLY1305_SHA256: undefined,
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // Go's older names for the two above, which etcd still takes.
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/** Every TLS 1.3 suite, named so that Node keeps TLS 1.3 whatever the TLS 1.2 list holds. */
const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];

/**
 * The OpenSSL cipher list for a --cipher-suites value (comma-separated Go names, no spaces, as
 * etcd takes them). Throws an Error that says which name is refused and why.
 */
export function opensslCiphers(goNames: string): string {
  const available = new Set(getCiphers());
  const tls12: string[] = [];
  for (const name of goNames.split(',')) {
    if (!Object.hasOwn(GO_SUITES, name)) throw new Error(`unexpected TLS cipher suite "${name}"`);
    const openssl = GO_SUITES[name];
    if (openssl === undefined) continue;
    if (!available.has(openssl.toLowerCase())) {
      throw new Error(`${name} is not available in this Node.js build's OpenSSL`);
    }
    if (!tls12.includes(openssl)) tls12.push(openssl);
  }
  return [...tls12, ...TLS13_SUITES].join(':');
}
