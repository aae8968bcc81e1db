export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

export const print = (io: Io, ...lines: string[]) => io.stdout.write(lines.map((l) => `${l}\n`).join(''));
