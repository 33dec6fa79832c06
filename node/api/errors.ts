// Errors as etcd's JSON gateway reports them: an HTTP status and {error, code, message}, where
// code is the gRPC status code the gRPC API would return.
import { MvccError } from '../mvcc/types.js';
import { LeaseTooLarge } from '../server/leases.js';
import { MemberError } from '../server/member.js';
import { RequestTimeoutError } from '../server/waiters.js';
import { BadRequest } from './json.js';

const GRPC = {
  unknown: 2,
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  outOfRange: 11,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
};

const HTTP: Record<number, number> = {
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  7: 403,
  8: 429,
  9: 400,
  11: 400,
  13: 500,
  14: 503,
  16: 401,
};

export function grpcCode(e: unknown): number {
  if (e instanceof BadRequest) return GRPC.invalidArgument;
  if (e instanceof RequestTimeoutError) return GRPC.unavailable;
  if (e instanceof LeaseTooLarge) return GRPC.outOfRange;
  if (e instanceof MvccError) {
    switch (e.code) {
      case 'compacted':
      case 'futureRev':
        return GRPC.outOfRange;
      case 'nospace':
        return GRPC.resourceExhausted;
      case 'leaseNotFound':
        return GRPC.notFound;
      case 'leaseExists':
      case 'failedPrecondition':
        return GRPC.failedPrecondition;
      case 'permissionDenied':
        return GRPC.permissionDenied;
      case 'unauthenticated':
        return GRPC.unauthenticated;
      case 'unavailable':
        return GRPC.unavailable;
      case 'unknown':
        return GRPC.unknown;
      default:
        return GRPC.invalidArgument;
    }
  }
  if (e instanceof MemberError) {
    return {
      unavailable: GRPC.unavailable,
      invalid: GRPC.invalidArgument,
      notFound: GRPC.notFound,
      failedPrecondition: GRPC.failedPrecondition,
      resourceExhausted: GRPC.resourceExhausted,
    }[e.code];
  }
  return GRPC.internal;
}

export function errorBody(e: unknown): {
  status: number;
  body: { error: string; code: number; message: string };
} {
  const code = grpcCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return { status: HTTP[code] ?? 500, body: { error: message, code, message } };
}
