/** Every page of the portal, in the order of the navigation. */
import type { PortalPage } from "../shell/page";
import { endpointsPage } from "./endpoints";
import { messagesPage } from "./messages";

export const PAGES: readonly PortalPage[] = [endpointsPage, messagesPage];
