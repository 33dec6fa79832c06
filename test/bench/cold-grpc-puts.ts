// The fresh-cluster measure's load generator, in a process of its own so that its code is as new
// as the cluster's: gRPC puts, as in the benchmark, for a few seconds; prints the LoadResult as JSON.
//   node dist/test/bench/cold-grpc-puts.js --endpoints http://a,http://b --clients 64 --seconds 2
import { grpcPut } from './bench.js';
import { runGrpcLoad } from './grpc-load.js';
import { argNumber, argText } from '../support/args.js';

const result = await runGrpcLoad(
  argText('endpoints').split(','),
  'Put',
  argNumber('clients', 64),
  argNumber('seconds', 2),
  grpcPut,
);
process.stdout.write(JSON.stringify(result));
