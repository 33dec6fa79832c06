// The member's logger: winston JSON lines, with the member's name on each, to the outputs that
// --log-outputs names. Files are opened for appending at start (an unopenable one stops the member
// with its path) and written synchronously, as the standard streams are when they are files or
// pipes, so the last lines before an exit are never lost.
import { openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import winston from 'winston';
import { ConfigError, type LogOutput } from './config.js';

export function makeLogger(name: string, level: string, outputs: LogOutput[]): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { member: name },
    transports: outputs.map((o) => new winston.transports.Stream({ stream: streamOf(o) })),
  });
}

function streamOf(o: LogOutput): Writable {
  if (o.to !== 'file') return o.to === 'stderr' ? process.stderr : process.stdout;
  let fd: number;
  try {
    fd = openSync(o.path, 'a');
  } catch (e) {
    throw new ConfigError(`--log-outputs: cannot open "${o.path}": ${(e as Error).message}`);
  }
  let warned = false;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
      } catch (e) {
        // A full disk must not stop the member; say so once where an operator looks first.
        if (!warned)
          process.stderr.write(`raftkv: writing the log file ${o.path}: ${(e as Error).message}\n`);
        warned = true;
      }
      done();
    },
  });
}
