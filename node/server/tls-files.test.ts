// The TLS files are read and checked when the member starts (what is wrong names the flag and path),
// and checked again for renewals while it runs.
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { makeClientCert, makeTestCerts, renewMemberCert, revokedClient } from '../../test/support/certs.js';
import { waitFor } from '../../test/support/wait.js';
import { opensslCiphers } from './cipher-suites.js';
import { ConfigError, type CertIdentity, type TlsFiles } from './config.js';
import { certAllowed, loadTls, serverOptions, watchTls, type TlsMaterial } from './tls-files.js';

const certs = makeTestCerts();
const V12 = { min: 'TLSv1.2' } as const;
/** The client port's flags naming the member's certificate and key, and `more`. */
const files = (more: Partial<TlsFiles> = {}): TlsFiles => ({
  prefix: '',
  certFile: certs.cert,
  keyFile: certs.key,
  clientCertAuth: false,
  policy: V12,
  ...more,
});

/** A TLS server on a free loopback port, with its port. */
async function listening(
  m: TlsMaterial,
  onSocket: (s: TLSSocket) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer(serverOptions(m), onSocket);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port };
}

/** What a server on `port` says to a client presenting `who`'s certificate, until it closes or resets. */
function greeting(port: number, m: TlsMaterial, who: { cert: string; key: string }): Promise<string> {
  return new Promise((ok) => {
    const s = connect({
      port,
      host: '127.0.0.1',
      ca: m.ca,
      cert: readFileSync(who.cert),
      key: readFileSync(who.key),
    });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.once('end', () => ok(got));
    s.once('error', () => ok(got));
  });
}

test('a certificate, its key and a CA load into one material', () => {
  const m = loadTls(files({ trustedCaFile: certs.ca, clientCertAuth: true }));
  expect(m.cert.toString()).toContain('BEGIN CERTIFICATE');
  expect(m.ca?.toString()).toContain('BEGIN CERTIFICATE');
  expect(m.clientCertAuth).toBe(true);
});

test('a missing file is refused with its flag and path', () => {
  const load = () => loadTls(files({ prefix: 'peer-', keyFile: '/nonexistent/k.pem' }));
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(/^--peer-key-file \/nonexistent\/k\.pem: ENOENT/);
});

test('a key that is not the certificate’s, or a file that is not PEM, is refused at start', () => {
  const mismatch = () => loadTls(files({ keyFile: certs.strangerKey }));
  expect(mismatch).toThrow(ConfigError);
  expect(mismatch).toThrow(`--cert-file ${certs.cert} / --key-file ${certs.strangerKey}`);
  const notPem = () => loadTls(files({ trustedCaFile: certs.key }));
  expect(notPem).toThrow(`--trusted-ca-file ${certs.key}: holds no PEM certificate`);
});

test('a renewal is picked up; a set that does not load is logged and the old one kept', async () => {
  const c = makeTestCerts();
  const changes: TlsMaterial[] = [];
  const warnings: string[] = [];
  const stop = watchTls(
    files({ certFile: c.cert, keyFile: c.key, trustedCaFile: c.ca, clientCertAuth: true }),
    (m) => changes.push(m),
    { info: () => undefined, warn: (msg) => warnings.push(msg) },
    20,
  );
  try {
    writeFileSync(c.key, 'not a key');
    await waitFor('the broken set noticed', async () => (warnings.length > 0 ? true : undefined), 5000, 10);
    expect(warnings[0]).toBe('kept the old TLS certificate: the changed files do not load');
    expect(changes).toEqual([]);
    renewMemberCert(c);
    await waitFor('the renewal picked up', async () => (changes.length > 0 ? true : undefined), 5000, 10);
    expect(changes.at(-1)!.cert.equals(readFileSync(c.cert))).toBe(true);
  } finally {
    stop();
  }
});

