// etcd's JWT tokens (--auth-token jwt,...): signed by the member that checks the password, with
// the user and the auth store's revision as claims, and verified by any member holding the key,
// so nothing about them goes through the log or stays in memory. etcd's claims and options:
// {username, revision, exp}; sign-method, priv-key, pub-key, ttl (5m). A token from before a
// change to the auth store reads and writes nothing (etcd's "revision of auth store is old";
// clients then authenticate again). Signing and verifying are jose's.
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jwtVerify, SignJWT } from 'jose';

export interface JwtOptions {
  signMethod: string;
  /** PEM public key; derived from the private key when absent. */
  pubKeyFile?: string;
  /** PEM private key, or the shared secret for the HS methods. Without it the member only verifies. */
  privKeyFile?: string;
  ttlMs: number;
}

/** The methods etcd takes, as JWS names them. */
const KEY_PAIR_METHODS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
const HMAC_METHODS = ['HS256', 'HS384', 'HS512'];
export const SIGN_METHODS = [...KEY_PAIR_METHODS, ...HMAC_METHODS];

/** Tokens verified once are remembered until they expire, up to this many. */
const VERIFIED_MAX = 4096;

export interface TokenClaims {
  user: string;
  /** The auth store's revision when the token was signed. */
  revision: number;
}

export class JwtTokens {
  /**
   * A signature check costs about 150 µs of CPU (RS256 and ES256 alike, more than a whole put),
   * and a client sends the same token with every request: a token string that verified once
   * verifies again until its exp, so it is remembered (its auth revision is checked per request).
   */
  private readonly verified = new Map<string, TokenClaims & { expMs: number }>();

  private constructor(
    private readonly alg: string,
    private readonly ttlMs: number,
    private readonly verifyKey: KeyObject,
    private readonly signKey: KeyObject | undefined,
    private readonly now: () => number,
  ) {}

  /**
   * Reads the key files; a file that holds no key of the method's kind is an error naming it. A
   * signature made and checked here at once proves the pair belongs together.
   */
  static async load(o: JwtOptions, now: () => number = Date.now): Promise<JwtTokens> {
    const read = (flag: string, file: string, make: (pem: Buffer) => KeyObject) => {
      try {
        return make(readFileSync(file));
      } catch (e) {
        throw new Error(`--auth-token ${flag}=${file}: ${(e as Error).message}`);
      }
    };
    let signKey: KeyObject | undefined;
    let verifyKey: KeyObject;
    if (HMAC_METHODS.includes(o.signMethod)) {
      const file = o.privKeyFile ?? o.pubKeyFile!;
      signKey = verifyKey = read(o.privKeyFile ? 'priv-key' : 'pub-key', file, (b) => createSecretKey(b));
    } else {
      signKey = o.privKeyFile ? read('priv-key', o.privKeyFile, (b) => createPrivateKey(b)) : undefined;
      verifyKey = o.pubKeyFile
        ? read('pub-key', o.pubKeyFile, (b) => createPublicKey(b))
        : createPublicKey(signKey!);
    }
    const tokens = new JwtTokens(o.signMethod, o.ttlMs, verifyKey, signKey, now);
    if (signKey) {
      const files = [o.privKeyFile, o.pubKeyFile].filter((f) => f !== undefined).join(' and ');
      let claims: TokenClaims | undefined;
      try {
        claims = await tokens.verify((await tokens.sign('probe', 1))!);
      } catch (e) {
        throw new Error(`--auth-token: ${files} cannot sign ${o.signMethod}: ${(e as Error).message}`);
      }
      if (!claims) throw new Error(`--auth-token: ${files} are not a key pair`);
    }
    return tokens;
  }

  get canSign(): boolean {
    return this.signKey !== undefined;
  }

  /** A token for `user`, valid for the ttl; undefined from a member that only verifies. */
  async sign(user: string, revision: number): Promise<string | undefined> {
    if (!this.signKey) return undefined;
    return new SignJWT({ revision, username: user })
      .setProtectedHeader({ alg: this.alg, typ: 'JWT' })
      .setExpirationTime(new Date(this.now() + this.ttlMs))
      .sign(this.signKey);
  }

  /** The token's user and revision, or undefined for a token this key did not sign or that expired. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    const known = this.verified.get(token);
    if (known) {
      if (this.now() < known.expMs) return { user: known.user, revision: known.revision };
      this.verified.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, {
        algorithms: [this.alg],
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
      });
      const { username, revision, exp } = payload;
      if (typeof username !== 'string' || typeof revision !== 'number') return undefined;
      this.remember(token, { user: username, revision, expMs: exp! * 1000 });
      return { user: username, revision };
    } catch {
      return undefined;
    }
  }

  private remember(token: string, claims: TokenClaims & { expMs: number }): void {
    if (this.verified.size >= VERIFIED_MAX) {
      const now = this.now();
      for (const [t, c] of this.verified) if (c.expMs <= now) this.verified.delete(t);
      // Still full: the oldest goes (its holder's next request is verified again).
      if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(token, claims);
  }
}
