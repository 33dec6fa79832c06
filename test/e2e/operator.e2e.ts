// The operator end to end, in a real control plane with real member processes as pods: install
// the CRD and the operator (2 replicas, leader election) from deploy/, create a KVCluster, and
// check status, events, data and metrics while it scales 3 → 5 → 3, heals a deleted pod, replaces
// a member whose volume was lost, and resumes after its leader is killed in the middle of a scale;
// then a TLS cluster from a Secret, a cluster with auth on, and one that loses a majority of its
// volumes and is brought back, when asked, around the survivor's data.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { KvClient } from '../../node/client/client.js';
import { makeTestCerts } from '../support/certs.js';
import { waitFor } from '../support/wait.js';
import { apply, createNamespace, getJson, kubectl, podGet, podPost } from './kube.js';

const ns = `e2e-op-${randomBytes(3).toString('hex')}`;
const OPERATOR_NS = 'raftkv-system';
const NAME = 'kv';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Status {
  phase?: string;
  members?: { name: string; id: string; role: string; healthy: boolean }[];
  leader?: string;
  quorum?: { voters: number; size: number; healthy: number; failureTolerance: number };
  conditions?: Condition[];
  pendingOperation?: { kind: string; ordinal: number };
}
interface Event {
  reason: string;
  message: string;
  type: string;
}

const t0 = Date.now();
const step = (what: string): void => {
  process.stderr.write(`[operator +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);
};

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function status(name = NAME): Promise<Status> {
  return (await getJson<{ status?: Status }>(['kvc', name, '-n', ns]))?.status ?? {};
}

/** The member container's args in the StatefulSet's pod template. */
async function templateArgs(name: string): Promise<string[]> {
  const sts = await getJson<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>([
    'statefulset',
    name,
    '-n',
    ns,
  ]);
  return sts!.spec.template.spec.containers[0]!.args;
}

/** Where the pod runner keeps a claim's volume (a hostPath PersistentVolume on this machine). */
async function volumePath(claim: string): Promise<string> {
  const pvc = await getJson<{ spec: { volumeName: string } }>(['pvc', claim, '-n', ns]);
  const pv = await getJson<{ spec: { hostPath?: { path: string } } }>(['pv', pvc!.spec.volumeName]);
  return pv!.spec.hostPath!.path;
}

const condition = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);

/** Waits until the cluster is Available with `n` healthy voters and no operation under way. */
async function healthyVoters(n: number, ms = 240_000, name = NAME): Promise<Status> {
  return waitFor(
    `${name} with ${n} healthy voters`,
    async () => {
      const s = await status(name);
      const ok =
        condition(s, 'Available')?.status === 'True' &&
        s.quorum?.voters === n &&
        s.quorum.healthy === n &&
        s.members?.length === n &&
        s.members.every((m) => m.healthy && m.role !== 'learner') &&
        s.pendingOperation === undefined &&
        s.phase === 'Running';
      return ok ? s : undefined;
    },
    ms,
    1000,
  );
}

async function events(name = NAME): Promise<Event[]> {
  const list = await getJson<{ items: Event[] }>([
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.kind=KVCluster,involvedObject.name=${name}`,
  ]);
  return list?.items ?? [];
}

async function put(pod: string, key: string, value: string): Promise<void> {
  await podPost(ns, pod, 2379, '/v3/kv/put', { key: b64(key), value: b64(value) });
}

async function get(pod: string, key: string, serializable = false): Promise<string | undefined> {
  const r = JSON.parse(await podPost(ns, pod, 2379, '/v3/kv/range', { key: b64(key), serializable })) as {
    kvs?: { value?: string }[];
  };
  const v = r.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
}

/** Every key written so far reads back from `pod` (waits: a member that just started may still be catching up). */
async function expectData(pod: string, data: Map<string, string>): Promise<void> {
  await waitFor(
    `${data.size} keys on ${pod}`,
    async () => {
      for (const [k, v] of data) if ((await get(pod, k, true)) !== v) return undefined;
      return true;
    },
    60_000,
    1000,
  );
}

async function scale(replicas: number): Promise<void> {
  await kubectl([
    'patch',
    'kvc',
    NAME,
    '-n',
    ns,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { replicas } }),
  ]);
}

