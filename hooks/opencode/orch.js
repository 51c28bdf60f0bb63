// orch glue for opencode (verified on 1.18.33): a plugin. `orch-spawn
// opencode` passes this copy (SPAWNED true) as "plugin": ["file://…"] in
// OPENCODE_CONFIG_CONTENT. It forwards opencode's events to orch-hook in the
// payload shape Claude Code uses; orch-hook never writes to stdout, always
// exits 0 and does nothing outside tmux.
//
// What fires in 1.18 (docs/harnesses.md, "opencode"):
// - the plugin factory runs once per instance, before the TUI has drawn:
//   session_start (spawn also waits for the TUI's footer);
// - `chat.message` for each prompt submitted: the receipt (its session id
//   is the one to resume; opencode makes a session with the first prompt);
// - `session.idle` when a turn is over (`session.execution.*` exists in the
//   code but does not reach plugins in 1.18; either ends the turn, once);
// - `permission.asked` when a tool waits for approval, `permission.replied`
//   when answered.
// The reply text is the last assistant message's text parts, collected from
// `message.part.updated`. Token counts come with `message.updated` (an
// assistant message's `tokens`, final once the call ends); the turn end
// carries them as `usage` (orch's `usage::from_opencode`): the latest call's
// and the session's output total.
import { spawn } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ORCH_HOOK = @ORCH_HOOK_JSON@;
const SPAWNED = @ORCH_SPAWNED@;

// Hook runs are chained so events reach orch in the order they came.
let queue = Promise.resolve();

// The payload reaches orch-hook as its stdin from a file written before the
// spawn, not through a pipe: a pipe is fed by opencode's event loop, which
// is busy running the very prompt the event reports (1.18.33 under load:
// orch-hook waited 0.7–4.7 s for its stdin). The file is created
// exclusively (no symlink followed), 0600, and unlinked before the spawn:
// only the open descriptor the child inherits keeps it.
function payloadFd(text) {
  const rand = Math.random().toString(36).slice(2);
  const file = join(tmpdir(), `orch-opencode-${process.pid}-${Date.now()}-${rand}`);
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, text);
  } catch (e) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw e;
  }
  closeSync(fd);
  const rd = openSync(file, "r");
  rmSync(file, { force: true });
  return rd;
}

function run(event, payload) {
  return new Promise((resolve) => {
    let fd;
    try {
      const args = [event, "--harness", "opencode"];
      if (SPAWNED) args.unshift("--spawned");
      fd = payloadFd(JSON.stringify({ cwd: process.cwd(), ...payload }));
      const child = spawn(ORCH_HOOK, args, { stdio: [fd, "ignore", "ignore"] });
      // The child has its own copy of the descriptor once spawned.
      closeSync(fd);
      fd = undefined;
      child.on("error", () => resolve());
      child.on("close", () => resolve());
    } catch {
      if (fd !== undefined) {
        try {
          closeSync(fd);
        } catch {}
      }
      resolve(); // a broken hook must never break the agent
    }
  });
}

function fire(event, payload) {
  if (!process.env.TMUX || !process.env.TMUX_PANE) return queue;
  if (!SPAWNED && process.env.ORCH_SPAWNED_HOOKS === "1") return queue;
  queue = queue.then(() => run(event, payload));
  return queue;
}

const TURN_ENDS = new Set([
  "session.idle",
  "session.execution.succeeded",
  "session.execution.failed",
  "session.execution.interrupted",
]);

