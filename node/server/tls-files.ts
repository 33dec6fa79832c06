// Reads the certificate files etcd's TLS flags name, once at start, and checks that they make a
// usable TLS context: a missing file, a key that does not match its certificate or a file that is
// not PEM stops the member with the flag and the path, not at the first connection.
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions, type TlsOptions } from 'node:tls';
import { ConfigError, type TlsFiles, type TlsVersions } from './config.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  clientCertAuth: boolean;
  crl?: Buffer;
  versions: TlsVersions;
}

export function loadTls(files: TlsFiles, prefix: '' | 'peer-'): TlsMaterial {
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`--${flag} ${path}: ${(e as Error).message}`);
    }
  };
  const crlFlag = prefix === '' ? 'client-crl-file' : 'peer-crl-file';
  const m: TlsMaterial = {
    cert: read(`${prefix}cert-file`, files.certFile),
    key: read(`${prefix}key-file`, files.keyFile),
    ...(files.trustedCaFile ? { ca: read(`${prefix}trusted-ca-file`, files.trustedCaFile) } : {}),
    clientCertAuth: files.clientCertAuth,
    ...(files.crlFile ? { crl: read(crlFlag, files.crlFile) } : {}),
    versions: files.versions,
  };
  // Node takes a CA file with no certificate in it without complaint, and then trusts nothing.
  if (m.ca && !m.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`--${prefix}trusted-ca-file ${files.trustedCaFile}: holds no PEM certificate`);
  }
  if (m.crl && !m.crl.includes('-----BEGIN X509 CRL-----')) {
    throw new ConfigError(`--${crlFlag} ${files.crlFile}: holds no PEM certificate revocation list`);
  }
  try {
    createSecureContext({
      cert: m.cert,
      key: m.key,
      ...(m.ca ? { ca: m.ca } : {}),
      ...(m.crl ? { crl: m.crl } : {}),
    });
  } catch (e) {
    throw new ConfigError(
      `--${prefix}cert-file ${files.certFile} / --${prefix}key-file ${files.keyFile}` +
        `${files.trustedCaFile ? ` / --${prefix}trusted-ca-file ${files.trustedCaFile}` : ''}` +
        `${files.crlFile ? ` / --${crlFlag} ${files.crlFile}` : ''}: ${(e as Error).message}`,
    );
  }
  return m;
}

/**
 * A listening side: presents the certificate; asks for (and requires) one with client-cert-auth,
 * and refuses those the revocation list names.
 */
export function serverOptions(m: TlsMaterial): TlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    ...(m.ca ? { ca: m.ca } : {}),
    requestCert: m.clientCertAuth,
    rejectUnauthorized: m.clientCertAuth,
    ...(m.crl ? { crl: m.crl } : {}),
    ...versionOptions(m),
  };
}

function versionOptions({ versions }: TlsMaterial): Pick<TlsOptions, 'minVersion' | 'maxVersion'> {
  return { minVersion: versions.min, ...(versions.max ? { maxVersion: versions.max } : {}) };
}

/**
 * A dialling side (a peer, or the leader's client port): verifies the server (the revocation list
 * included), presents the certificate.
 */
export function clientOptions(m: TlsMaterial): ConnectionOptions {
  return {
    cert: m.cert,
    key: m.key,
    ...(m.ca ? { ca: m.ca } : {}),
    ...(m.crl ? { crl: m.crl } : {}),
    ...versionOptions(m),
  };
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
  prefix: '' | 'peer-',
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
      onChange(loadTls(files, prefix));
      log.info(`reloaded the --${prefix}cert-file certificate`, { certFile: files.certFile });
    } catch (e) {
      log.warn('kept the old TLS certificate: the changed files do not load', { error: String(e) });
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
