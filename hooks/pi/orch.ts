// orch glue for pi (verified on 0.73.1). Two copies of this template exist:
// `orch up` installs one as ~/.pi/agent/extensions/orch.ts (SPAWNED false),
// and `orch-spawn pi` passes one with `-e` (SPAWNED true). In a spawned pane
// (ORCH_SPAWNED_HOOKS=1) only the spawned copy records, so every event counts
// once whether or not `orch up` ran.
//
// It forwards pi's lifecycle events to orch-hook in the payload shape Claude
// Code uses. orch-hook never writes to stdout, always exits 0 and does
// nothing outside tmux. Written without type annotations so it is plain
// JavaScript too (pi loads it through jiti either way).
//
// Event choice (docs/harnesses.md, "pi"):
// - `input` is the receipt: it fires for every prompt typed, with the text as
//   pasted. `before_agent_start` fires once per agent run, and a prompt typed
//   mid-turn is answered inside the running one (no second run), so it would
//   miss those.
// - `agent_end` is the turn end: once per run, when pi is idle again; its
//   messages carry the reply and the token usage.
import { spawn } from "node:child_process";

const ORCH_HOOK = @ORCH_HOOK_JSON@;
const SPAWNED = @ORCH_SPAWNED@;

// Hook runs are chained so events reach orch in the order pi fired them
// (a fast turn must not record its end before its prompt).
let queue = Promise.resolve();

function run(event, payload) {
  return new Promise((resolve) => {
    try {
      const args = [event, "--harness", "pi"];
      if (SPAWNED) args.unshift("--spawned");
      const child = spawn(ORCH_HOOK, args, { stdio: ["pipe", "ignore", "ignore"] });
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
  // The other copy records in a spawned pane: stay quiet (see the top).
  if (!SPAWNED && process.env.ORCH_SPAWNED_HOOKS === "1") return queue;
  queue = queue.then(() => run(event, payload));
  return queue;
}

function session(ctx) {
  try {
    const sm = ctx?.sessionManager;
    return { session_id: sm?.getSessionId?.(), transcript_path: sm?.getSessionFile?.() };
  } catch {
    return {};
  }
}

function textOf(m) {
  if (typeof m?.content === "string") return m.content;
  if (!Array.isArray(m?.content)) return undefined;
  return m.content
    .filter((c) => c?.type === "text" && typeof c.text === "string")
    .map((c) => c.text)
    .join("");
}

function lastAssistant(messages) {
  if (!Array.isArray(messages)) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === "assistant") return messages[i];
  }
  return undefined;
}

export default function (pi) {
  pi.on("session_start", async (event, ctx) => {
    fire("session_start", {
      hook_event_name: "SessionStart",
      ...session(ctx),
      source: event?.reason ?? "startup",
    });
  });
  // Synchronous, and the hook is queued, not awaited: a receipt must never
  // hold up the prompt it reports.
  pi.on("input", (event, ctx) => {
    if (typeof event?.text === "string" && event?.source !== "extension") {
      fire("prompt", {
        hook_event_name: "UserPromptSubmit",
        ...session(ctx),
        prompt: event.text,
      });
    }
    return { action: "continue" };
  });
  pi.on("agent_end", async (event, ctx) => {
    const last = lastAssistant(event?.messages);
    const failed = last?.stopReason === "error";
    fire(failed ? "stop_failure" : "stop", {
      hook_event_name: failed ? "StopFailure" : "Stop",
      ...session(ctx),
      last_assistant_message: textOf(last),
      error: failed ? (last?.errorMessage ?? "error") : undefined,
    });
  });
  pi.on("session_shutdown", async (event, ctx) => {
    // pi may exit right after this handler: let the last events land.
    await fire("session_end", {
      hook_event_name: "SessionEnd",
      ...session(ctx),
      reason: event?.reason ?? "quit",
    });
  });
}
