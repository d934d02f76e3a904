import type { Config } from "../config.js";
import type { SecretHasher } from "../crypto/secret-hasher.js";
import type { Db } from "../db/client.js";

export type Clock = () => Date;

/** What every domain service needs; built once per app (or CLI run) and passed down. */
export interface DomainContext {
  db: Db;
  clock: Clock;
  hasher: SecretHasher;
  config: Pick<Config, "codeLifetime" | "accessTokenLifetime" | "refreshTokenLifetime">;
}

export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}
