// Flags as etcd names them, their environment fallbacks, and clear errors for bad values.
import { ConfigError, parseConfig } from './config.js';

const parse = (...argv: string[]) => parseConfig(['--name=a', ...argv], {});

test('the backend batch flags default to etcd’s and take durations as etcd’s Go flags do', () => {
  expect([parse().backendBatchIntervalMs, parse().backendBatchLimit]).toEqual([100, 10_000]);
  expect(parse('--backend-batch-interval=250ms').backendBatchIntervalMs).toBe(250);
  expect(parse('--backend-batch-interval=1s').backendBatchIntervalMs).toBe(1000);
  expect(parse('--backend-batch-interval=20').backendBatchIntervalMs).toBe(20);
  expect(parseConfig(['--name=a'], { RAFTKV_BACKEND_BATCH_LIMIT: '500' }).backendBatchLimit).toBe(500);
});

test.each([
  ['--backend-batch-interval=fast', '--backend-batch-interval: "fast" is not a duration of 1ms or more'],
  ['--backend-batch-interval=0ms', '--backend-batch-interval: "0ms" is not a duration'],
  ['--backend-batch-limit=-3', '--backend-batch-limit: "-3" is not a positive integer'],
  ['--heartbeat-interval=500', '--election-timeout should be at least 5 times --heartbeat-interval'],
  ['--initial-cluster=b=http://127.0.0.1:2380', '--initial-cluster does not name this member ("a")'],
])('%s is refused: %s', (flag, message) => {
  expect(() => parse(flag)).toThrow(ConfigError);
  expect(() => parse(flag)).toThrow(message);
});
