// Member and cluster identities. A member's ID is derived from its first peer URL and the
// cluster token, so every founding member computes the same IDs for everyone from
// --initial-cluster alone, and a member added later finds its own ID from its own URL; its data
// dir keeps it from then on (member-file.ts), so it survives a member update of the URL. IDs
// travel as 16 hex digits inside raftkv and as decimal uint64 strings in the etcd-shaped API.
import { createHash } from 'node:crypto';

export function memberId(peerURL: string, clusterToken: string): string {
  return createHash('sha256').update(`${clusterToken}\0${peerURL}`).digest('hex').slice(0, 16);
}

/** The same for every member of a cluster, founders and later joiners alike. */
export function clusterId(clusterToken: string): string {
  return createHash('sha256').update(`cluster\0${clusterToken}`).digest('hex').slice(0, 16);
}

export function hexToDecimal(id: string): string {
  return BigInt(`0x${id}`).toString(10);
}

/** Accepts the API's decimal form or raftkv's hex form; undefined when neither parses. */
export function parseMemberId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return value.toString(16).padStart(16, '0');
  }
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (/^[0-9]{1,20}$/.test(value)) {
    const n = BigInt(value);
    if (n >= 1n << 64n) return undefined;
    return n.toString(16).padStart(16, '0');
  }
  if (/^[0-9a-f]{16}$/.test(value)) return value;
  return undefined;
}