test('--tls-min-version=TLS1.3 refuses a client that speaks at most TLS 1.2; TLS 1.3 gets through', async () => {
  const m = loadTls(files({ trustedCaFile: certs.ca, policy: { min: 'TLSv1.3' } }));
  const { server, port } = await listening(m, (s) => s.end());
  const handshake = (maxVersion: 'TLSv1.2' | 'TLSv1.3') =>
    new Promise<string>((ok, fail) => {
      const s = connect({ port, host: '127.0.0.1', ca: m.ca, maxVersion }, () => {
        ok(s.getProtocol() ?? '');
        s.destroy();
      });
      s.once('error', fail);
    });
  try {
    await expect(handshake('TLSv1.2')).rejects.toThrow(/protocol version|alert/i);
    await expect(handshake('TLSv1.3')).resolves.toBe('TLSv1.3');
  } finally {
    server.close();
  }
});

test('--cipher-suites restricts TLS 1.2 to the suites named; TLS 1.3 keeps all of its own, as in Go', async () => {
  const policy = { ...V12, ciphers: opensslCiphers('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256') };
  const m = loadTls(files({ trustedCaFile: certs.ca, policy }));
  const { server, port } = await listening(m, (s) => s.end());
  const handshake = (maxVersion: 'TLSv1.2' | 'TLSv1.3', ciphers?: string) =>
    new Promise<string>((ok, fail) => {
      const s = connect(
        { port, host: '127.0.0.1', ca: m.ca, maxVersion, ...(ciphers ? { ciphers } : {}) },
        () => {
          ok(s.getCipher().standardName);
          s.destroy();
        },
      );
      s.once('error', fail);
    });
  try {
    await expect(handshake('TLSv1.2')).resolves.toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    await expect(handshake('TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384')).rejects.toThrow(/handshake failure/);
    await expect(handshake('TLSv1.3', 'TLS_CHACHA20_POLY1305_SHA256')).resolves.toBe(
      'TLS_CHACHA20_POLY1305_SHA256',
    );
  } finally {
    server.close();
  }
});

test('certAllowed: with an allowed CN or hostname, only client certificates naming it pass', async () => {
  const alice = makeClientCert(certs, 'alice', ['alice.example']);
  const mutual = { trustedCaFile: certs.ca, clientCertAuth: true };
  /** What a server with `allowed` makes of the member's and alice's certificates. */
  const verdicts = async (allowed?: CertIdentity) => {
    const m = loadTls(files({ ...mutual, ...(allowed ? { allowed } : {}) }));
    const { server, port } = await listening(m, (s) => s.end(certAllowed(m, s) ? 'yes' : 'no'));
    try {
      return [await greeting(port, m, certs), await greeting(port, m, alice)];
    } finally {
      server.close();
    }
  };
  expect(await verdicts()).toEqual(['yes', 'yes']);
  expect(await verdicts({ cn: 'member' })).toEqual(['yes', 'no']);
  expect(await verdicts({ cn: 'alice.example' })).toEqual(['no', 'no']);
  expect(await verdicts({ hostname: 'alice.example' })).toEqual(['no', 'yes']);
  expect(await verdicts({ hostname: 'localhost' })).toEqual(['yes', 'no']);
});

test('a client certificate on the --client-crl-file list is refused; the CA’s others get through', async () => {
  const revoked = revokedClient(certs);
  const m = loadTls(files({ trustedCaFile: certs.ca, clientCertAuth: true, crlFile: revoked.crl }));
  const { server, port } = await listening(m, (s) => s.end('hello'));
  // A refused certificate (TLS 1.3 refuses it after the client's side of the handshake) gets the
  // connection closed or reset, never the greeting.
  try {
    expect(await greeting(port, m, revoked)).toBe('');
    expect(await greeting(port, m, certs)).toBe('hello');
  } finally {
    server.close();
  }
});

test('a --client-crl-file that is not a revocation list is refused at start', () => {
  const load = () => loadTls(files({ trustedCaFile: certs.ca, clientCertAuth: true, crlFile: certs.ca }));
  expect(load).toThrow(`--client-crl-file ${certs.ca}: holds no PEM certificate revocation list`);
});
