/** Every page of the portal, in the order of the navigation. */
import type { PortalPage } from "../shell/page";
import { attemptsPage } from "./attempts";
import { cataloguePage } from "./catalogue";
import { endpointsPage } from "./endpoints";
import { messagesPage } from "./messages";
import { recoveryPage } from "./recovery";

export const PAGES: readonly PortalPage[] = [endpointsPage, messagesPage, attemptsPage, cataloguePage, recoveryPage];
