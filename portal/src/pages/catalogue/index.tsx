/** The event catalogue: event types with their descriptions, groups, schemas and examples. */
import type { PortalPage } from "../../shell/page";
import { EventTypeDetail } from "./EventTypeDetail";
import { EventTypeList } from "./EventTypeList";

export const cataloguePage: PortalPage = {
  nav: { label: "Event types", path: "/event-types" },
  routes: [
    { path: "event-types", element: <EventTypeList /> },
    { path: "event-types/:name", element: <EventTypeDetail /> },
  ],
};
