// raftkvctl: a small etcdctl-like command line for raftkv's (and etcd's) v3 JSON API.
//   node dist/node/cli/raftkvctl.js [--endpoints=URL,...] [-w table|json] <command> ...
import { readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { parseArgs } from 'node:util';
import { KvClient } from '../client/client.js';
import { backupParts } from '../migrate/backup-file.js';
import type { EtcdRestoreOptions } from '../migrate/etcd-snapshot.js';
import { snapshotStatus } from '../mvcc/snapshot.js';
import { MvccStore } from '../mvcc/store.js';

const USAGE = `usage: raftkvctl [--endpoints=http://127.0.0.1:2379,...] [-w table|json]
                 [--cacert=<ca.pem>] [--cert=<cert.pem> --key=<key.pem>] [--user=<name:password>] <command>
  get <key> [--prefix] [--serializable]      read keys
  put <key> <value> [--lease=<id>]           write a key (held by a lease: hex ID, as etcdctl)
  del <key> [--prefix]                       delete keys
  cas <key> <expected-value|--absent> <new>  compare-and-swap in one txn
  watch <key> [--prefix] [--rev=N]           print events as they happen (from revision N)
  lease grant <ttl> | revoke <id> | timetolive <id> [--keys] | keep-alive <id> [--once] | list
  member list | add <peer-url> [--learner] | remove <id> | promote <id> | update <id> <peer-url>
  endpoint status | health                   per endpoint
  defrag                                     rewrite each endpoint's backend file compactly, one at a time
  snapshot restore <file> --data-dir=<dir> [--skip-hash-check]
                                             a member's data dir from a backup that etcdctl snapshot save
                                             made of raftkv or of etcd (its keys, history, leases, users)
  snapshot status <file> [--skip-hash-check] a backup's hash, revision, keys and size, once checked whole
Endpoints also come from RAFTKV_ENDPOINTS or ETCDCTL_ENDPOINTS, and the TLS files (for https://
endpoints: the CA to trust, the client certificate to present) from ETCDCTL_CACERT, ETCDCTL_CERT
and ETCDCTL_KEY, and the user (with auth on) from ETCDCTL_USER, as etcdctl takes them.`;

/** etcdctl's TLS flags as connection options, or none when no flag is given. */
function tlsOptions(files: { cacert?: string; cert?: string; key?: string }): ConnectionOptions | undefined {
  const cacert = files.cacert ?? process.env.ETCDCTL_CACERT;
  const cert = files.cert ?? process.env.ETCDCTL_CERT;
  const key = files.key ?? process.env.ETCDCTL_KEY;
  if (!cacert && !cert && !key) return undefined;
  if (!cert !== !key) throw new Error('--cert and --key go together');
  return {
    ...(cacert ? { ca: readFileSync(cacert) } : {}),
    ...(cert && key ? { cert: readFileSync(cert), key: readFileSync(key) } : {}),
  };
}

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) =>
    cols.map((c) => (Array.isArray(r[c]) ? (r[c] as unknown[]).join(',') : String(r[c] ?? ''))),
  );
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(width[i]!)).join(' | ')} |`;
  return [
    line(cols.map((c) => c.toUpperCase())),
    `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.map(line),
  ].join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      endpoints: { type: 'string' },
      w: { type: 'string', short: 'w', default: 'table' },
      prefix: { type: 'boolean' },
      serializable: { type: 'boolean' },
      learner: { type: 'boolean' },
      absent: { type: 'boolean' },
      rev: { type: 'string' },
      lease: { type: 'string' },
      keys: { type: 'boolean' },
      once: { type: 'boolean' },
      'data-dir': { type: 'string' },
      'skip-hash-check': { type: 'boolean' },
      cacert: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      user: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, ...args] = positionals;
  if (values.help || !cmd) {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const endpoints = (
    values.endpoints ??
    process.env.RAFTKV_ENDPOINTS ??
    process.env.ETCDCTL_ENDPOINTS ??
    'http://127.0.0.1:2379'
  ).split(',');
  const tls = tlsOptions(values);
  const c = new KvClient(endpoints, undefined, tls, true);
  const user = values.user ?? process.env.ETCDCTL_USER;
  if (user) {
    const colon = user.indexOf(':');
    if (colon < 0) throw new Error('--user takes name:password');
    await c.authenticate(user.slice(0, colon), user.slice(colon + 1));
  }
  const out = (rows: Array<Record<string, unknown>>, json: unknown = rows) =>
    console.log(values.w === 'json' ? JSON.stringify(json, null, 2) : table(rows));
  const need = (n: number) => {
    if (args.length < n) throw new Error(`${cmd} needs ${n} argument(s)\n${USAGE}`);
  };
  switch (cmd) {
    case 'get': {
      need(1);
      const r = await c.get(args[0]!, { prefix: values.prefix, serializable: values.serializable });
      if (values.w === 'json') out([], r);
      else for (const kv of r.kvs) console.log(`${kv.key}\n${kv.value}`);
      return 0;
    }
    case 'put':
      need(2);
      await c.put(args[0]!, args[1]!, { lease: values.lease && fromHex(values.lease) });
      console.log('OK');
      return 0;
    case 'del':
      need(1);
      console.log(await c.del(args[0]!, { prefix: values.prefix }));
      return 0;
    case 'cas': {
      need(values.absent ? 2 : 3);
      const { succeeded: ok } = values.absent
        ? await c.cas(args[0]!, undefined, args[1]!)
        : await c.cas(args[0]!, args[1]!, args[2]!);
      console.log(ok ? 'SUCCEEDED' : 'FAILED');
      return ok ? 0 : 1;
    }
    case 'watch': {
      need(1);
      const stream = c.watch(args[0]!, { prefix: values.prefix, startRevision: Number(values.rev ?? 0) });
      for await (const events of stream) {
        for (const e of events) {
          // etcdctl's shape: type, key, value (empty for a deletion) on lines of their own.
          if (values.w === 'json') console.log(JSON.stringify(e));
          else console.log(`${e.type}\n${e.kv.key}\n${e.type === 'DELETE' ? '' : e.kv.value}`);
        }
      }
      throw new Error('the watch stream ended (the member went away)');
    }
    case 'lease':
      return lease(c, args, {
        keys: values.keys ?? false,
        once: values.once ?? false,
        json: values.w === 'json',
      });
    case 'member':
      return member(c, args, values.learner ?? false, out);
    case 'endpoint':
      return endpoint(endpoints, args[0], out, tls);
    case 'snapshot':
      return snapshot(args, values['data-dir'], values['skip-hash-check'] === true, out);
    case 'defrag':
      return defrag(endpoints, tls, c.token);
    default:
      throw new Error(`unknown command ${cmd}\n${USAGE}`);
  }
}

