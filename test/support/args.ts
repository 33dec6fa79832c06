// Command-line options of the test tools (soaks, benchmarks, replays, the e2e pod runner):
// `--name value`.

/** The value after `--name`, or `fallback`; an error when there is neither. */
export function argText(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

/** The number after `--name`, or `fallback`; an error when it is not a number. */
export function argNumber(name: string, fallback: number): number {
  const v = Number(argText(name, String(fallback)));
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}
