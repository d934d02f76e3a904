// The events the admin API raises about installations, as webhook deliveries.
import type { FastifyInstance } from "fastify";
import { installationJson } from "../domain/views.js";
import type { InstallationWithApp } from "../domain/installations.js";
import { WebhookAddressPolicy } from "../shared/webhook-address-policy.js";
import { WebhookDispatcher, type WebhookOptions } from "../webhooks/dispatcher.js";

export interface InstallationEvents {
  /** The code travels in the webhook, as with Sentry: it is how the app receives it. */
  created(installation: InstallationWithApp, code: string): void;
  deleted(installation: InstallationWithApp): void;
}

declare module "fastify" {
  interface FastifyInstance {
    installationEvents: InstallationEvents;
  }
}

export type WebhookSettings = Partial<Pick<WebhookOptions, "attempts" | "baseDelayMs" | "timeoutMs" | "resolver" | "dnsTimeoutMs">>;

/** Decorates the app with installationEvents; the caller closes the returned dispatcher. */
export function installationWebhooks(app: FastifyInstance, settings: WebhookSettings = {}): WebhookDispatcher {
  const policy = new WebhookAddressPolicy(app.config.webhookPolicy);
  const dispatcher = new WebhookDispatcher({ db: app.domain.db, secretKey: app.domain.secretKey, log: app.log, policy, ...settings });
  app.decorate("installationEvents", {
    created(installation, code) {
      dispatcher.send({
        applicationId: installation.applicationId,
        action: "created",
        payload: { installation: installationJson(installation), code },
      });
    },
    deleted(installation) {
      dispatcher.send({ applicationId: installation.applicationId, action: "deleted", payload: { installation: installationJson(installation) } });
    },
  } satisfies InstallationEvents);
  return dispatcher;
}
