// The one definition of "the database is unavailable" (src/shared/database-unavailable.ts), on the
// error shapes the drivers and Prisma produced in the fault tests: those answer 503 +
// Retry-After; anything else (a constraint, a bug) must not be mistaken for an outage.
import t from "tap";
import { DatabaseUnavailableError, isDatabaseUnavailable, isSqliteBusy } from "../../src/shared/database-unavailable.js";
import { DomainError } from "../../src/domain/errors.js";

const withCode = (message: string, code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code, ...extra });
/** A PrismaClientKnownRequestError as Prisma 6.19 builds it with a driver adapter. */
const prismaError = (code: string, message: string, cause?: Record<string, unknown>) =>
  Object.assign(new Error(message), {
    name: "PrismaClientKnownRequestError",
    code,
    meta: cause ? { driverAdapterError: { name: "DriverAdapterError", cause } } : {},
  });

t.test("connection loss, refusal, timeouts and busy locks are unavailability, however wrapped", async (t) => {
  const cases: [string, unknown][] = [
    ["appgrant's own deadline", new DatabaseUnavailableError("no answer within 500 ms")],
    ["pg: backend terminated (57P01)", withCode("terminating connection due to administrator command", "57P01", { severity: "FATAL" })],
    ["pg: server starting up (57P03)", withCode("the database system is starting up", "57P03", { severity: "FATAL" })],
    ["pg: too many connections (53300)", withCode("sorry, too many clients already", "53300", { severity: "FATAL" })],
    ["pg: connection failure (08006)", withCode("connection failure", "08006", { severity: "FATAL" })],
    ["pg: statement_timeout (57014)", withCode("canceling statement due to statement timeout", "57014", { severity: "ERROR" })],
    ["socket: refused", withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")],
    ["socket: reset", withCode("read ECONNRESET", "ECONNRESET")],
    ["pg: query_timeout", new Error("Query read timeout")],
    ["pg-pool: acquire timeout", new Error("timeout exceeded when trying to connect")],
    [
      "pg-pool: connect timeout",
      new Error("Connection terminated due to connection timeout", { cause: new Error("Connection terminated unexpectedly") }),
    ],
    ["pg: lost in a transaction", new Error("Client has encountered a connection error and is not queryable")],
    ["Prisma: can't reach (P1001)", prismaError("P1001", "Can't reach database server at 127.0.0.1:5432", { kind: "DatabaseNotReachable" })],
    ["Prisma: pool timeout (P2024)", prismaError("P2024", "Timed out fetching a new connection from the connection pool.")],
    [
      "Prisma: transaction not started in time (P2028)",
      prismaError("P2028", "Transaction API error: Unable to start a transaction in the given time."),
    ],
    [
      "Prisma: raw query hit statement_timeout (P2010)",
      prismaError("P2010", "Raw query failed. Code: `57014`.", { kind: "postgres", code: "57014", originalCode: "57014", severity: "ERROR" }),
    ],
    ["Prisma on SQLite: busy (P1008)", prismaError("P1008", "Operation has timed out", { kind: "SocketTimeout", originalCode: "SQLITE_BUSY" })],
    ["better-sqlite3: busy", withCode("database is locked", "SQLITE_BUSY")],
    ["better-sqlite3: busy snapshot", withCode("database is locked", "SQLITE_BUSY_SNAPSHOT")],
  ];
  for (const [name, error] of cases) t.ok(isDatabaseUnavailable(error), name);
});

t.test("an answer from the database, or a fault of appgrant's, is not unavailability", async (t) => {
  const cases: [string, unknown][] = [
    ["Prisma: unique violation (P2002)", prismaError("P2002", "Unique constraint failed", { kind: "UniqueConstraintViolation" })],
    ["Prisma: record not found (P2025)", prismaError("P2025", "No record was found")],
    [
      "Prisma: transaction misuse (P2028)",
      prismaError("P2028", "Transaction API error: Transaction already closed: A commit cannot be executed on a committed transaction."),
    ],
    ["pg: unique violation (23505)", withCode("duplicate key value violates unique constraint", "23505", { severity: "ERROR" })],
    ["pg: syntax error (42601)", withCode("syntax error at or near", "42601", { severity: "ERROR" })],
    ["pg: authentication failed (28P01)", withCode("password authentication failed", "28P01", { severity: "FATAL" })],
    ["SQLite: constraint", withCode("UNIQUE constraint failed", "SQLITE_CONSTRAINT_UNIQUE")],
    ["a domain error", new DomainError("conflict", "already installed")],
    ["a bug", new TypeError("cannot read properties of undefined")],
    ["not an error", "ECONNREFUSED"],
    ["nothing", undefined],
  ];
  for (const [name, error] of cases) t.notOk(isDatabaseUnavailable(error), name);
});

t.test("SQLITE_BUSY is recognised raw and as Prisma wraps it, and nothing else is", async (t) => {
  t.ok(isSqliteBusy(withCode("database is locked", "SQLITE_BUSY")));
  t.ok(isSqliteBusy(prismaError("P1008", "Operation has timed out", { kind: "SocketTimeout", originalCode: "SQLITE_BUSY" })));
  t.notOk(isSqliteBusy(withCode("read ECONNRESET", "ECONNRESET")));
  t.notOk(isSqliteBusy(new DatabaseUnavailableError("x")));
});

t.test("a cycle of causes does not loop", async (t) => {
  const a: Error & { cause?: unknown } = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  t.notOk(isDatabaseUnavailable(a));
});
