/** The session and its API client, given to every page; and the capability checks pages use. */
import { createContext, useContext, type ReactNode } from "react";
import type { Svix } from "svix";

import type { Capability, Session } from "./session";

interface Portal {
  session: Session;
  api: Svix;
}

const PortalContext = createContext<Portal | null>(null);

export function PortalProvider({ value, children }: { value: Portal; children: ReactNode }) {
  return <PortalContext.Provider value={value}>{children}</PortalContext.Provider>;
}

export function usePortal(): Portal {
  const portal = useContext(PortalContext);
  if (portal === null) {
    throw new Error("usePortal outside PortalProvider");
  }
  return portal;
}

/** Whether the link allows `capability` (a hint: Herald enforces it on every call). */
export function useCan(capability: Capability): boolean {
  return usePortal().session.capabilities.has(capability);
}

/** Renders its children only when the link allows `capability`: read-only links show no actions. */
export function Can({ capability, children }: { capability: Capability; children: ReactNode }) {
  return useCan(capability) ? <>{children}</> : null;
}
