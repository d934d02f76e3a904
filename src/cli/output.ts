// Human-readable output (aligned "key: value" records, simple tables) and JSON for
// scripts. Everything goes to stdout except notices, which go to stderr so that
// `--json` output stays parseable.
export type Value = string | number | boolean | Date | null | undefined | readonly string[];
export type Field = readonly [key: string, value: Value];

function text(value: Exclude<Value, readonly string[]>): string {
  if (value === null || value === undefined || value === "") return "-";
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Aligned "key: value" lines; a list value continues on following lines under the first. */
export function record(fields: readonly Field[]): string {
  const width = Math.max(...fields.map(([key]) => key.length)) + 2;
  const lines: string[] = [];
  for (const [key, value] of fields) {
    const items = Array.isArray(value) ? (value.length > 0 ? value : ["-"]) : [text(value as Exclude<Value, readonly string[]>)];
    for (const [index, item] of items.entries()) lines.push(`${index === 0 ? `${key}:`.padEnd(width) : " ".repeat(width)}${item}`);
  }
  return lines.join("\n");
}

export function table(headers: readonly string[], rows: readonly (readonly Value[])[]): string {
  const cells = rows.map((row) => row.map((value) => (Array.isArray(value) ? value.join(" ") : text(value as Exclude<Value, readonly string[]>))));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ");
  return [line(headers), ...cells.map(line)].join("\n");
}

export function print(output: string): void {
  process.stdout.write(`${output}\n`);
}

export function notice(output: string): void {
  process.stderr.write(`${output}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Shown next to every freshly issued secret or code; to stderr under --json so scripts still see clean JSON. */
export function shownOnce(what: string, json: boolean): void {
  const message = `Store the ${what} now: shown only this once, never retrievable again.`;
  if (json) notice(message);
  else print(`\n${message}`);
}
