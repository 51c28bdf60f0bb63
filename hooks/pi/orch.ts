// orch glue for pi, installed by `orch up` (removed by `orch down`).
// Forwards pi's lifecycle events to orch-hook in the payload shape Claude
// Code uses, so orch sees pi turns start and end. orch-hook never writes to
// stdout, always exits 0 and does nothing outside tmux.
import { spawn } from "node:child_process";

const ORCH_HOOK: string = @ORCH_HOOK_JSON@;

function fire(event: string, payload: Record<string, unknown>): void {
  if (!process.env.TMUX || !process.env.TMUX_PANE) return;
  try {
    const child = spawn(ORCH_HOOK, [event, "--harness", "pi"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    child.on("error", () => {});
    child.stdin?.on("error", () => {});
    child.stdin?.end(JSON.stringify({ cwd: process.cwd(), ...payload }));
  } catch {
    // A broken hook must never break the agent.
  }
}

function sessionId(ctx: any): string | undefined {
  try {
    return ctx?.sessionManager?.getSessionId?.() ?? ctx?.sessionManager?.getSessionFile?.();
  } catch {
    return undefined;
  }
}

function lastAssistantText(messages: any[] | undefined): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "assistant") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .filter((c: any) => c?.type === "text" && typeof c.text === "string")
        .map((c: any) => c.text)
        .join("");
    }
  }
  return undefined;
}

export default function (pi: any) {
  pi.on("session_start", async (event: any, ctx: any) => {
    fire("session_start", {
      hook_event_name: "SessionStart",
      session_id: sessionId(ctx),
      source: event?.reason ?? "startup",
    });
  });
  pi.on("before_agent_start", async (event: any, ctx: any) => {
    fire("prompt", {
      hook_event_name: "UserPromptSubmit",
      session_id: sessionId(ctx),
      prompt: typeof event?.prompt === "string" ? event.prompt : undefined,
    });
  });
  pi.on("agent_end", async (event: any, ctx: any) => {
    fire("stop", {
      hook_event_name: "Stop",
      session_id: sessionId(ctx),
      last_assistant_message: lastAssistantText(event?.messages),
    });
  });
  pi.on("session_shutdown", async (event: any, ctx: any) => {
    fire("session_end", {
      hook_event_name: "SessionEnd",
      session_id: sessionId(ctx),
      reason: event?.reason ?? "quit",
    });
  });
}
