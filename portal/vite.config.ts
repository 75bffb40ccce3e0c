// Builds the portal into dist/, which blueprints/portal.py serves at /api/portal/.
import react from "@vitejs/plugin-react";
import { resolve } from "node:path";
import { defineConfig } from "vite";

export default defineConfig({
  // Absolute, so /api/portal and every client route below it load the same hashed assets.
  base: "/api/portal/",
  plugins: [react()],
  // `npm run dev` (live reload while working on the portal): the API is the local Herald of `make run`.
  server: { proxy: { "/api/v1": "http://127.0.0.1:7071" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The CSP allows scripts from the portal's own files only: nothing may be inlined.
    assetsInlineLimit: 0,
    // Every browser the portal supports preloads modules itself: the polyfill is dead weight.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    // The budget that counts is the gzipped one, which bench/portal_size.py checks.
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      input: {
        portal: resolve(import.meta.dirname, "index.html"),
        // The svix-react example (served at /api/portal/examples/svix-react/index.html).
        "svix-react": resolve(import.meta.dirname, "examples/svix-react/index.html"),
      },
    },
  },
});
