// The gRPC server metrics etcd exports (go-grpc-prometheus's, same names and labels):
// grpc_server_started_total, grpc_server_handled_total by status code, grpc_server_msg_received_total
// and grpc_server_msg_sent_total. etcd dashboards' RPC rate and active watch streams, and alerts on
// failed RPCs (kube-prometheus' etcdHighNumberOfFailedGRPCRequests), read them. One server
// interceptor counts every call of every service. And etcd's own client traffic counters,
// etcd_network_client_grpc_{received,sent}_bytes_total (the dashboards' "Client Traffic In/Out"):
// the encoded size of every message, counted where grpc-js decodes and encodes it.
import * as grpc from '@grpc/grpc-js';
import { Counter, Histogram, type Registry } from 'prom-client';

/** grpc-go's names of the status codes, by number (the grpc_code label). */
const CODES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

type MethodLabels = { grpc_type: string; grpc_service: string; grpc_method: string };

/** The counters of one method, labelled once (labelling per call would hash the labels each time). */
interface MethodCounters {
  started: Counter.Internal;
  received: Counter.Internal;
  sent: Counter.Internal;
  handled: Counter.Internal[];
  /** With --metrics=extensive only. */
  handling?: Histogram.Internal<string>;
}

function labelsOf(m: { path: string; requestStream: boolean; responseStream: boolean }): MethodLabels {
  const [, service = '', method = ''] = m.path.split('/');
  const stream = m.requestStream ? 'bidi_stream' : 'server_stream';
  const single = m.requestStream ? 'client_stream' : 'unary';
  return { grpc_type: m.responseStream ? stream : single, grpc_service: service, grpc_method: method };
}

export class GrpcMetrics {
  private readonly byPath = new Map<string, MethodCounters>();
  private readonly started: Counter;
  private readonly handled: Counter;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly receivedBytes: Counter;
  private readonly sentBytes: Counter;
  private handling?: Histogram;

  constructor(private readonly registry: Registry) {
    const counter = (name: string, help: string, code = false) =>
      new Counter({
        name,
        help,
        labelNames: ['grpc_type', 'grpc_service', 'grpc_method', ...(code ? ['grpc_code'] : [])],
        registers: [registry],
      });
    this.started = counter('grpc_server_started_total', 'Total number of RPCs started on the server.');
    this.handled = counter(
      'grpc_server_handled_total',
      'Total number of RPCs completed on the server, regardless of success or failure.',
      true,
    );
    this.received = counter(
      'grpc_server_msg_received_total',
      'Total number of RPC stream messages received on the server.',
    );
    this.sent = counter(
      'grpc_server_msg_sent_total',
      'Total number of gRPC stream messages sent by the server.',
    );
    const bytes = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
    this.receivedBytes = bytes(
      'etcd_network_client_grpc_received_bytes_total',
      'The total number of bytes received from grpc clients.',
    );
    this.sentBytes = bytes(
      'etcd_network_client_grpc_sent_bytes_total',
      'The total number of bytes sent to grpc clients.',
    );
  }

  /**
   * etcd's --metrics=extensive (go-grpc-prometheus's EnableHandlingTimeHistogram): how long each call
   * took, from its start to its status, by method. Before any service is instrumented.
   */
  enableHandlingTime(): void {
    this.handling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  /**
   * `service` with its messages' encoded bytes counted as they are decoded and encoded, and every
   * series of every method at 0, as go-grpc-prometheus starts them, so that rates and ratios over
   * them exist before the first call.
   */
  instrument(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
    const counted: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [name, m] of Object.entries(service)) {
      this.countersOf(m);
      counted[name] = {
        ...m,
        requestDeserialize: (bytes: Buffer) => {
          this.receivedBytes.inc(bytes.length);
          return m.requestDeserialize(bytes);
        },
        responseSerialize: (value: unknown) => {
          const bytes = m.responseSerialize(value);
          this.sentBytes.inc(bytes.length);
          return bytes;
        },
      };
    }
    return counted;
  }

  /** Counts each call: started, messages each way, and its status once it ends (Canceled if cut off). */
  readonly interceptor: grpc.ServerInterceptor = (method, call) => {
    const c = this.countersOf(method);
    c.started.inc();
    const startedAt = performance.now();
    let ended = false;
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      (c.handled[code] ?? c.handled[grpc.status.UNKNOWN]!).inc();
      c.handling?.observe((performance.now() - startedAt) / 1000);
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMessage((message, next) => {
        c.received.inc();
        next(message);
      })
      .withOnCancel(() => end(grpc.status.CANCELLED))
      .build();
    return new grpc.ServerInterceptingCall(
      call,
      new grpc.ResponderBuilder()
        .withStart((next) => next(listener))
        .withSendMessage((message, next) => {
          c.sent.inc();
          next(message);
        })
        .withSendStatus((status, next) => {
          end(status.code ?? grpc.status.OK);
          next(status);
        })
        .build(),
    );
  };

  private countersOf(m: { path: string; requestStream: boolean; responseStream: boolean }): MethodCounters {
    let c = this.byPath.get(m.path);
    if (!c) {
      const labels = labelsOf(m);
      c = {
        started: this.started.labels(labels),
        received: this.received.labels(labels),
        sent: this.sent.labels(labels),
        handled: CODES.map((grpc_code) => this.handled.labels({ ...labels, grpc_code })),
        ...(this.handling ? { handling: this.handling.labels(labels) } : {}),
      };
      for (const counter of [c.started, c.received, c.sent, ...c.handled]) counter.inc(0);
      this.handling?.zero(labels);
      this.byPath.set(m.path, c);
    }
    return c;
  }
}