type Out = (rows: Array<Record<string, unknown>>, json?: unknown) => void;

/**
 * Offline, like etcdctl's. `restore` makes a member's data dir from a backup: each member of the
 * new cluster gets its own dir from the same file, then starts with --initial-cluster-state new.
 * `status` reads the whole backup as a restore would and shows what etcdctl's shows; its hash is
 * the HashKV that members gave at the backup's revision.
 */
async function snapshot(
  args: string[],
  dataDir: string | undefined,
  skipHashCheck: boolean,
  out: Out,
): Promise<number> {
  const [sub, file] = args;
  const opts: EtcdRestoreOptions = { skipHashCheck };
  if (sub === 'status' && file) {
    const s = await snapshotStatus(await backupParts(file, opts));
    const totalKey = s.rows + s.leases;
    const { size } = await stat(file);
    out(
      [
        {
          hash: s.hash.toString(16),
          revision: s.revision,
          'total keys': totalKey,
          'total size': humanBytes(size),
        },
      ],
      { hash: s.hash, revision: s.revision, totalKey, totalSize: size },
    );
    return 0;
  }
  if (sub !== 'restore' || !file || !dataDir) {
    throw new Error(`usage: raftkvctl snapshot restore <file> --data-dir=<dir> | status <file>\n${USAGE}`);
  }
  const memberDir = join(dataDir, 'member');
  await mkdir(memberDir, { recursive: true });
  opts.onLeaseRenamed = (from, to) =>
    console.log(
      `lease ${from.toString(16)} is lease ${to.toString(16)} now (raftkv's lease IDs end at 2^53-1)`,
    );
  const meta = await MvccStore.restoreBackup(await backupParts(file, opts), join(memberDir, 'db'));
  console.log(`restored ${file} into ${dataDir}: revision ${meta.revision}, compacted ${meta.compacted}`);
  return 0;
}

