// The metrics etcd's dashboards and alerts read besides the server's own: gRPC per method and
// status code (go-grpc-prometheus's grpc_server_*, which kube-prometheus' etcd alerts and the etcd
// Grafana dashboard's RPC rate use), client and peer traffic (etcd_network_client_grpc_*_bytes_total,
// etcd_network_peer_*_bytes_total). The same
// gRPC calls go to the leader of a 3-member raftkv and of a 3-member etcd 3.4; afterwards each
// system's /metrics must show the same counts for them, under the same names and labels. (etcd's
// JSON gateway is a gRPC client of its own server, so there HTTP calls count too; raftkv counts
// gRPC calls only. The comparison keeps to the KV service, which the tests call over gRPC alone.)
import { jest } from '@jest/globals';
import { etcdServices } from '../../node/api/grpc.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';
import type { Obj } from '../support/grpc-stubs.js';
import { bothSystems, type System } from '../support/side-by-side.js';

jest.setTimeout(120_000);

const systems = bothSystems('metrics');

/** The samples of `name` in a Prometheus text exposition, as "label=value,... value", sorted. */
function samples(text: string, name: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = m[2]!.split(',').sort().join(',');
    out.push(`${labels} ${m[3]}`);
  }
  return out.sort();
}

const scrape = async (m: LocalMember) => (await fetch(new URL('/metrics', m.clientURL))).text();

test('the same gRPC calls are counted under the same series, by method and status code', async () => {
  const calls = async (s: System) => {
    await s.stubs.call('KV', 'Put', { key: Buffer.from('m/a'), value: Buffer.from('1') });
    await s.stubs.call('KV', 'Put', { key: Buffer.from('m/b'), value: Buffer.from('2') });
    await s.stubs.call('KV', 'Range', { key: Buffer.from('m/'), range_end: Buffer.from('m0') });
    await s.stubs.call('KV', 'Range', { key: Buffer.from('m/a'), revision: 1000 }).catch(() => 'future');
  };
  await calls(systems.raftkv);
  await calls(systems.etcd);
  const [ours, theirs] = [await scrape(systems.raftkv.leader), await scrape(systems.etcd.leader)];
  const kv = (text: string, name: string) =>
    samples(text, name).filter((s) => /grpc_service="etcdserverpb\.KV"/.test(s) && !/ 0$/.test(s));
  for (const name of [
    'grpc_server_started_total',
    'grpc_server_handled_total',
    'grpc_server_msg_received_total',
    'grpc_server_msg_sent_total',
  ]) {
    expect(kv(ours, name)).toEqual(kv(theirs, name));
  }
  expect(kv(ours, 'grpc_server_handled_total')).toEqual([
    'grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary" 2',
    'grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary" 1',
    'grpc_code="OutOfRange",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary" 1',
  ]);
  // As go-grpc-prometheus, every method's series exist from the start, at 0 until called.
  expect(samples(ours, 'grpc_server_handled_total')).toContain(
    'grpc_code="Unavailable",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary" 0',
  );
  expect(samples(ours, 'grpc_server_started_total')).toContain(
    'grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream" 0',
  );
});

/** A unary call whose answer is kept as the bytes the server sent; with the bytes of the request. */
function rawCall(s: System, service: string, method: string, req: Obj) {
  const m = etcdServices()[service]!.service[method]!;
  const answer = new Promise<Buffer>((ok, fail) =>
    s.stubs.stub(service).makeUnaryRequest(
      m.path,
      m.requestSerialize,
      (b: Buffer) => b,
      req,
      (e, r) => (e ? fail(e) : ok(r!)),
    ),
  );
  return { requestBytes: m.requestSerialize(req).length, answer };
}

test('client traffic is counted in bytes of the encoded messages each way, as etcd counts it', async () => {
  const traffic = async (m: LocalMember) => {
    const text = await scrape(m);
    const counter = (dir: string) =>
      Number(new RegExp(`^etcd_network_client_grpc_${dir}_bytes_total (\\d+)$`, 'm').exec(text)![1]);
    return { received: counter('received'), sent: counter('sent') };
  };
  const counted = [];
  for (const s of [systems.raftkv, systems.etcd]) {
    const before = await traffic(s.leader);
    const expected = { received: 0, sent: 0 };
    for (const [method, req] of [
      ['Put', { key: Buffer.from('t/k'), value: Buffer.alloc(1000, 'v') }],
      ['Range', { key: Buffer.from('t/k') }],
    ] as const) {
      const { requestBytes, answer } = rawCall(s, 'KV', method, req);
      expected.received += requestBytes;
      expected.sent += (await answer).length;
    }
    // A refused call: its request counts, and no answer does.
    const refused = rawCall(s, 'KV', 'Range', { key: Buffer.from('t/k'), revision: 1000 });
    expected.received += refused.requestBytes;
    await expect(refused.answer).rejects.toThrow('future revision');
    const after = await traffic(s.leader);
    expect({ received: after.received - before.received, sent: after.sent - before.sent }).toEqual(expected);
    expect(expected.sent).toBeGreaterThan(1000); // the Range answer holds the value
    counted.push(after.received - before.received);
  }
  // The same requests, so the same bytes received on both.
  expect(counted[0]).toBe(counted[1]);
});

test('peer traffic is counted by peer ID, both ways, and each peer connection is active', async () => {
  for (const s of [systems.raftkv, systems.etcd]) {
    const text = await scrape(s.leader);
    const r = await s.stubs.call<{ members: Array<{ ID: string; name: string }> }>(
      'Cluster',
      'MemberList',
      {},
    );
    const peers = r.members
      .filter((m) => m.name !== s.leader.name)
      .map((m) => BigInt(m.ID).toString(16))
      .sort();
    for (const [name, label] of [
      ['etcd_network_peer_sent_bytes_total', 'To'],
      ['etcd_network_peer_received_bytes_total', 'From'],
    ] as const) {
      const all = samples(text, name).map((x) => /="([0-9a-f]+)" (\d+)$/.exec(x)!);
      // etcd also counts, as From="0", bytes that arrive before it knows the sender; raftkv
      // attributes every byte to a peer it has identified.
      const got = s === systems.etcd ? all.filter((g) => g[1] !== '0') : all;
      // etcd writes IDs without leading zeros, raftkv as 16 digits: compared as numbers.
      expect(got.map((g) => BigInt(`0x${g[1]}`).toString(16)).sort()).toEqual(peers);
      for (const g of got) expect(Number(g[2])).toBeGreaterThan(0);
      expect(samples(text, name).every((x) => x.startsWith(`${label}=`))).toBe(true);
    }
    const active = samples(text, 'etcd_network_active_peers').map((x) =>
      /Remote="([0-9a-f]+)" (\d+)$/.exec(x)!,
    );
    expect(active.map((g) => [BigInt(`0x${g[1]}`).toString(16), g[2]]).sort()).toEqual(
      peers.map((p) => [p, '1']),
    );
  }
});
