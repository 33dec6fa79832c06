// One client port for both APIs, as etcd does: a connection that opens with the HTTP/2 preface
// is gRPC and is relayed to the gRPC server on an internal loopback port; anything else is
// HTTP/1 and is handed to the express server as is.
import { createServer, connect, type Server as NetServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

export function listenShared(
  http: HttpServer,
  grpcPort: number,
  host: string,
  port: number,
): Promise<NetServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('readable', () => {
      const head = socket.read() as Buffer | null;
      if (!head) return;
      socket.unshift(head);
      if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) {
        const upstream = connect(grpcPort, '127.0.0.1');
        upstream.setNoDelay(true);
        socket.pipe(upstream).pipe(socket);
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
      } else {
        http.emit('connection', socket);
      }
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
