// Credentials of every kind for the leak tests (secret scanning reports, public
// revocation): real ones issued through the endpoints, and the state a test compares
// before and after a report to prove that only the reported credentials changed.
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestApp } from "./helper.js";
import { createApp, install } from "./helper.js";
import { basic, exchange, formBody, refresh, tokenRequest } from "./oauth-helper.js";

export interface ScannerKey {
  id: string;
  privateKey: KeyObject;
  /** The public key as the key document lists it (SPKI PEM). */
  pem: string;
}

export function scannerKey(id: string): ScannerKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { id, privateKey, pem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** GitHub's public-keys document. */
export function keyDocument(keys: ScannerKey[]): string {
  return JSON.stringify({ public_keys: keys.map((key, index) => ({ key_identifier: key.id, key: key.pem, is_current: index === 0 })) });
}

/** A local key server: serves `document`, counts the requests it gets. */
export async function keyServer(): Promise<{ url: string; document: string; requests: number; close(): Promise<void> }> {
  const state = { url: "", document: JSON.stringify({ public_keys: [] }), requests: 0, close: async () => {} };
  const server: Server = createServer((_request, response) => {
    state.requests++;
    response.writeHead(200, { "content-type": "application/json" }).end(state.document);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/meta/public_keys/secret_scanning`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

export interface ReportEntry {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

/** POST /secret-scanning/github, signed by `key` (or with the headers given). */
export function report(test: TestApp, entries: ReportEntry[], key: ScannerKey | undefined, headers: Record<string, string> = {}) {
  const payload = JSON.stringify(entries);
  const signed = key
    ? {
        "github-public-key-identifier": key.id,
        "github-public-key-signature": sign("sha256", Buffer.from(payload), { key: key.privateKey, dsaEncoding: "der" }).toString("base64"),
      }
    : {};
  return test.app.inject({
    method: "POST",
    url: "/secret-scanning/github",
    headers: { "content-type": "application/json", ...signed, ...headers },
    payload,
  });
}

export interface Corpus {
  apps: { id: string; client_id: string; client_secret: string; webhook_secret: string }[];
  /** Token pairs from code exchanges (some refreshed once: their current pair). */
  pairs: { access: string; refresh: string; clientIndex: number }[];
  installationTokens: string[];
  /** Codes not exchanged yet. */
  codes: { code: string; clientIndex: number }[];
  /** A code already exchanged. */
  usedCode: string;
}

/**
 * `appCount` confidential applications with webhook URLs (client_credentials allowed),
 * `pairsPerApp` installations exchanged for token pairs (every other one refreshed once),
 * `tokensPerApp` installation tokens and `codesPerApp` unexchanged codes each.
 */
export async function buildCorpus(
  test: TestApp,
  { appCount, pairsPerApp, tokensPerApp, codesPerApp }: { appCount: number; pairsPerApp: number; tokensPerApp: number; codesPerApp: number },
): Promise<Corpus> {
  const corpus: Corpus = { apps: [], pairs: [], installationTokens: [], codes: [], usedCode: "" };
  for (let a = 0; a < appCount; a++) {
    const app = (await createApp(test, {
      name: `App ${a}`,
      webhook_url: `https://hooks.example/app-${a}`,
      grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    })) as Corpus["apps"][number];
    corpus.apps.push(app);
    const client = { client_id: app.client_id, client_secret: app.client_secret };
    for (let i = 0; i < pairsPerApp; i++) {
      const installed = await install(test, app.client_id, { account: `acct-${a}-${i}` });
      let res = await exchange(test, client, installed.code);
      if (res.statusCode !== 200) throw new Error(`exchange: ${res.body}`);
      if (i % 2 === 1) {
        res = await refresh(test, client, (res.json() as { refresh_token: string }).refresh_token);
        if (res.statusCode !== 200) throw new Error(`refresh: ${res.body}`);
      }
      const body = res.json() as { access_token: string; refresh_token: string };
      corpus.pairs.push({ access: body.access_token, refresh: body.refresh_token, clientIndex: a });
      if (corpus.usedCode === "") corpus.usedCode = installed.code;
      if (i < tokensPerApp) {
        const minted = await tokenRequest(test, { grant_type: "client_credentials", installation_id: installed.id }, { client });
        if (minted.statusCode !== 200) throw new Error(`client_credentials: ${minted.body}`);
        corpus.installationTokens.push((minted.json() as { access_token: string }).access_token);
      }
    }
    for (let i = 0; i < codesPerApp; i++) {
      corpus.codes.push({ code: (await install(test, app.client_id, { account: `code-${a}-${i}` })).code, clientIndex: a });
    }
  }
  return corpus;
}

/** Authenticates `app` at the token endpoint (a refresh of a made-up token: 400 invalid_grant once authenticated, 401 if not). */
export async function authenticates(test: TestApp, app: { client_id: string; client_secret: string }): Promise<boolean> {
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { authorization: basic(app.client_id, app.client_secret), "content-type": "application/x-www-form-urlencoded" },
    payload: formBody({ grant_type: "refresh_token", refresh_token: "agr_unknown" }),
  });
  return res.statusCode !== 401;
}

/** The rows a report may change, as comparable text: tokens, codes, secrets, applications. */
export async function snapshot(test: TestApp) {
  const db = test.app.domain.db;
  const [tokens, codes, secrets, apps] = await Promise.all([
    db.token.findMany({ orderBy: { id: "asc" } }),
    db.authorizationCode.findMany({ orderBy: { id: "asc" } }),
    db.clientSecret.findMany({ orderBy: { id: "asc" } }),
    db.application.findMany({ orderBy: { id: "asc" } }),
  ]);
  return {
    tokens: new Map(tokens.map((row) => [row.id, JSON.stringify(row)])),
    codes: new Map(codes.map((row) => [row.id, JSON.stringify(row)])),
    secrets: new Map(secrets.map((row) => [row.id, JSON.stringify(row)])),
    apps: new Map(apps.map((row) => [row.id, JSON.stringify(row)])),
  };
}
