// etcd's Auth service, once, for both APIs, and the checks every other request goes through: who a
// caller is (its token, when auth is on), whether it may read a range, whether it is root.
// Changes to users and roles are writes through the log, checked again when applied (so the root
// role a change needs is the one it has at its place in the log); listings are read here after a
// linearizable barrier, as etcd sends them through its log.
import { hashPassword, checkPassword } from '../auth/password.js';
import type { JwtTokens } from '../auth/jwt.js';
import {
  AUTH_ERR,
  NO_PASSWORD,
  isAdmin,
  isOld,
  permitted,
  tokenStands,
  type AuthOp,
  type Permission,
} from '../auth/state.js';
import type { WriteRequest } from '../mvcc/types.js';
import { MemberError, type Member } from '../server/member.js';
import type { Header } from './service.js';

/** What a request says about who sends it: etcd's `token` metadata or the gateway's Authorization header. */
export interface Caller {
  token?: string;
  /**
   * gRPC only: the Common Name of the client certificate the connection presented and the member
   * verified (--client-cert-auth). etcd's gateway does not take it (CVE-2018-16886), nor does ours.
   */
  certUser?: string;
}

/** Who a request runs as ('' while auth is off) and, for a JWT, the auth revision it was signed at. */
export interface Identity {
  user: string;
  revision?: number;
}

interface Writer {
  member: Member;
  header(revision?: number): Header;
  write(w: WriteRequest, caller: Caller): Promise<{ header: Header }>;
}

export class AuthService {
  constructor(
    private readonly kv: Writer,
    private readonly bcryptCost: number,
    /** With --auth-token jwt: signs and verifies the tokens; simple tokens otherwise. */
    private readonly jwt?: JwtTokens,
  ) {}

  private get member(): Member {
    return this.kv.member;
  }

  /**
   * Who a request runs as: user '' while auth is off, else the holder of its token (with a JWT,
   * also the auth revision it was signed at), or without a token the certificate's user. Refused
   * with etcd's words: no token, or one that is unknown, lapsed, or (simple tokens) from before a
   * new password. A certificate's user need not exist: its requests are then denied, as etcd's.
   */
  async identify(caller: Caller): Promise<Identity> {
    const auth = this.member.kv.auth();
    const tokens = this.member.tokens;
    if (!auth.enabled) {
      // Turned off: the tokens granted before must not come back when it is turned on again.
      if (tokens.size > 0) tokens.clear();
      return { user: '' };
    }
    if (!caller.token) {
      if (caller.certUser) return { user: caller.certUser };
      throw AUTH_ERR.userEmpty();
    }
    if (this.jwt) {
      const claims = await this.jwt.verify(caller.token);
      if (!claims) throw AUTH_ERR.invalidToken();
      return claims;
    }
    const h = tokens.holder(caller.token);
    if (!h || !tokenStands(auth, h)) throw AUTH_ERR.invalidToken();
    return { user: h.user };
  }

  /**
   * The token to pass a request on to the leader with: the caller's own, or for a certificate's
   * user (whose certificate the leader never sees) one granted to that user as Authenticate grants
   * it, without a password; none while auth is off.
   */
  async tokenFor(caller: Caller): Promise<string | undefined> {
    if (caller.token || !caller.certUser) return caller.token;
    const auth = this.member.kv.auth();
    if (!auth.enabled) return undefined;
    const user = caller.certUser;
    if (this.jwt) return this.signJwt(this.jwt, user, auth.revision);
    return this.member.authenticate(user, auth.users[user]?.hash ?? NO_PASSWORD);
  }

  /** Refuses a read of [key, rangeEnd) the caller's roles do not grant, or by a JWT older than the auth store. */
  async checkRead(caller: Caller, key: Uint8Array, rangeEnd: Uint8Array | undefined): Promise<void> {
    const { user, revision } = await this.identify(caller);
    if (!user) return;
    const auth = this.member.kv.auth();
    if (isOld(auth, revision)) throw AUTH_ERR.oldRevision();
    if (!permitted(auth, user, 'READ', key, rangeEnd)) throw AUTH_ERR.permissionDenied();
  }

  /** Refuses a caller without the root role while auth is on (members, maintenance, auth itself). */
  async requireAdmin(caller: Caller): Promise<void> {
    const { user } = await this.identify(caller);
    if (user && !isAdmin(this.member.kv.auth(), user)) throw AUTH_ERR.permissionDenied();
  }

  async authenticate(name: string, password: string) {
    // etcd reads linearizably first, so a user added anywhere just before can log in here.
    await this.member.linearizableBarrier();
    const auth = this.member.kv.auth();
    if (!auth.enabled) throw AUTH_ERR.authNotEnabled();
    const user = auth.users[name];
    if (!user) throw AUTH_ERR.authFailed();
    if (user.hash === undefined) throw AUTH_ERR.noPasswordUser();
    if (!(await checkPassword(password, user.hash))) throw AUTH_ERR.authFailed();
    const token = this.jwt
      ? await this.signJwt(this.jwt, name, auth.revision)
      : await this.member.authenticate(name, user.hash);
    return { header: this.kv.header(), token };
  }

  /** A JWT needs no log entry: the barrier above made `revision` current, and every member can verify it. */
  private async signJwt(jwt: JwtTokens, user: string, revision: number): Promise<string> {
    const token = await jwt.sign(user, revision);
    if (token === undefined) {
      throw new MemberError('auth: token signing attempted with verify-only key', 'failedPrecondition');
    }
    return token;
  }

  status() {
    const auth = this.member.kv.auth();
    return { header: this.kv.header(), enabled: auth.enabled, authRevision: auth.revision };
  }

  change(op: AuthOp, caller: Caller) {
    return this.kv.write({ auth: op }, caller);
  }

  /** User add and change password: the password is hashed here, so only the hash enters the log. */
  async userAdd(name: string, password: string, noPassword: boolean, caller: Caller) {
    const hash = noPassword ? undefined : await hashPassword(password, this.bcryptCost);
    return this.change({ op: 'userAdd', name, ...(hash === undefined ? {} : { hash }) }, caller);
  }

  async userChangePassword(name: string, password: string, caller: Caller) {
    return this.change(
      { op: 'userChangePassword', name, hash: await hashPassword(password, this.bcryptCost) },
      caller,
    );
  }

  roleGrantPermission(name: string, perm: Permission, caller: Caller) {
    return this.change({ op: 'roleGrantPermission', name, perm }, caller);
  }

  async userGet(name: string, caller: Caller) {
    const auth = await this.readAsAdmin(caller);
    const u = auth.users[name];
    if (!u) throw AUTH_ERR.userNotFound();
    return { header: this.kv.header(), roles: u.roles };
  }

  async userList(caller: Caller) {
    const auth = await this.readAsAdmin(caller);
    return { header: this.kv.header(), users: Object.keys(auth.users).sort() };
  }

  async roleGet(role: string, caller: Caller) {
    const auth = await this.readAsAdmin(caller);
    const perm = auth.roles[role];
    if (!perm) throw AUTH_ERR.roleNotFound();
    return { header: this.kv.header(), perm };
  }

  async roleList(caller: Caller) {
    const auth = await this.readAsAdmin(caller);
    return { header: this.kv.header(), roles: Object.keys(auth.roles).sort() };
  }

  private async readAsAdmin(caller: Caller) {
    await this.requireAdmin(caller);
    await this.member.linearizableBarrier();
    return this.member.kv.auth();
  }
}
