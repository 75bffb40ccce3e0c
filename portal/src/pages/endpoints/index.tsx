/** Endpoints: list, add, view (health, secret, headers, attempts), edit. */
import type { PortalPage } from "../../shell/page";
import { EndpointCreate, EndpointDetail, EndpointEdit } from "./EndpointDetail";
import { EndpointList } from "./EndpointList";

export const endpointsPage: PortalPage = {
  nav: { label: "Endpoints", path: "/endpoints" },
  routes: [
    { path: "endpoints", element: <EndpointList /> },
    { path: "endpoints/new", element: <EndpointCreate /> },
    { path: "endpoints/:endpointId", element: <EndpointDetail /> },
    { path: "endpoints/:endpointId/edit", element: <EndpointEdit /> },
  ],
};
