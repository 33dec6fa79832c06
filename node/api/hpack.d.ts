// The parts of hpack.js (no published types) that h2-authority.ts uses.
declare module 'hpack.js' {
  export interface Header {
    name: string;
    value: string;
    neverIndex?: boolean;
  }
  interface Coder {
    write(chunk: unknown): boolean;
    read(): unknown;
  }
  export interface Decompressor extends Coder {
    /** Decodes what was written; a malformed block throws (there is no 'error' listener). */
    execute(): void;
  }
  const hpack: {
    decompressor: { create(options: { table: { size: number } }): Decompressor };
    compressor: { create(options: { table: { size: number } }): Coder };
  };
  export default hpack;
}
