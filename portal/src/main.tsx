import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { PAGES } from "./pages";
import { App } from "./shell/App";
import "./styles.css";
import { startTheme } from "./theme/theme";

const root = document.getElementById("root");
if (root === null) {
  throw new Error("index.html has no #root");
}
startTheme();
createRoot(root).render(
  <StrictMode>
    <App pages={PAGES} />
  </StrictMode>,
);
