/** Each endpoint's attempt log, with every filter Svix has, and a resend of what it lists. */
import type { PortalPage } from "../../shell/page";
import { AttemptLog } from "./AttemptLog";

export const attemptsPage: PortalPage = {
  nav: { label: "Attempts", path: "/attempts" },
  routes: [{ path: "attempts", element: <AttemptLog /> }],
};
