// The member's log lines reach every --log-outputs target by the time the logging call returns,
// files are appended to, and a file that cannot be written never stops the member.
import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config.js';
import { makeLogger } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkv-logger-'));
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

afterEach(() => jest.restoreAllMocks());

test('a file and stdout both get each JSON line at once; the file keeps what it held', () => {
  const path = join(dir, 'member.log');
  writeFileSync(path, '{"message":"from an earlier run"}\n');
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const logger = makeLogger('m1', 'info', [{ to: 'file', path }, { to: 'stdout' }]);
  logger.info('became leader', { term: 4 });
  logger.debug('below the level');
  const inFile = lines(readFileSync(path, 'utf8'));
  expect(inFile.map((l) => [l.message, l.member, l.term])).toEqual([
    ['from an earlier run', undefined, undefined],
    ['became leader', 'm1', 4],
  ]);
  const written = stdout.mock.calls.map((c) => String(c[0])).join('');
  expect(lines(written).map((l) => l.message)).toEqual(['became leader']);
});

test('a file that cannot be opened is a configuration error naming it', () => {
  const path = join(dir, 'no-such-dir', 'member.log');
  expect(() => makeLogger('m1', 'info', [{ to: 'file', path }])).toThrow(ConfigError);
  expect(() => makeLogger('m1', 'info', [{ to: 'file', path }])).toThrow(`cannot open "${path}"`);
});

test('a full disk under the log file is said once on stderr, and logging goes on', () => {
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const logger = makeLogger('m1', 'info', [{ to: 'file', path: '/dev/full' }]);
  expect(() => {
    logger.info('one');
    logger.warn('two');
  }).not.toThrow();
  const said = stderr.mock.calls.map((c) => String(c[0]));
  expect(said).toEqual([expect.stringContaining('writing the log file /dev/full:')]);
});
