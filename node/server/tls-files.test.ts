// The TLS files are read and checked when the member starts: what is wrong names the flag and path.
import { makeTestCerts } from '../../test/support/certs.js';
import { ConfigError } from './config.js';
import { loadTls } from './tls-files.js';

const certs = makeTestCerts();

test('a certificate, its key and a CA load into one material', () => {
  const m = loadTls(
    { certFile: certs.cert, keyFile: certs.key, trustedCaFile: certs.ca, clientCertAuth: true },
    '',
  );
  expect(m.cert.toString()).toContain('BEGIN CERTIFICATE');
  expect(m.ca?.toString()).toContain('BEGIN CERTIFICATE');
  expect(m.clientCertAuth).toBe(true);
});

test('a missing file is refused with its flag and path', () => {
  const load = () =>
    loadTls({ certFile: certs.cert, keyFile: '/nonexistent/k.pem', clientCertAuth: false }, 'peer-');
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(/^--peer-key-file \/nonexistent\/k\.pem: ENOENT/);
});

test('a key that is not the certificate’s, or a file that is not PEM, is refused at start', () => {
  const mismatch = () =>
    loadTls({ certFile: certs.cert, keyFile: certs.strangerKey, clientCertAuth: false }, '');
  expect(mismatch).toThrow(ConfigError);
  expect(mismatch).toThrow(`--cert-file ${certs.cert} / --key-file ${certs.strangerKey}`);
  const notPem = () =>
    loadTls(
      { certFile: certs.cert, keyFile: certs.key, trustedCaFile: certs.key, clientCertAuth: false },
      '',
    );
  expect(notPem).toThrow(`--trusted-ca-file ${certs.key}: holds no PEM certificate`);
});
