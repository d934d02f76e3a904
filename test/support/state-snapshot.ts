// Every row of every table, for tests that prove a refused request changed nothing.
// The tables of a test database are small: comparing them whole is cheap and misses
// nothing (a counter, an updatedAt, a revokedAt, a consumedAt).
import type { TestApp } from "./helper.js";

export async function snapshot(test: TestApp) {
  const db = test.app.domain.db;
  const byId = { orderBy: { id: "asc" } } as const;
  return {
    application: await db.application.findMany(byId),
    clientSecret: await db.clientSecret.findMany(byId),
    installation: await db.installation.findMany(byId),
    grant: await db.authorizationCode.findMany(byId),
    token: await db.token.findMany(byId),
    authorizationRequest: await db.authorizationRequest.findMany(byId),
    deviceAuthorization: await db.deviceAuthorization.findMany(byId),
  };
}

/** Row counts per table, for a message that says what grew. */
export function counts(state: Record<string, unknown[]>): Record<string, number> {
  return Object.fromEntries(Object.entries(state).map(([table, rows]) => [table, rows.length]));
}
