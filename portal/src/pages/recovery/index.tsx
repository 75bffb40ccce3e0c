/** Replay and recovery: recover, replay missing, bulk replay; the background tasks and their progress. */
import type { PortalPage } from "../../shell/page";
import { RecoveryPage } from "./RecoveryPage";

export const recoveryPage: PortalPage = {
  nav: { label: "Recovery", path: "/recovery" },
  routes: [{ path: "recovery", element: <RecoveryPage /> }],
};
