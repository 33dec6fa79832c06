// The local control plane keeps Kubernetes' own data in a 3-member raftkv cluster (env/up.sh),
// so kube-apiserver, the controller-manager and the scheduler are raftkv's clients for the whole
// suite. These tests check that this is so, and that the API server rides out what etcd users
// expect it to: the loss of the store's leader, and its own periodic compactions.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, KvClient } from '../../node/client/client.js';
import { agreedLeader } from '../support/leader.js';
import { waitFor } from '../support/wait.js';
import { createNamespace, kubectl } from './kube.js';

const state = process.env.RAFTKV_E2E_STATE ?? '/tmp/raftkv-e2e';
const firstPort = Number(process.env.RAFTKV_E2E_ETCD_PORT ?? 23790);
const members = ['store-0', 'store-1', 'store-2'].map((name, i) => ({
  name,
  clientURL: `http://127.0.0.1:${firstPort + i}`,
  pidFile: join(state, `${name}.pid`),
}));
const ns = `e2e-store-${randomBytes(3).toString('hex')}`;
const key = (name: string) => `/registry/configmaps/${ns}/${name}`;

/** One member's view, read on that member alone. */
const onMember = <T>(url: string, work: (c: KvClient) => Promise<T>) =>
  KvClient.using([url], 5000, undefined, work);

/**
 * A kubectl watch of this namespace's ConfigMaps and the lines it has printed; open once it has
 * reported a change made after it started (kubectl needs a moment to connect, and --watch-only
 * reports nothing from before).
 */
async function watchConfigMaps(): Promise<{ proc: ChildProcess; seen: () => string }> {
  let out = '';
  const proc = spawn('kubectl', ['get', 'configmaps', '-n', ns, '--watch-only', '-o', 'name']);
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(
      'the watch to report a change',
      async () => {
        await kubectl(['label', 'configmap', 'probe', '-n', ns, '--overwrite', `tick=${Date.now()}`]);
        return out.includes('configmap/probe') ? true : undefined;
      },
      30_000,
      500,
    );
  } catch (e) {
    proc.kill();
    throw e;
  }
  return { proc, seen: () => out };
}

/** Creates a ConfigMap, retrying while the store has no leader (a retried create may find it made). */
async function createConfigMap(name: string, value: string): Promise<void> {
  await waitFor(
    `ConfigMap ${name} created`,
    () =>
      kubectl(['create', 'configmap', name, '-n', ns, `--from-literal=k=${value}`]).then(
        () => true,
        (e: unknown) => {
          if (/AlreadyExists/.test(String(e))) return true;
          throw e;
        },
      ),
    60_000,
    250,
  );
}

describe('the local control plane keeps its own data in raftkv', () => {
  beforeAll(async () => {
    const store = process.env.RAFTKV_E2E_STORE ?? 'raftkv';
    if (store !== 'raftkv')
      throw new Error(`these tests check the raftkv store; RAFTKV_E2E_STORE is ${store}`);
    await createNamespace(ns); // its default ServiceAccount comes from the controller-manager
  });
  afterAll(() => kubectl(['delete', 'namespace', ns, '--wait=false']));

  test("kube-apiserver's objects are raftkv keys, the same on every member", async () => {
    await createConfigMap('probe', 'first');
    for (const m of members) {
      const [kv] = await waitFor(`the object on ${m.name}`, () =>
        onMember(m.clientURL, async (c) => {
          const { kvs } = await c.get(key('probe'), { serializable: true });
          return kvs.length > 0 ? kvs : undefined;
        }),
      );
      // Kubernetes' protobuf encoding: its magic prefix, then the object with its name and data.
      expect(kv!.value.startsWith('k8s\0')).toBe(true);
      expect(kv!.value).toContain('probe');
      expect(kv!.value).toContain('first');
    }
  });

  test('SIGKILL of the store leader: API writes and watches go on, and the member catches up on restart', async () => {
    const watch = await watchConfigMaps();
    try {
      const leader = await agreedLeader(() => members);
      const pid = Number(readFileSync(leader.pidFile, 'utf8'));
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      process.kill(pid, 'SIGKILL');
      const killedAt = performance.now();
      await createConfigMap('after-kill', 'second');
      console.log(
        `store leader ${leader.name} killed: a write through the API server after ${Math.round(performance.now() - killedAt)} ms`,
      );
      await waitFor('the watch to report the write', async () =>
        watch.seen().includes('configmap/after-kill') ? true : undefined,
      );
      // Started again as up.sh started it; down.sh stops it by the PID file.
      const log = openSync(join(state, 'logs', `${leader.name}.log`), 'a');
      const again = spawn(command[0]!, command.slice(1), { detached: true, stdio: ['ignore', log, log] });
      again.unref();
      writeFileSync(leader.pidFile, String(again.pid));
      await waitFor(
        `${leader.name} to catch up`,
        () =>
          onMember(leader.clientURL, async (c) => {
            const { kvs } = await c.get(key('after-kill'), { serializable: true });
            return kvs.length > 0 ? true : undefined;
          }),
        60_000,
        250,
      );
      expect(members).toContain(await agreedLeader(() => members));
    } finally {
      watch.proc.kill();
    }
  });

  test('the API server compacts raftkv (every 30 s here) and lists and watches still work', async () => {
    const compacted = await waitFor(
      'revision 1 to be compacted',
      () =>
        onMember(members[0]!.clientURL, (c) =>
          c.get(key('probe'), { revision: 1 }).then(
            () => undefined,
            (e: unknown) => (e instanceof ApiError && /compacted/.test(e.message) ? e.message : undefined),
          ),
        ),
      90_000,
      1000,
    );
    expect(compacted).toMatch(/required revision has been compacted/);
    const names = await kubectl(['get', 'configmaps', '-n', ns, '-o', 'name']);
    expect(names.split('\n')).toEqual(expect.arrayContaining(['configmap/probe', 'configmap/after-kill']));
    const watch = await watchConfigMaps();
    try {
      await createConfigMap('after-compaction', 'third');
      await waitFor('the watch to report it', async () =>
        watch.seen().includes('configmap/after-compaction') ? true : undefined,
      );
    } finally {
      watch.proc.kill();
    }
  });
});