export const OrchGlue = async ({ directory }) => {
  const roles = new Map(); // messageID -> role
  const replies = new Map(); // sessionID -> {messageID, parts: Map(partID -> text)}
  const open = new Set(); // sessions with a turn running (one stop per turn)
  const errors = new Map(); // sessionID -> error text of the turn
  // sessionID -> {outputs: Map(messageID -> output + reasoning), last, model, complete}
  const usage = new Map();
  const created = new Set(); // sessions this instance saw created
  fire("session_start", { hook_event_name: "SessionStart", source: "startup", cwd: directory });
  return {
    "chat.message": async (input, output) => {
      const parts = Array.isArray(output?.parts) ? output.parts : [];
      const text = parts
        .filter((p) => p?.type === "text" && !p.synthetic && typeof p.text === "string")
        .map((p) => p.text)
        .join("\n");
      const sid = input?.sessionID ?? output?.message?.sessionID;
      open.add(sid);
      errors.delete(sid);
      fire("prompt", {
        hook_event_name: "UserPromptSubmit",
        session_id: sid,
        prompt_id: output?.message?.id,
        prompt: text,
      });
    },
    // The fleet prompt orch-spawn gives (opencode has no flag to append one).
    "experimental.chat.system.transform": async (_input, output) => {
      const extra = process.env.ORCH_SYSTEM_PROMPT;
      if (extra && Array.isArray(output?.system)) output.system.push(extra);
    },
    event: async ({ event }) => {
      const p = event?.properties ?? {};
      const type = event?.type;
      if (type === "session.created" && p.info?.id) {
        created.add(p.info.id);
        return;
      }
      if (type === "message.updated" && p.info) {
        const info = p.info;
        roles.set(info.id, info.role);
        if (info.role === "assistant" && info.tokens && info.sessionID) {
          let u = usage.get(info.sessionID);
          if (!u) {
            // A session resumed from before this instance: its earlier
            // messages' output is not counted.
            u = { outputs: new Map(), complete: created.has(info.sessionID) };
            usage.set(info.sessionID, u);
          }
          const t = info.tokens;
          u.outputs.set(info.id, (t.output ?? 0) + (t.reasoning ?? 0));
          const read = (t.input ?? 0) + (t.cache?.read ?? 0) + (t.cache?.write ?? 0);
          if (read > 0) {
            u.last = t;
            if (info.providerID && info.modelID) u.model = `${info.providerID}/${info.modelID}`;
          }
        }
        return;
      }
      if (type === "message.part.updated") {
        const part = p.part;
        if (part?.type !== "text" || part.synthetic || roles.get(part.messageID) !== "assistant") return;
        let cur = replies.get(part.sessionID);
        if (!cur || cur.messageID !== part.messageID) {
          cur = { messageID: part.messageID, parts: new Map() };
          replies.set(part.sessionID, cur);
        }
        cur.parts.set(part.id, part.text ?? "");
        return;
      }
      if (type === "session.error") {
        const e = p.error;
        errors.set(p.sessionID, e?.data?.message ?? e?.name ?? "error");
        return;
      }
      if (type === "permission.asked") {
        const cmd = p.metadata?.command ?? (Array.isArray(p.patterns) ? p.patterns.join(" ") : "");
        fire("notify", {
          hook_event_name: "Notification",
          session_id: p.sessionID,
          notification_type: "permission_prompt",
          message: `opencode asks permission for ${p.permission ?? "a tool"}${cmd ? `: ${cmd}` : ""}`,
        });
        return;
      }
      if (TURN_ENDS.has(type)) {
        const sid = p.sessionID;
        if (!open.has(sid)) return;
        open.delete(sid);
        const cur = replies.get(sid);
        const reply = cur ? [...cur.parts.values()].join("\n") : undefined;
        const error = errors.get(sid);
        const u = usage.get(sid);
        fire(error ? "stop_failure" : "stop", {
          hook_event_name: error ? "StopFailure" : "Stop",
          session_id: sid,
          last_assistant_message: reply ?? error,
          error,
          usage: u?.last && {
            last: u.last,
            output_total: [...u.outputs.values()].reduce((a, b) => a + b, 0),
            complete: u.complete,
            model: u.model,
          },
        });
      }
    },
    dispose: async () => {
      await fire("session_end", { hook_event_name: "SessionEnd", reason: "exit" });
    },
  };
};
