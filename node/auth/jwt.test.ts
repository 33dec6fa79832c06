// JWT tokens with real keys of each kind etcd takes: what a token carries, who can check it, when
// it ends, and refusals of key files that cannot do the job, naming them.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JwtTokens, type JwtOptions } from './jwt.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkv-jwt-'));
function write(name: string, data: string | Buffer): string {
  writeFileSync(join(dir, name), data);
  return join(dir, name);
}
function pair(name: string, kind: 'rsa' | 'ec'): { priv: string; pub: string } {
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    priv: write(`${name}.key`, privateKey.export({ type: 'pkcs8', format: 'pem' })),
    pub: write(`${name}.pub`, publicKey.export({ type: 'spki', format: 'pem' })),
  };
}
const rsa = pair('rsa', 'rsa');
const ec = pair('ec', 'ec');
const otherRsa = pair('other', 'rsa');
const secret = write('hmac.secret', randomBytes(32));

const opts = (signMethod: string, files: { priv?: string; pub?: string }): JwtOptions => ({
  signMethod,
  ttlMs: 60_000,
  ...(files.priv ? { privKeyFile: files.priv } : {}),
  ...(files.pub ? { pubKeyFile: files.pub } : {}),
});
const parts = (token: string) =>
  token
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);

test.each([
  ['RS256', rsa],
  ['PS384', rsa],
  ['ES256', ec],
  ['HS256', { priv: secret }],
])('%s: a token carries etcd’s claims and any member with the key reads them back', async (alg, files) => {
  const now = 1_700_000_000_000;
  const signer = await JwtTokens.load(opts(alg, files), () => now);
  const token = (await signer.sign('alice', 7))!;
  const [header, claims] = parts(token);
  expect(header).toEqual({ alg, typ: 'JWT' });
  expect(claims).toEqual({ username: 'alice', revision: 7, exp: now / 1000 + 60 });
  expect(await signer.verify(token)).toEqual({ user: 'alice', revision: 7 });
  // A member given only the public key (or the same secret) verifies, as etcd's verify-only members do.
  const verifier = await JwtTokens.load(opts(alg, 'pub' in files ? { pub: files.pub } : files), () => now);
  expect(await verifier.verify(token)).toEqual({ user: 'alice', revision: 7 });
});

test('a verify-only member signs nothing; a token from another key, a changed one or an expired one is not read', async () => {
  let now = 1_700_000_000_000;
  const signer = await JwtTokens.load(opts('RS256', rsa), () => now);
  const verifyOnly = await JwtTokens.load(opts('RS256', { pub: rsa.pub }), () => now);
  expect(verifyOnly.canSign).toBe(false);
  expect(await verifyOnly.sign('alice', 1)).toBeUndefined();

  const token = (await signer.sign('alice', 3))!;
  const stranger = await JwtTokens.load(opts('RS256', otherRsa), () => now);
  expect(await stranger.verify(token)).toBeUndefined();
  // Remembered as verified; the same claims under another signature are not.
  expect(await verifyOnly.verify(token)).toEqual({ user: 'alice', revision: 3 });
  const [h, p, sig] = token.split('.');
  const otherSig = (await stranger.sign('alice', 3))!.split('.')[2];
  expect(await verifyOnly.verify(`${h}.${p}.${otherSig}`)).toBeUndefined();
  const promoted = Buffer.from(
    JSON.stringify({ exp: now / 1000 + 60, revision: 3, username: 'root' }),
  ).toString('base64url');
  expect(await verifyOnly.verify(`${h}.${promoted}.${sig}`)).toBeUndefined();
  // Another algorithm than the configured one is refused even with a valid signature of its own.
  const hs = (await (await JwtTokens.load(opts('HS256', { priv: secret }))).sign('alice', 3))!;
  expect(await verifyOnly.verify(hs)).toBeUndefined();

  now += 59_000;
  expect(await verifyOnly.verify(token)).toEqual({ user: 'alice', revision: 3 });
  now += 1_000;
  expect(await verifyOnly.verify(token)).toBeUndefined();
});

test('key files that cannot do the job stop the member, naming them', async () => {
  const garbage = write('garbage.pem', 'not a key');
  await expect(JwtTokens.load(opts('RS256', { priv: garbage }))).rejects.toThrow(
    `--auth-token priv-key=${garbage}:`,
  );
  await expect(JwtTokens.load(opts('RS256', { pub: join(dir, 'missing.pub') }))).rejects.toThrow(
    `--auth-token pub-key=${join(dir, 'missing.pub')}: ENOENT`,
  );
  await expect(JwtTokens.load(opts('RS256', { priv: ec.priv }))).rejects.toThrow(
    `--auth-token: ${ec.priv} cannot sign RS256`,
  );
  await expect(JwtTokens.load(opts('RS256', { priv: rsa.priv, pub: otherRsa.pub }))).rejects.toThrow(
    `--auth-token: ${rsa.priv} and ${otherRsa.pub} are not a key pair`,
  );
});
