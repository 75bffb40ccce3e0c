/** The portal's configuration from Herald (GET /api/v1/app/{app}/portal-config): its theme and retention. */
import { getJson } from "../shell/herald";
import type { Session } from "../shell/session";
import { useResource } from "../shell/useResource";
import { applyServedTheme } from "./theme";

export interface PortalConfig {
  theme: Record<string, unknown>;
  /** How many days back messages and attempts are kept: the charts' longest window. */
  retentionDays: number;
}

// One request per session, however many components ask.
const loaded = new Map<string, Promise<PortalConfig>>();

function loadPortalConfig(session: Session): Promise<PortalConfig> {
  let config = loaded.get(session.token);
  if (config === undefined) {
    const app = encodeURIComponent(session.appId);
    config = getJson<PortalConfig>(session, `/api/v1/app/${app}/portal-config`).then((served) => {
      applyServedTheme(served.theme);
      return served;
    });
    // A failure is not kept: the next component that asks tries again.
    config.catch(() => loaded.delete(session.token));
    loaded.set(session.token, config);
  }
  return config;
}

export function usePortalConfig(session: Session) {
  return useResource(() => loadPortalConfig(session), [session.token]);
}
