// orch glue for pi, installed by `orch up` (removed by `orch down`).
// Forwards pi's lifecycle events to orch-hook in the payload shape Claude
// Code uses, so orch sees pi turns start and end. orch-hook never writes to
// stdout, always exits 0 and does nothing outside tmux.
// Written without type annotations so it is plain JavaScript too (pi loads
// it through jiti either way, and it can be exercised with bare node).
import { spawn } from "node:child_process";

const ORCH_HOOK = @ORCH_HOOK_JSON@;

// Hook runs are chained so events reach orch in the order pi fired them
// (a fast turn must not record its end before its prompt).
let queue = Promise.resolve();

function run(event, payload) {
  return new Promise((resolve) => {
    try {
      const child = spawn(ORCH_HOOK, [event, "--harness", "pi"], {
        stdio: ["pipe", "ignore", "ignore"],
      });
      child.on("error", () => resolve());
      child.on("close", () => resolve());
      child.stdin?.on("error", () => {});
      child.stdin?.end(JSON.stringify({ cwd: process.cwd(), ...payload }));
    } catch {
      // A broken hook must never break the agent.
      resolve();
    }
  });
}

function fire(event, payload) {
  if (!process.env.TMUX || !process.env.TMUX_PANE) return queue;
  queue = queue.then(() => run(event, payload));
  return queue;
}

function sessionId(ctx) {
  try {
    return ctx?.sessionManager?.getSessionId?.() ?? ctx?.sessionManager?.getSessionFile?.();
  } catch {
    return undefined;
  }
}

function lastAssistantText(messages) {
  if (!Array.isArray(messages)) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "assistant") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .filter((c) => c?.type === "text" && typeof c.text === "string")
        .map((c) => c.text)
        .join("");
    }
  }
  return undefined;
}

export default function (pi) {
  pi.on("session_start", async (event, ctx) => {
    fire("session_start", {
      hook_event_name: "SessionStart",
      session_id: sessionId(ctx),
      source: event?.reason ?? "startup",
    });
  });
  pi.on("before_agent_start", async (event, ctx) => {
    fire("prompt", {
      hook_event_name: "UserPromptSubmit",
      session_id: sessionId(ctx),
      prompt: typeof event?.prompt === "string" ? event.prompt : undefined,
    });
  });
  pi.on("agent_end", async (event, ctx) => {
    fire("stop", {
      hook_event_name: "Stop",
      session_id: sessionId(ctx),
      last_assistant_message: lastAssistantText(event?.messages),
    });
  });
  pi.on("session_shutdown", async (event, ctx) => {
    // pi may exit right after this handler: let the last events land.
    await fire("session_end", {
      hook_event_name: "SessionEnd",
      session_id: sessionId(ctx),
      reason: event?.reason ?? "quit",
    });
  });
}
