// Where etcd's .proto files are: compiled, this file is in dist/node/api, and the .proto files
// stay in the source tree.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

export const PROTO_DIR = HERE.includes('/dist/')
  ? resolve(HERE, '../../../../node/api/proto')
  : resolve(HERE, '../proto');
