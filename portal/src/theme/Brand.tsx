/** The header's identity: the tenant's logo and name when its theme gives them, else "Webhooks". */
import { useEffect, useSyncExternalStore } from "react";

import { usePortal } from "../shell/context";
import { usePortalConfig } from "./config";
import { currentTheme, subscribeTheme } from "./theme";

const DEFAULT_NAME = "Webhooks";

function useTheme() {
  return useSyncExternalStore(subscribeTheme, currentTheme);
}

export function Brand() {
  const { session } = usePortal();
  // Loaded here because the header is on every page: the theme applies wherever the link opens.
  usePortalConfig(session);
  const theme = useTheme();
  const name = theme.displayName ?? DEFAULT_NAME;
  useEffect(() => {
    document.title = theme.displayName ? `${theme.displayName}: webhooks` : DEFAULT_NAME;
  }, [theme.displayName]);
  return (
    <span className="brand">
      {theme.logoUrl ? (
        <img className="brand-logo" src={theme.logoUrl} alt="" referrerPolicy="no-referrer" data-testid="brand-logo" />
      ) : null}
      <span>{name}</span>
    </span>
  );
}
