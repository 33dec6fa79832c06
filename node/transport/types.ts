// Shapes shared by the transport's modules and its callers.
import type { Message, NodeId } from '../raft/types.js';

export interface PeerAddress {
  host: string;
  port: number;
}

/** winston's logger fits; the transport logs state changes, never per message. */
export interface TransportLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export const silentLogger: TransportLogger = { info() {}, warn() {}, error() {} };

/**
 * Receives a snapshot streamed by `from`: `msg` is the 'snap' message whose snapshot carries the
 * meta and empty data; the data arrives as `chunks`. Resolving tells the sender it was installed.
 */
export type SnapshotHandler = (
  from: NodeId,
  msg: Message,
  chunks: AsyncIterable<Uint8Array>,
) => Promise<void>;

/** Monotonic counters for one peer (both directions, all of its connections). */
export interface PeerStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  messagesSent: number;
  messagesReceived: number;
  /** Dropped before reaching the socket: queue overflow, unknown peer, or a frame too large. */
  messagesDropped: number;
}

export function newPeerStats(): PeerStats {
  return {
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    messagesSent: 0,
    messagesReceived: 0,
    messagesDropped: 0,
  };
}