/** The operator's manifests from deploy/, with a short replacement grace period for the test. */
function operatorManifests(): Record<string, unknown>[] {
  const docs = parseAllDocuments(readFileSync('deploy/operator/operator.yaml', 'utf8')).map(
    (d) => d.toJSON() as Record<string, unknown>,
  );
  for (const d of docs) {
    if (d.kind !== 'Deployment') continue;
    const c = (d as { spec: { template: { spec: { containers: { args?: string[] }[] } } } }).spec.template
      .spec.containers[0]!;
    c.args = [...(c.args ?? []), '--replace-after=20s'];
  }
  return docs;
}

async function operatorLeader(): Promise<string> {
  const lease = await getJson<{ spec: { holderIdentity?: string } }>([
    'lease',
    'raftkv-operator',
    '-n',
    OPERATOR_NS,
  ]);
  const holder = lease?.spec.holderIdentity;
  if (!holder) throw new Error('no operator holds the lease');
  return holder;
}

describe('operator end to end', () => {
  const data = new Map<string, string>();

  beforeAll(async () => {
    await kubectl(['apply', '-f', 'deploy/crd/kvcluster.yaml']);
    await kubectl(['wait', '--for=condition=Established', 'crd/kvclusters.raftkv.io', '--timeout=60s']);
    for (const doc of operatorManifests()) await apply(doc);
    await kubectl(['rollout', 'status', 'deployment/raftkv-operator', '-n', OPERATOR_NS, '--timeout=180s']);
    await createNamespace(ns);
    step('operator installed');
  });

  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  });

  it('creates a 3-member cluster that becomes Available and serves reads and writes', async () => {
    await apply({
      apiVersion: 'raftkv.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: NAME, namespace: ns },
      spec: { replicas: 3, storage: { size: '64Mi' } },
    });
    const s = await healthyVoters(3);
    step(`available, leader ${s.leader}`);
    expect(s.quorum).toEqual({ voters: 3, size: 2, healthy: 3, failureTolerance: 1 });
    expect(s.members!.filter((m) => m.role === 'leader')).toHaveLength(1);

    const pdb = await getJson<{ spec: { maxUnavailable: number } }>(['pdb', NAME, '-n', ns]);
    expect(pdb?.spec.maxUnavailable).toBe(1);
    const peers = await getJson<{ spec: { clusterIP: string; publishNotReadyAddresses: boolean } }>([
      'service',
      `${NAME}-peers`,
      '-n',
      ns,
    ]);
    expect(peers?.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    const table = await kubectl(['get', 'kvc', NAME, '-n', ns]);
    expect(table).toMatch(/REPLICAS/);
    expect(table).toMatch(/Running/);

    for (let i = 0; i < 9; i++) {
      const key = `k${i}`;
      data.set(key, `v${i}`);
      await put(`${NAME}-${i % 3}`, key, `v${i}`);
    }
    for (let i = 0; i < 3; i++) {
      for (const [k, v] of data) expect(await get(`${NAME}-${i}`, k)).toBe(v);
    }
  });

  it('rejects even and out-of-range replicas, and a retention of time in revision mode, before the operator sees them', async () => {
    for (const replicas of [4, 0, 11]) {
      await expect(scale(replicas)).rejects.toThrow(/replicas/);
    }
    await expect(kubectl(['scale', 'kvc', NAME, '-n', ns, '--replicas=2'])).rejects.toThrow(/odd|replicas/);
    expect((await getJson<{ spec: { replicas: number } }>(['kvc', NAME, '-n', ns]))?.spec.replicas).toBe(3);
    const revisionsOf1h = '{"spec":{"raft":{"autoCompaction":{"mode":"revision","retention":"1h"}}}}';
    await expect(
      kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', revisionsOf1h]),
    ).rejects.toThrow(/in revision mode the retention is a number of revisions/);
  });

  it('scales 3 → 5 → 3 one member at a time, never with two learners', async () => {
    await scale(5);
    let maxLearners = 0;
    const s5 = await waitFor(
      '5 healthy voters',
      async () => {
        const s = await status();
        maxLearners = Math.max(maxLearners, s.members?.filter((m) => m.role === 'learner').length ?? 0);
        const done = s.quorum?.voters === 5 && s.quorum.healthy === 5 && s.pendingOperation === undefined;
        return done && condition(s, 'Available')?.status === 'True' ? s : undefined;
      },
      300_000,
      500,
    );
    step(`scaled to 5, leader ${s5.leader}`);
    expect(maxLearners).toBeLessThanOrEqual(1);
    const reasons = (await events()).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['MemberAdded', 'MemberPromoted', 'StatefulSetScaled']));
    await expectData(`${NAME}-4`, data);

    await scale(3);
    await healthyVoters(3, 300_000);
    step('scaled back to 3');
    await waitFor(
      'volume claims of ordinals 3 and 4 deleted',
      async () => {
        const pvcs = await getJson<{ items: { metadata: { name: string } }[] }>(['pvc', '-n', ns]);
        const names = pvcs?.items.map((p) => p.metadata.name) ?? [];
        return names.includes(`data-${NAME}-3`) || names.includes(`data-${NAME}-4`) ? undefined : names;
      },
      60_000,
      1000,
    );
    expect((await events()).map((e) => e.reason)).toContain('MemberRemoved');
  });

  it('lets a deleted pod rejoin with its data and the same identity', async () => {
    const before = await healthyVoters(3);
    const id = before.members!.find((m) => m.name === `${NAME}-1`)!.id;
    const removedBefore = (await events()).filter((e) => e.reason === 'MemberRemoved').length;
    await kubectl(['delete', 'pod', `${NAME}-1`, '-n', ns]);
    const after = await healthyVoters(3);
    expect(after.members!.find((m) => m.name === `${NAME}-1`)?.id).toBe(id);
    expect((await events()).filter((e) => e.reason === 'MemberRemoved')).toHaveLength(removedBefore);
    await expectData(`${NAME}-1`, data);
    step('deleted pod rejoined');
  });

  it('replaces a member whose volume was lost', async () => {
    await healthyVoters(3);
    const removedBefore = (await events()).filter((e) => e.reason === 'MemberRemoved').length;
    await kubectl(['delete', 'pvc', `data-${NAME}-2`, '-n', ns, '--wait=false']);
    await kubectl(['delete', 'pod', `${NAME}-2`, '-n', ns, '--wait=false']);
    await waitFor(
      'the lost member removed',
      async () =>
        (await events()).filter((e) => e.reason === 'MemberRemoved').length > removedBefore
          ? true
          : undefined,
      180_000,
      1000,
    );
    await healthyVoters(3, 300_000);
    await expectData(`${NAME}-2`, data);
    step('member with a lost volume replaced');
  });

  it('resumes a scale-up after the operator leading it is killed', async () => {
    await healthyVoters(3);
    const leader = await operatorLeader();
    await scale(5);
    await waitFor(
      'a scale-up under way',
      async () => ((await status()).pendingOperation?.kind === 'scaleUp' ? true : undefined),
      120_000,
      250,
    );
    await kubectl(['delete', 'pod', leader, '-n', OPERATOR_NS, '--grace-period=0', '--force']);
    step(`killed operator ${leader} mid-scale`);
    await waitFor(
      'another operator leading',
      async () => ((await operatorLeader()) !== leader ? true : undefined),
      120_000,
      1000,
    );
    await healthyVoters(5, 300_000);
    await expectData(`${NAME}-3`, data);
    step('scale-up finished by the new operator leader');
  });

  it('reports quorum health in its metrics', async () => {
    const leader = await operatorLeader();
    const text = await waitFor(
      'operator metrics for the cluster',
      async () => {
        const t = await podGet(OPERATOR_NS, leader, 8080, '/metrics');
        return t.includes(`cluster="${NAME}"`) ? t : undefined;
      },
      60_000,
      1000,
    );
    const value = (metric: string) =>
      Number(new RegExp(`^${metric}\\{[^}]*cluster="${NAME}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('raftkv_cluster_voters')).toBe(5);
    expect(value('raftkv_cluster_quorum_size')).toBe(3);
    expect(value('raftkv_cluster_quorum_healthy')).toBe(1);
    expect(value('raftkv_cluster_failure_tolerance')).toBe(2);
    expect(value('raftkv_cluster_leader_present')).toBe(1);
  });

  it('rolls a version change one pod at a time, the leader last, never below quorum', async () => {
    const before = await healthyVoters(5);
    const revision = async (pod: string) =>
      (await getJson<{ metadata: { annotations?: Record<string, string> } }>(['pod', pod, '-n', ns]))
        ?.metadata.annotations?.['raftkv.io/revision'];
    const old = await revision(`${NAME}-0`);
    await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', '{"spec":{"version":"0.1.1"}}']);
    let minHealthy = 5;
    const restarted: string[] = [];
    await waitFor(
      'every pod on the new revision',
      async () => {
        const s = await status();
        if (s.quorum) minHealthy = Math.min(minHealthy, s.quorum.healthy);
        if (s.pendingOperation?.kind === 'upgrade') {
          const pod = `${NAME}-${s.pendingOperation.ordinal}`;
          if (restarted.at(-1) !== pod) restarted.push(pod);
        }
        const revs = await Promise.all([0, 1, 2, 3, 4].map((k) => revision(`${NAME}-${k}`)));
        return revs.every((r) => r !== undefined && r !== old) && s.pendingOperation === undefined
          ? true
          : undefined;
      },
      300_000,
      250,
    );
    const after = await healthyVoters(5);
    step(`rolled to a new revision in order ${restarted.join(', ')}`);
    expect(minHealthy).toBeGreaterThanOrEqual(3);
    expect(new Set(restarted).size).toBe(5);
    // The member that led when the roll began was restarted last (after handing leadership over).
    expect(restarted.at(-1)).toBe(before.leader);
    expect(after.members!.map((m) => m.id).sort()).toEqual(before.members!.map((m) => m.id).sort());
    for (let k = 0; k < 5; k++) await expectData(`${NAME}-${k}`, data);
  });

  it('runs a TLS cluster: mutual TLS on both ports, probes and metrics on the plain port, tls fixed at creation', async () => {
    // Two clusters of this size at once are more than the test machine needs to carry.
    await kubectl(['delete', 'kvc', NAME, '-n', ns, '--wait=false']);
    const TLS = 'kvtls';
    const certs = makeTestCerts([`*.${TLS}-peers.${ns}.svc`, TLS, `${TLS}.${ns}.svc`]);
    const file = (f: string) => readFileSync(f).toString('base64');
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: `${TLS}-tls`, namespace: ns },
      data: { 'tls.crt': file(certs.cert), 'tls.key': file(certs.key), 'ca.crt': file(certs.ca) },
    });
    await apply({
      apiVersion: 'raftkv.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: TLS, namespace: ns },
      spec: { replicas: 3, storage: { size: '64Mi' }, tls: { secretName: `${TLS}-tls` } },
    });
    // The operator reads the members' status over TLS with the Secret's certificate: healthy
    // voters in status are its proof.
    await waitFor(
      'the TLS cluster Available with 3 healthy voters',
      async () => {
        const s = (await getJson<{ status?: Status }>(['kvc', TLS, '-n', ns]))?.status ?? {};
        const ok = condition(s, 'Available')?.status === 'True' && s.quorum?.healthy === 3;
        return ok ? s : undefined;
      },
      240_000,
      1000,
    );
    step('TLS cluster available');
    const podIPs = await Promise.all(
      [0, 1, 2].map(
        async (i) =>
          (await getJson<{ status: { podIP: string } }>(['pod', `${TLS}-${i}`, '-n', ns]))!.status.podIP,
      ),
    );
    // Pod IPs are not in the certificate: the chain to the cluster's CA is what the test checks, as the operator does.
    const tls = {
      ca: readFileSync(certs.ca),
      cert: readFileSync(certs.cert),
      key: readFileSync(certs.key),
      checkServerIdentity: () => undefined,
    };
    const clients = podIPs.map((ip) => new KvClient([`https://${ip}:2379`], 5000, tls));
    try {
      for (const [i, c] of clients.entries()) await c.put(`tls${i}`, `v${i}`);
      for (const c of clients) {
        expect((await c.get('tls', { prefix: true })).kvs.map((kv) => kv.value)).toEqual(['v0', 'v1', 'v2']);
      }
      const noCert = new KvClient([`https://${podIPs[0]}:2379`], 5000, {
        ca: tls.ca,
        checkServerIdentity: () => undefined,
      });
      await expect(noCert.put('intruder', 'x')).rejects.toThrow(/unreachable/);
      await noCert.close();
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    expect(await podGet(ns, `${TLS}-0`, 2381, '/metrics')).toMatch(/^etcd_server_has_leader 1$/m);
    await expect(
      kubectl(['patch', 'kvc', TLS, '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/spec/tls"}]']),
    ).rejects.toThrow(/tls is chosen when the cluster is created/);
  });

  it('scales a cluster whose auth is on, as the root user of spec.auth; its JWTs outlive a member restart', async () => {
    await kubectl(['delete', 'kvc', 'kvtls', '-n', ns, '--wait=false', '--ignore-not-found']);
    const AUTH = 'kvauth';
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/basic-auth',
      metadata: { name: `${AUTH}-root`, namespace: ns },
      data: { username: b64('root'), password: b64('rootpw') },
    });
    const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${AUTH}-jwt`, namespace: ns },
      data: { 'jwt.key': b64(signingKey.export({ type: 'pkcs8', format: 'pem' }).toString()) },
    });
    await apply({
      apiVersion: 'raftkv.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: AUTH, namespace: ns },
      spec: {
        replicas: 1,
        storage: { size: '64Mi' },
        auth: { secretName: `${AUTH}-root`, jwt: { secretName: `${AUTH}-jwt`, signMethod: 'ES256' } },
      },
    });
    await healthyVoters(1, 300_000, AUTH);
    const podIP = (await getJson<{ status: { podIP: string } }>(['pod', `${AUTH}-0`, '-n', ns]))!.status
      .podIP;
    const c = new KvClient([`http://${podIP}:2379`], 5000);
    try {
      await c.call('/v3/auth/user/add', { name: 'root', password: 'rootpw' });
      await c.call('/v3/auth/role/add', { name: 'root' });
      await c.call('/v3/auth/user/grant', { user: 'root', role: 'root' });
      await c.call('/v3/auth/enable', {});
      await expect(c.put('anonymous', 'x')).rejects.toThrow('etcdserver: user name is empty');
      step('auth on in a 1-member cluster');
      await kubectl([
        'patch',
        'kvc',
        AUTH,
        '-n',
        ns,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { replicas: 3 } }),
      ]);
      const s = await healthyVoters(3, 300_000, AUTH);
      step(`auth cluster scaled to 3, leader ${s.leader}`);
      expect(s.members?.map((m) => m.name).sort()).toEqual([0, 1, 2].map((i) => `${AUTH}-${i}`));
      await c.authenticate('root', 'rootpw');
      expect((await c.members()).filter((m) => !m.isLearner)).toHaveLength(3);

      // A JWT needs no member's memory: one made before a member's pod is replaced works there after.
      const token = c.token!;
      const uid = async () =>
        (await getJson<{ metadata: { uid: string } }>(['pod', `${AUTH}-1`, '-n', ns]))?.metadata.uid;
      const before = await uid();
      await kubectl(['delete', 'pod', `${AUTH}-1`, '-n', ns]);
      await waitFor(
        'a new pod for the member',
        async () => ((await uid()) ?? before) !== before || undefined,
        120_000,
      );
      const ip1 = await waitFor('the new pod’s IP', async () => {
        const pod = await getJson<{ status: { podIP?: string } }>(['pod', `${AUTH}-1`, '-n', ns]);
        return pod?.status.podIP;
      });
      const restarted = new KvClient([`http://${ip1}:2379`], 5000);
      try {
        // Until the member serves, errors are "not yet"; a refused token would be the last one seen.
        await waitFor(
          'a write with the earlier token at the new pod',
          async () => restarted.call('/v3/kv/put', { key: b64('after-restart'), value: b64('v') }, token),
          120_000,
        );
        step('earlier JWT accepted by the restarted member');
        const read = (await restarted.call('/v3/kv/range', { key: b64('after-restart') }, token)) as {
          kvs: Array<{ value: string }>;
        };
        expect(read.kvs.map((kv) => kv.value)).toEqual([b64('v')]);
      } finally {
        await restarted.close();
      }
    } finally {
      await c.close();
    }
  });

  it('waits when a majority of volumes is lost, then forces a new cluster around the named survivor when asked', async () => {
    await kubectl(['delete', 'kvc', 'kvauth', '-n', ns, '--wait=false', '--ignore-not-found']);
    const F = 'kvf';
    await apply({
      apiVersion: 'raftkv.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: F, namespace: ns },
      spec: { replicas: 3, storage: { size: '64Mi' } },
    });
    const formed = await healthyVoters(3, 300_000, F);
    const kept = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      kept.set(`f${i}`, `v${i}`);
      await put(`${F}-${i % 3}`, `f${i}`, `v${i}`);
    }
    // Every write is on the survivor before the others' volumes go (serializable: its own state).
    await expectData(`${F}-0`, kept);

    // Pods that restart empty must join (not found a new cluster): the template says so once formed.
    await waitFor(
      'the template to say --initial-cluster-state=existing',
      async () => (await templateArgs(F)).includes('--initial-cluster-state=existing') || undefined,
      60_000,
      1000,
    );
    // The survivor leads, so the leader knows how far the others' logs went and the emptied ones are
    // refused. (A leader elected after they went down would not know: the same blind spot as etcd's.)
    const leader = formed.members!.find((m) => m.name === formed.leader)!;
    const survivorId = formed.members!.find((m) => m.name === `${F}-0`)!.id;
    if (leader.id !== survivorId) {
      const targetID = BigInt(`0x${survivorId}`).toString();
      await podPost(ns, leader.name, 2379, '/v3/maintenance/transfer-leadership', { targetID });
    }
    await waitFor(
      `${F}-0 leading`,
      async () => ((await status(F)).leader === `${F}-0` ? true : undefined),
      60_000,
      1000,
    );
    // Their disks' contents are gone (a deleted claim would stay bound to the pod that comes back),
    // both before either process is killed.
    for (const k of [1, 2]) {
      const dir = await volumePath(`data-${F}-${k}`);
      for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
    }
    await kubectl(['delete', 'pod', `${F}-1`, `${F}-2`, '-n', ns, '--grace-period=0', '--force']);
    await waitFor(
      'phase QuorumLost',
      async () => ((await status(F)).phase === 'QuorumLost' ? true : undefined),
      120_000,
      1000,
    );
    step('majority of volumes lost: QuorumLost');
    // Longer than --replace-after: the operator changes no membership on its own.
    await new Promise((r) => setTimeout(r, 25_000));
    const waiting = await status(F);
    expect(waiting.phase).toBe('QuorumLost');
    expect(waiting.members!.map((m) => m.id).sort()).toEqual(formed.members!.map((m) => m.id).sort());
    expect((await events(F)).map((e) => e.reason)).not.toContain('MemberRemoved');

    await kubectl(['annotate', 'kvc', F, '-n', ns, `raftkv.io/force-new-cluster=${F}-0`, '--overwrite']);
    const healed = await healthyVoters(3, 420_000, F);
    step(`forced a new cluster around ${F}-0, healed to 3, leader ${healed.leader}`);
    const reasons = (await events(F)).map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['ForceNewCluster', 'ForceNewClusterDone', 'MemberAdded', 'MemberPromoted']),
    );
    expect(healed.members!.find((m) => m.name === `${F}-0`)?.id).toBe(
      formed.members!.find((m) => m.name === `${F}-0`)?.id,
    );
    const kvc = await getJson<{ status: { lastForceNewCluster?: string } }>(['kvc', F, '-n', ns]);
    expect(kvc?.status.lastForceNewCluster).toBe(`${F}-0`);
    expect((await templateArgs(F)).some((a) => a.startsWith('--force-new-cluster'))).toBe(false);
    for (let k = 0; k < 3; k++) await expectData(`${F}-${k}`, kept);
    await put(`${F}-2`, 'after-force', 'ok');
    expect(await get(`${F}-0`, 'after-force')).toBe('ok');
  });
});
