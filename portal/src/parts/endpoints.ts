/** Every endpoint of the application, for the pages that let a person pick one. */
import type { EndpointOut, Svix } from "svix";

// An application has at most HERALD_MAX_ENDPOINTS_PER_APP endpoints (250 by default): one page.
const ENDPOINT_PAGE = 250;
const MAX_PAGES = 4;

export async function allEndpoints(api: Svix, appId: string): Promise<EndpointOut[]> {
  const endpoints: EndpointOut[] = [];
  let iterator: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const result = await api.endpoint.list(appId, { limit: ENDPOINT_PAGE, iterator });
    endpoints.push(...result.data);
    if (result.done || result.iterator === null) {
      break;
    }
    iterator = result.iterator;
  }
  return endpoints;
}

/** What a person reads for an endpoint: its description when it has one, and its URL. */
export function endpointLabel(endpoint: EndpointOut): string {
  return endpoint.description ? `${endpoint.description} (${endpoint.url})` : endpoint.url;
}
