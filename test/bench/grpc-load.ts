// The same closed loop as load.ts, through etcd's gRPC KV service: what etcdctl and etcd's client
// libraries speak. One HTTP/2 channel per endpoint, shared by the workers using it (as an etcd
// client shares its connection); worker i uses endpoint i mod n. With `tls`, channels use TLS and
// present its certificate.
import * as grpc from '@grpc/grpc-js';
import { etcdServices } from '../../node/api/grpc.js';
import { runClosedLoop, type LoadResult } from './load.js';

type Unary = (request: object, callback: (err: grpc.ServiceError | null) => void) => void;

export async function runGrpcLoad(
  endpoints: string[],
  method: 'Put' | 'Range',
  clients: number,
  seconds: number,
  request: (worker: number, n: number) => object,
  tls?: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<LoadResult> {
  const credentials = tls
    ? grpc.credentials.createSsl(tls.ca, tls.key, tls.cert)
    : grpc.credentials.createInsecure();
  const KV = etcdServices().KV!;
  const stubs = endpoints.map((e) => new KV(new URL(e).host, credentials));
  const calls = stubs.map((s) => (s[method] as Unary).bind(s));
  try {
    return await runClosedLoop(
      clients,
      seconds,
      (w, n) => new Promise((done) => calls[w % calls.length]!(request(w, n), (err) => done(!err))),
    );
  } finally {
    for (const s of stubs) s.close();
  }
}