/** Sizes as etcdctl prints them (go-humanize): SI units, one decimal below 10. */
function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1);
  const v = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[e]}`;
}

/** Lease IDs are shown and taken in hex, as etcdctl does (%016x); the JSON API carries them in decimal. */
const toHex = (id: string) => BigInt(id).toString(16).padStart(16, '0');
function fromHex(hex: string): string {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw new Error(`lease ID must be hex, as etcdctl prints it: ${hex}`);
  return BigInt(`0x${hex}`).toString();
}

/** The lease commands, printing what etcdctl prints (or JSON with -w json). */
async function lease(c: KvClient, args: string[], opts: { keys: boolean; once: boolean; json: boolean }) {
  const [sub, arg] = args;
  const id = sub !== 'grant' && sub !== 'list' && arg ? fromHex(arg) : ''; // decimal, as the JSON API takes it
  const say = (text: string, json: unknown) => console.log(opts.json ? JSON.stringify(json, null, 2) : text);
  if (sub === 'grant' && arg) {
    const g = await c.leaseGrant(Number(arg));
    say(`lease ${toHex(g.id)} granted with TTL(${g.ttl}s)`, g);
  } else if (sub === 'revoke' && arg) {
    await c.leaseRevoke(id);
    say(`lease ${toHex(id)} revoked`, { id, revoked: true });
  } else if (sub === 'timetolive' && arg) {
    const i = await c.leaseTimeToLive(id, opts.keys);
    const keys = i.keys.length > 0 ? `, attached keys([${i.keys.join(' ')}])` : '';
    say(
      i.ttl === -1
        ? `lease ${toHex(i.id)} already expired`
        : `lease ${toHex(i.id)} granted with TTL(${i.grantedTtl}s), remaining(${i.ttl}s)${keys}`,
      i,
    );
  } else if (sub === 'keep-alive' && arg) {
    // Until the lease is gone (or Ctrl-C), a keepalive every third of its TTL.
    for (;;) {
      const ttl = await c.leaseKeepAlive(id);
      if (ttl <= 0) {
        say(`lease ${toHex(id)} expired or revoked.`, { id, ttl });
        return 1;
      }
      say(`lease ${toHex(id)} keepalived with TTL(${ttl})`, { id, ttl });
      if (opts.once) return 0;
      await new Promise((r) => setTimeout(r, (ttl * 1000) / 3));
    }
  } else if (sub === 'list') {
    const ids = await c.leases();
    say([`found ${ids.length} leases`, ...ids.map(toHex)].join('\n'), ids);
  } else
    throw new Error(
      'lease grant <ttl> | revoke <id> | timetolive <id> [--keys] | keep-alive <id> [--once] | list',
    );
  return 0;
}

async function member(c: KvClient, args: string[], learner: boolean, out: Out): Promise<number> {
  const [sub, arg, url] = args;
  if (sub === 'list') out(await c.members());
  else if (sub === 'add' && arg) console.log(`member ${await c.memberAdd(arg, learner)} added`);
  else if (sub === 'remove' && arg) {
    await c.memberRemove(arg);
    console.log(`member ${arg} removed`);
  } else if (sub === 'promote' && arg) {
    await c.memberPromote(arg);
    console.log(`member ${arg} promoted`);
  } else if (sub === 'update' && arg && url) {
    await c.memberUpdate(arg, [url]);
    console.log(`member ${arg} updated: peers reach it at ${url}`);
  } else
    throw new Error(
      `member list | add <peer-url> [--learner] | remove <id> | promote <id> | update <id> <peer-url>`,
    );
  return 0;
}

async function endpoint(
  endpoints: string[],
  sub: string | undefined,
  out: Out,
  tls: ConnectionOptions | undefined,
): Promise<number> {
  const rows = await Promise.all(
    endpoints.map(async (ep) => {
      const c = new KvClient([ep], 3000, tls);
      try {
        if (sub === 'health') {
          const h = await c.health();
          return { endpoint: ep, health: h.health, reason: h.reason };
        }
        const s = await c.status();
        return {
          endpoint: ep,
          id: s.memberId,
          version: s.version,
          dbSize: s.dbSize,
          isLeader: s.leader === s.memberId,
          isLearner: s.isLearner,
          raftTerm: s.raftTerm,
          raftIndex: s.raftIndex,
          raftAppliedIndex: s.raftAppliedIndex,
        };
      } catch (e) {
        return { endpoint: ep, error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  out(rows);
  return rows.some((r) => 'error' in r || ('health' in r && r.health !== 'true')) ? 1 : 0;
}

/** One member at a time, as etcdctl does: each stops applying while it runs. Prints what etcdctl prints. */
async function defrag(
  endpoints: string[],
  tls: ConnectionOptions | undefined,
  token: string | undefined,
): Promise<number> {
  let failed = 0;
  for (const ep of endpoints) {
    try {
      await new KvClient([ep], 60_000, tls).call('/v3/maintenance/defragment', {}, token);
      console.log(`Finished defragmenting etcd member[${ep}]`);
    } catch (e) {
      failed++;
      console.error(
        `Failed to defragment etcd member[${ep}] (${e instanceof Error ? e.message : String(e)})`,
      );
    }
  }
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`raftkvctl: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
