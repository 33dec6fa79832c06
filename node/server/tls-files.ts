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
  versions: TlsVersions;
}

export function loadTls(files: TlsFiles, prefix: '' | 'peer-'): TlsMaterial {
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`--${prefix}${flag} ${path}: ${(e as Error).message}`);
    }
  };
  const m: TlsMaterial = {
    cert: read('cert-file', files.certFile),
    key: read('key-file', files.keyFile),
    ...(files.trustedCaFile ? { ca: read('trusted-ca-file', files.trustedCaFile) } : {}),
    clientCertAuth: files.clientCertAuth,
    versions: files.versions,
  };
  // Node takes a CA file with no certificate in it without complaint, and then trusts nothing.
  if (m.ca && !m.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`--${prefix}trusted-ca-file ${files.trustedCaFile}: holds no PEM certificate`);
  }
  try {
    createSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
  } catch (e) {
    throw new ConfigError(
      `--${prefix}cert-file ${files.certFile} / --${prefix}key-file ${files.keyFile}` +
        `${files.trustedCaFile ? ` / --${prefix}trusted-ca-file ${files.trustedCaFile}` : ''}: ${(e as Error).message}`,
    );
  }
  return m;
}

/** A listening side: presents the certificate; asks for (and requires) one with client-cert-auth. */
export function serverOptions(m: TlsMaterial): TlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    ...(m.ca ? { ca: m.ca } : {}),
    requestCert: m.clientCertAuth,
    rejectUnauthorized: m.clientCertAuth,
    ...versionOptions(m),
  };
}

function versionOptions({ versions }: TlsMaterial): Pick<TlsOptions, 'minVersion' | 'maxVersion'> {
  return { minVersion: versions.min, ...(versions.max ? { maxVersion: versions.max } : {}) };
}

/** A dialling side (a peer, or the leader's client port): verifies the server, presents the certificate. */
export function clientOptions(m: TlsMaterial): ConnectionOptions {
  return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}), ...versionOptions(m) };
}

/** How often the TLS files are checked for a renewal. */
const TLS_RELOAD_CHECK_MS = 5000;

/**
 * Picks up renewed certificates without a restart, as etcd does: checks the files every
 * `everyMs`, and when any has changed (a renewal, or Kubernetes swapping a Secret volume's
 * files) hands the new material to `onChange`. A set that does not load (a renewal half written)
 * is logged and the old one kept until the files change again. Returns the stop function.
 */
export function watchTls(
  files: TlsFiles,
  prefix: '' | 'peer-',
  onChange: (m: TlsMaterial) => void,
  log: { info(msg: string, meta?: object): void; warn(msg: string, meta?: object): void },
  everyMs = TLS_RELOAD_CHECK_MS,
): () => void {
  const paths = [files.certFile, files.keyFile, files.trustedCaFile].filter((p): p is string => !!p);
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
