// One client port for both APIs, as etcd does: a connection that opens with the HTTP/2 preface
// is gRPC and is handed to grpc-js's HTTP/2 server; anything else is HTTP/1 and is handed to the
// express server as is.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { ConnectionInjector } from '@grpc/grpc-js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

export function listenShared(
  http: HttpServer,
  grpc: ConnectionInjector,
  host: string,
  port: number,
): Promise<NetServer> {
  const sockets = new Set<Socket>();
  // No Nagle: an HTTP/2 response is several small writes (headers, data, trailers), and with
  // Nagle each waits for the client's delayed ACK of the one before (40 ms a request). The
  // servers handed these sockets never see them accepted, so they cannot set this themselves.
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('readable', () => {
      const head = socket.read() as Buffer | null;
      if (!head) return;
      socket.unshift(head);
      if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) grpc.injectConnection(socket);
      else http.emit('connection', socket);
    });
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server));
  });
}
