/**
 * What a page module gives the shell: its routes (relative to the portal's root) and, when it
 * has one, its entry in the navigation. A new page is a folder under src/pages/ exporting one
 * `PortalPage`, listed once in src/pages/index.ts; no other page changes.
 */
import type { RouteObject } from "react-router";

export interface PortalPage {
  nav?: { label: string; path: string };
  routes: RouteObject[];
}
