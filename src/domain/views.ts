// Database rows → admin API JSON (snake_case). Secrets never pass through here:
// the routes that issue one add it to the one response that carries it.
import { isSecretActive } from "./applications.js";
import type { InstallationWithApp } from "./installations.js";
import { parseList, parseScopes } from "../shared/scopes.js";
import type { Application, ApplicationKey, ClientSecret } from "../generated/prisma/client.js";
import { publicJwkOf } from "./application-keys.js";

export function applicationJson(app: Application) {
  return {
    id: app.id,
    client_id: app.clientId,
    name: app.name,
    redirect_uris: parseList(app.redirectUris),
    scopes: parseScopes(app.scopes),
    grant_types: parseList(app.grantTypes),
    webhook_url: app.webhookUrl,
    webhooks_paused_at: app.webhooksPausedAt,
    webhook_secret_compromised_at: app.webhookSecretCompromisedAt,
    client_type: app.clientType,
    created_at: app.createdAt,
    updated_at: app.updatedAt,
  };
}

export function secretJson(secret: ClientSecret, now: Date) {
  return {
    id: secret.id,
    created_at: secret.createdAt,
    expires_at: secret.expiresAt,
    active: isSecretActive(secret, now),
    compromised_at: secret.compromisedAt,
  };
}

/** An application key: its public parts, which are all that is stored. */
export function applicationKeyJson(key: ApplicationKey) {
  return { id: key.id, kid: key.kid, alg: key.alg, public_jwk: publicJwkOf(key), created_at: key.createdAt };
}

export function installationJson(installation: InstallationWithApp) {
  return {
    id: installation.id,
    client_id: installation.application.clientId,
    account: installation.account,
    scopes: parseScopes(installation.scopes),
    status: installation.status,
    created_at: installation.createdAt,
    uninstalled_at: installation.uninstalledAt,
    suspended_at: installation.suspendedAt,
    suspension_reason: installation.suspensionReason,
    pending_scopes: parseScopes(installation.pendingScopes ?? ""),
  };
}
