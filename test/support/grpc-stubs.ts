// etcd's gRPC services called on one member with @grpc/grpc-js, as the cluster tests compare
// raftkv with etcd: a client per service, made on first use.
import * as grpc from '@grpc/grpc-js';
import { etcdServices } from '../../node/api/grpc.js';
import type { LocalMember } from '../../node/tools/local-cluster.js';

export type Obj = Record<string, unknown>;
type UnaryMethod = (req: Obj, options: grpc.CallOptions, done: (e: Error | null, r: never) => void) => void;

export interface GrpcStubs {
  /** The client of a service (KV, Lease, Cluster, Maintenance, Lock, Election, Health, ...). */
  stub(service: string): grpc.Client;
  /** A unary call; rejects with the grpc ServiceError (code, details). */
  call<T = Obj>(service: string, method: string, req: Obj, deadline?: Date): Promise<T>;
  close(): void;
}

export function grpcStubs(m: LocalMember): GrpcStubs {
  const services = etcdServices();
  const address = new URL(m.clientURL).host;
  const made = new Map<string, grpc.Client>();
  const stub = (name: string) => {
    if (!made.has(name)) made.set(name, new services[name]!(address, grpc.credentials.createInsecure()));
    return made.get(name)!;
  };
  return {
    stub,
    call: (service, method, req, deadline) =>
      new Promise((ok, fail) => {
        const client = stub(service) as unknown as Record<string, UnaryMethod>;
        client[method]!.call(client, req, deadline ? { deadline } : {}, (e, r) => (e ? fail(e) : ok(r)));
      }),
    close: () => made.forEach((c) => c.close()),
  };
}
