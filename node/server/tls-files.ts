// Reads the certificate files etcd's TLS flags name, once at start, and checks that they make a
// usable TLS context: a missing file, a key that does not match its certificate or a file that is
// not PEM stops the member with the flag and the path, not at the first connection.
import { readFileSync, statSync } from 'node:fs';
import {
  checkServerIdentity,
  createSecureContext,
  type ConnectionOptions,
  type SecureContextOptions,
  type TLSSocket,
  type TlsOptions,
} from 'node:tls';
import { ConfigError, tlsFlag, type CertIdentity, type TlsFiles, type TlsPolicy } from './config.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  clientCertAuth: boolean;
  crl?: Buffer;
  allowed?: CertIdentity;
  policy: TlsPolicy;
}

export function loadTls(files: TlsFiles): TlsMaterial {
  type Named = Parameters<typeof tlsFlag>[1];
  /** "--flag path", as errors name a file. */
  const named = (flag: Named, path: string) => `--${tlsFlag(files.prefix, flag)} ${path}`;
  const read = (flag: Named, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`${named(flag, path)}: ${(e as Error).message}`);
    }
  };
  const m: TlsMaterial = {
    cert: read('cert-file', files.certFile),
    key: read('key-file', files.keyFile),
    ...(files.trustedCaFile ? { ca: read('trusted-ca-file', files.trustedCaFile) } : {}),
    clientCertAuth: files.clientCertAuth,
    ...(files.crlFile ? { crl: read('crl-file', files.crlFile) } : {}),
    policy: files.policy,
    ...(files.allowed ? { allowed: files.allowed } : {}),
  };
  // Node takes a CA file with no certificate in it without complaint, and then trusts nothing.
  if (m.ca && !m.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`${named('trusted-ca-file', files.trustedCaFile!)}: holds no PEM certificate`);
  }
  if (m.crl && !m.crl.includes('-----BEGIN X509 CRL-----')) {
    throw new ConfigError(`${named('crl-file', files.crlFile!)}: holds no PEM certificate revocation list`);
  }
  try {
    createSecureContext(contextOptions(m));
  } catch (e) {
    const all = [named('cert-file', files.certFile), named('key-file', files.keyFile)];
    if (files.trustedCaFile) all.push(named('trusted-ca-file', files.trustedCaFile));
    if (files.crlFile) all.push(named('crl-file', files.crlFile));
    throw new ConfigError(`${all.join(' / ')}: ${(e as Error).message}`);
  }
  return m;
}

/** What both sides' contexts hold: the certificate, the CA, the revocation list, versions and ciphers. */
function contextOptions(m: TlsMaterial): SecureContextOptions {
  return {
    cert: m.cert,
    key: m.key,
    ...(m.ca ? { ca: m.ca } : {}),
    ...(m.crl ? { crl: m.crl } : {}),
    minVersion: m.policy.min,
    ...(m.policy.max ? { maxVersion: m.policy.max } : {}),
    ...(m.policy.ciphers ? { ciphers: m.policy.ciphers } : {}),
  };
}

/**
 * A listening side: presents the certificate; asks for (and requires) one with client-cert-auth,
 * and refuses those the revocation list names.
 */
export function serverOptions(m: TlsMaterial): TlsOptions {
  return { ...contextOptions(m), requestCert: m.clientCertAuth, rejectUnauthorized: m.clientCertAuth };
}

/**
 * Whether an accepted connection's client certificate names whom --peer-cert-allowed-cn or
 * --*-cert-allowed-hostname require (any certificate the CA signed, without them). Node's TLS
 * servers have no hook inside the handshake for this, so each port asks once it completes and
 * closes the connection before reading from it.
 */
export function certAllowed(m: TlsMaterial, socket: TLSSocket): boolean {
  const want = m.allowed;
  if (!want) return true;
  const cert = socket.getPeerCertificate();
  if (!socket.authorized || !cert.subject) return false;
  return 'cn' in want ? cert.subject.CN === want.cn : checkServerIdentity(want.hostname, cert) === undefined;
}

/**
 * A dialling side (a peer, or the leader's client port): verifies the server (the revocation list
 * included), presents the certificate.
 */
export function clientOptions(m: TlsMaterial): ConnectionOptions {
  return contextOptions(m);
}

/** How often the TLS files are checked for a renewal. */
const TLS_RELOAD_CHECK_MS = 5000;

/**
 * Picks up renewed certificates and revocation lists without a restart, as etcd does: checks the
 * files every `everyMs`, and when any has changed (a renewal, or Kubernetes swapping a Secret
 * volume's files) hands the new material to `onChange`. A set that does not load (a renewal half written)
 * is logged and the old one kept until the files change again. Returns the stop function.
 */
export function watchTls(
  files: TlsFiles,
  onChange: (m: TlsMaterial) => void,
  log: { info(msg: string, meta?: object): void; warn(msg: string, meta?: object): void },
  everyMs = TLS_RELOAD_CHECK_MS,
): () => void {
  const paths = [files.certFile, files.keyFile, files.trustedCaFile, files.crlFile].filter(
    (p): p is string => !!p,
  );
  const stamp = () =>
    paths
      .map((p) => {
        try {
          const s = statSync(p);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      onChange(loadTls(files));
      log.info(`reloaded the --${tlsFlag(files.prefix, 'cert-file')} certificate`, {
        certFile: files.certFile,
      });
    } catch (e) {
      log.warn('kept the old TLS certificate: the changed files do not load', { error: String(e) });
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
