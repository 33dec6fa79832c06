// Throwaway certificates for TLS tests, made with the openssl CLI (`make test` installs it): a CA,
// a member certificate it signs for 127.0.0.1, localhost and any other DNS names given (usable as
// server and as client, as etcd's member certificates usually are), and a certificate from another
// CA that nothing trusts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  /** Signed by a CA no test trusts. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`],
  );
}

function makeLeaf(dir: string, ca: string, name: string, ext = 'ext.cnf'): void {
  openssl(
    dir,
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
  );
  openssl(
    dir,
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial'],
    ...['-out', `${name}.crt`, '-days', '2', '-extfile', ext],
  );
}

export function makeTestCerts(dnsNames: string[] = []): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-certs-'));
  const names = ['IP:127.0.0.1', ...['localhost', ...dnsNames].map((n) => `DNS:${n}`)].join(',');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${names}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  makeCa(dir, 'ca');
  makeLeaf(dir, 'ca', 'member');
  makeCa(dir, 'stranger-ca');
  makeLeaf(dir, 'stranger-ca', 'stranger');
  const f = (name: string) => join(dir, name);
  return {
    dir,
    ca: f('ca.crt'),
    cert: f('member.crt'),
    key: f('member.key'),
    strangerCert: f('stranger.crt'),
    strangerKey: f('stranger.key'),
  };
}

/**
 * A client certificate from the tests' CA whose Common Name is `cn` (etcd takes it as a user name),
 * naming the member certificate's hosts, or only `dnsNames` when given.
 */
export function makeClientCert(
  certs: TestCerts,
  cn: string,
  dnsNames?: string[],
): { cert: string; key: string } {
  let ext = 'ext.cnf';
  if (dnsNames) {
    ext = `${cn}.cnf`;
    const names = dnsNames.map((n) => `DNS:${n}`).join(',');
    writeFileSync(join(certs.dir, ext), `subjectAltName=${names}\nextendedKeyUsage=clientAuth\n`);
  }
  makeLeaf(certs.dir, 'ca', cn, ext);
  return { cert: join(certs.dir, `${cn}.crt`), key: join(certs.dir, `${cn}.key`) };
}

/** A renewal: a new key and certificate from the same CA, written over the member's files. */
export function renewMemberCert(certs: TestCerts): void {
  makeLeaf(certs.dir, 'ca', 'member');
}

/** etcd's flags for mutual TLS on both ports with these files (raftkv takes the same). */
export function memberTlsArgs(certs: TestCerts): string[] {
  const files = [`cert-file=${certs.cert}`, `key-file=${certs.key}`, `trusted-ca-file=${certs.ca}`];
  return [
    ...files.map((f) => `--${f}`),
    '--client-cert-auth',
    ...files.map((f) => `--peer-${f}`),
    '--peer-client-cert-auth',
  ];
}

/**
 * Another client certificate from the same CA, and a revocation list (PEM) in which the CA revokes
 * it: what `--client-crl-file` takes.
 */
export function revokedClient(certs: TestCerts): { cert: string; key: string; crl: string } {
  const { dir } = certs;
  makeLeaf(dir, 'ca', 'revoked');
  const cnf = 'ca.cnf';
  writeFileSync(
    join(dir, cnf),
    '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n',
  );
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  const ca = ['-config', cnf, '-keyfile', 'ca.key', '-cert', 'ca.crt'];
  openssl(dir, 'ca', ...ca, '-revoke', 'revoked.crt');
  openssl(dir, 'ca', ...ca, '-gencrl', '-out', 'crl.pem');
  return { cert: join(dir, 'revoked.crt'), key: join(dir, 'revoked.key'), crl: join(dir, 'crl.pem') };
}
