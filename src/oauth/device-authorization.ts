// The storage the device code grant (RFC 8628, src/oauth/grants/device-code.ts) declares
// beside the core TokenStore: the device authorization a device code names, the record
// of each poll, and the one write that consumes an accepted authorization and issues its
// token pair.
import type { NewToken } from "./token-store.js";

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** Seconds added to a client's polling interval at every slow_down (RFC 8628 §3.5). */
export const SLOW_DOWN_STEP = 5;

export interface DeviceAuthorizationRecord {
  id: string;
  applicationId: string;
  /** "pending", "accepted" or "rejected". */
  status: string;
  expiresAt: Date;
  /** Seconds the client must wait between polls (grows at every slow_down). */
  interval: number;
  lastPolledAt: Date | null;
  consumedAt: Date | null;
  /** Set once accepted. */
  installationId: string | null;
  installationActive: boolean;
  installationSuspended: boolean;
  account: string | null;
  grantedScopes: string | null;
}

export interface DeviceCodeStore {
  findDeviceAuthorization(deviceCodeHash: string): Promise<DeviceAuthorizationRecord | null>;
  /**
   * Records a poll that came on time: sets lastPolledAt to `now` only while it is still
   * `previous` (one conditional write); false when another poll got in first.
   */
  recordPoll(id: string, now: Date, previous: Date | null): Promise<boolean>;
  /** Records a poll that came too soon: lastPolledAt = now, and the interval grows by SLOW_DOWN_STEP. */
  slowDown(id: string, now: Date): Promise<void>;
  /**
   * Consumes the accepted, unexpired, unconsumed authorization and inserts its token pair,
   * in one transaction (one conditional write, while the installation is active); false
   * when it matched nothing, i.e. another poll consumed it first.
   */
  exchangeDeviceCode(id: string, now: Date, token: NewToken): Promise<boolean>;
}
