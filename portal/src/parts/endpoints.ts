/** Every endpoint of the application, for the pages that let a person pick one. */
import type { EndpointOut, Svix } from "svix";

import { readAll } from "../shell/paging";

// An application has at most HERALD_MAX_ENDPOINTS_PER_APP endpoints (250 by default): one page.
const ENDPOINT_PAGE = 250;
const MAX_PAGES = 4;

export function allEndpoints(api: Svix, appId: string): Promise<EndpointOut[]> {
  return readAll((iterator) => api.endpoint.list(appId, { limit: ENDPOINT_PAGE, iterator }), MAX_PAGES);
}

/** What a person reads for an endpoint: its description when it has one, and its URL. */
export function endpointLabel(endpoint: EndpointOut): string {
  return endpoint.description ? `${endpoint.description} (${endpoint.url})` : endpoint.url;
}
