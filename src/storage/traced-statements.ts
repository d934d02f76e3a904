// A client span per statement of the token stores (src/shared/tracing.ts), with the
// database semantic conventions: db.system.name, db.namespace, db.operation.name,
// db.collection.name, db.query.summary (the span's name, e.g. "UPDATE Token") and
// db.query.text. The statements are parameterised, and their text is recorded with any
// literal replaced by `?` all the same; the parameters (hashes, ids, times) never are.
// Each statement is described once, when prepared; when tracing is off nothing here is
// called and the stores run their statements bare.
import { type Attributes, ATTR, type Span, type Tracing } from "../shared/tracing.js";

export interface StatementInfo {
  name: string;
  attributes: Attributes;
}

/** The statement's text with string and number literals replaced by `?` (placeholders and type modifiers such as timestamp(3) kept), on one line. */
export function sanitizeStatement(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/(?<![\w$."]|\w\()\d+(?:\.\d+)?(?![\w"])/g, "?")
    .replace(/\s+/g, " ")
    .trim();
}

const OPERATIONS = new Set(["SELECT", "INSERT", "UPDATE", "DELETE"]);

/** The operation (the outermost SELECT, INSERT, UPDATE or DELETE, after any WITH) and the table it acts on. */
export function describeStatement(sql: string, base: Attributes): StatementInfo {
  const text = sanitizeStatement(sql);
  const words: string[] = [];
  let depth = 0;
  for (const [token] of text.matchAll(/\(|\)|"[^"]*"|[A-Za-z_][A-Za-z0-9_]*/g)) {
    if (token === "(") depth++;
    else if (token === ")") depth--;
    else if (depth === 0) words.push(token);
  }
  const upper = words.map((word) => (word.startsWith('"') ? word : word.toUpperCase()));
  const first = upper[0] ?? "";
  const index = upper.findIndex((word) => OPERATIONS.has(word));
  const operation = index === -1 || (first !== "WITH" && index !== 0) ? first : upper[index]!;
  const after = (keyword: string) => {
    const at = upper.indexOf(keyword, index);
    return at === -1 ? undefined : words[at + 1]?.replace(/^"|"$/g, "");
  };
  const collection =
    operation === "INSERT"
      ? after("INTO")
      : operation === "UPDATE"
        ? words[index + 1]?.replace(/^"|"$/g, "")
        : operation === "SELECT" || operation === "DELETE"
          ? after("FROM")
          : undefined;
  const summary = collection === undefined ? operation : `${operation} ${collection}`;
  return {
    name: summary,
    attributes: {
      ...base,
      [ATTR.dbOperationName]: operation,
      [ATTR.dbCollectionName]: collection,
      [ATTR.dbQuerySummary]: summary,
      [ATTR.dbQueryText]: text,
    },
  };
}

/** error.type of a failed statement: the driver's code (SQLITE_BUSY, a SQLSTATE), else the error's class name. */
export function statementErrorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
  return error instanceof Error ? error.name : "error";
}

/** Runs a synchronous statement in its span. */
export function inSpan<T>(tracing: Tracing, info: StatementInfo, run: () => T): T {
  const span: Span = tracing.client(info.name, info.attributes);
  try {
    return run();
  } catch (error) {
    span.fail(statementErrorType(error));
    throw error;
  } finally {
    span.end();
  }
}

/** Awaits an asynchronous statement in its span. */
export async function inSpanAsync<T>(tracing: Tracing, info: StatementInfo, run: () => Promise<T>): Promise<T> {
  const span: Span = tracing.client(info.name, info.attributes);
  try {
    return await run();
  } catch (error) {
    span.fail(statementErrorType(error));
    throw error;
  } finally {
    span.end();
  }
}
