/** The message log: messages by event type and date; a message's payload, attempts and resend. */
import type { PortalPage } from "../../shell/page";
import { MessageDetail } from "./MessageDetail";
import { MessageList } from "./MessageList";

export const messagesPage: PortalPage = {
  nav: { label: "Messages", path: "/messages" },
  routes: [
    { path: "messages", element: <MessageList /> },
    { path: "messages/:msgId", element: <MessageDetail /> },
  ],
};
