// One client port for both APIs, as etcd does: a connection that opens with the HTTP/2 preface
// (or, over TLS, negotiates h2) is gRPC and is handed to grpc-js's HTTP/2 server (through
// h2-authority.ts, which lets etcdctl 3.4's URL authorities in); anything else is
// HTTP/1 and is handed to the express server as is. An https:// URL terminates TLS here, so both
// servers see decrypted sockets and one certificate serves both APIs.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions, type TLSSocket } from 'node:tls';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ConnectionInjector } from '@grpc/grpc-js';
import { admitHttp2 } from './h2-authority.js';
import { certAllowed, serverOptions, type TlsMaterial } from '../server/tls-files.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

export function listenShared(
  http: HttpServer,
  grpc: ConnectionInjector,
  url: URL,
  tls: TlsMaterial | undefined,
): Promise<NetServer> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const toGrpc = (socket: Socket) => admitHttp2(socket, (connection) => grpc.injectConnection(connection));
  const route = (socket: Socket) => {
    socket.once('readable', () => {
      const head = socket.read() as Buffer | null;
      if (!head) return;
      socket.unshift(head);
      if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) toGrpc(socket);
      else http.emit('connection', socket);
    });
  };
  const secure = serverTls(url, tls);
  let server: NetServer;
  if (secure) {
    server = createTlsServer({ ...secure, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
      if (!certAllowed(tls!, socket as TLSSocket)) return socket.destroy();
      // Clients that do not negotiate (curl with --http1.1, old libraries) are told apart as on http.
      if ((socket as TLSSocket).alpnProtocol === 'h2') toGrpc(socket);
      else if ((socket as TLSSocket).alpnProtocol === 'http/1.1') http.emit('connection', socket);
      else route(socket);
    });
    // No Nagle, as below; the raw TCP socket is the one to set it on.
    server.on('connection', (raw: Socket) => {
      raw.setNoDelay(true);
      track(raw);
    });
  } else {
    // No Nagle: an HTTP/2 response is several small writes (headers, data, trailers), and with
    // Nagle each waits for the client's delayed ACK of the one before (40 ms a request). The
    // servers handed these sockets never see them accepted, so they cannot set this themselves.
    server = createServer({ noDelay: true }, (socket) => {
      track(socket);
      route(socket);
    });
  }
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return listenAt(server, url);
}

/** A port with one HTTP/1 request listener (the metrics port); https:// URLs use the client TLS files. */
export function listenHttp(
  handler: RequestListener,
  url: URL,
  tls: TlsMaterial | undefined,
): Promise<HttpServer> {
  const secure = serverTls(url, tls);
  if (!secure) return listenAt(createHttpServer(handler), url);
  const server = createHttpsServer(secure, handler);
  // After the HTTP server's own listener, but in the same turn: nothing has been read yet.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (!certAllowed(tls!, socket)) socket.destroy();
  });
  return listenAt(server, url);
}

/** The server's TLS options for an https:// URL, none for http://; an https URL without files is an error. */
function serverTls(url: URL, tls: TlsMaterial | undefined): TlsOptions | undefined {
  if (url.protocol !== 'https:') return undefined;
  if (!tls) throw new Error(`${url.href}: an https URL needs --cert-file and --key-file`);
  return serverOptions(tls);
}

function listenAt<S extends NetServer>(server: S, url: URL): Promise<S> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(Number(url.port), url.hostname, () => ok(server));
  });
}
