// End-to-end test of contextd's MCP server with the official TypeScript SDK.
//
//   node e2e.mjs /path/to/contextd
//
// 1. stdio: spawns `contextd mcp` on a fresh DATA_DIR and the reference memory
//    server (@modelcontextprotocol/server-memory) on a fresh memory.jsonl, runs
//    the same scripted session of the nine knowledge-graph tools on both, and
//    requires the same answers (contextd may add fields: they are ignored).
// 2. Streamable HTTP: starts `contextd serve`, makes an API key with
//    `contextd keys create`, and drives /mcp with the SDK's HTTP client.
// 3. stdio to a remote: `contextd mcp --url ... --api-key ...` against that server.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = path.resolve(process.argv[2] || path.join(here, "../../bin/contextd"));
const work = mkdtempSync(path.join(tmpdir(), "contextd-mcp-e2e-"));
const baseEnv = { PATH: process.env.PATH, HOME: work, APP_ENV: "test", LOG_LEVEL: "warn" };
let failures = 0;
const cleanups = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failures++;
    console.log(`FAIL ${name}\n${err?.stack || err}`);
  }
}

async function connectStdio(command, args, env) {
  const client = new Client({ name: "contextd-e2e", version: "1.0.0" });
  const transport = new StdioClientTransport({ command, args, env, cwd: work, stderr: "inherit" });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return client;
}

// call returns what a client observes of a tool call.
async function call(client, name, args) {
  try {
    const res = await client.callTool({ name, arguments: args });
    const text = (res.content || []).filter((c) => c.type === "text").map((c) => c.text).join("");
    return { isError: !!res.isError, text, structured: res.structuredContent };
  } catch (err) {
    return { isError: true, text: String(err.message || err), structured: undefined };
  }
}

// shape keeps only what the reference answer has, so that fields contextd adds
// (createdAt, updatedAt, nextCursor) do not count.
function shape(got, ref) {
  if (Array.isArray(ref) && Array.isArray(got)) return got.map((g, i) => shape(g, ref[i] ?? ref[0]));
  if (ref && typeof ref === "object" && got && typeof got === "object" && !Array.isArray(got)) {
    const out = {};
    for (const k of Object.keys(got)) if (k in ref) out[k] = shape(got[k], ref[k]);
    return out;
  }
  return got;
}

function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// The scripted session. It leaves out what contextd does on purpose
// differently from the published reference server (docs/mcp.md): a name twice
// in one create_entities call and relations to entities that do not exist.
const session = [
  ["create_entities", { entities: [
    { name: "Alice", entityType: "person", observations: ["likes tea", "works remotely"] },
    { name: "Acme", entityType: "organization", observations: [] },
  ] }],
  ["create_entities", { entities: [
    { name: "Alice", entityType: "person", observations: ["exists already"] },
    { name: "Bob", entityType: "person", observations: ["Speaks <French> & \"German\""] },
    { name: "Zoë", entityType: "Persönlichkeit", observations: ["日本語を話す", "ÉCOLE normale"] },
  ] }],
  ["create_relations", { relations: [
    { from: "Alice", to: "Acme", relationType: "works at" },
    { from: "Bob", to: "Acme", relationType: "works_at" },
    { from: "Alice", to: "Bob", relationType: "knows" },
    { from: "Zoë", to: "Zoë", relationType: "admires" },
  ] }],
  ["create_relations", { relations: [
    { from: "Alice", to: "Acme", relationType: "works at" },
    { from: "Bob", to: "Alice", relationType: "works at" },
    { from: "Acme", to: "Zoë", relationType: "contains" },
    { from: "Zoë", to: "Acme", relationType: "contains" },
  ] }],
  ["add_observations", { observations: [
    { entityName: "Alice", contents: ["likes tea", "likes chess", "likes chess"] },
    { entityName: "Acme", contents: ["founded 1999"] },
    { entityName: "Alice", contents: ["likes chess", "multi\nline"] },
  ] }],
  ["add_observations", { observations: [{ entityName: "Ghost", contents: ["x"] }] }],
  ["read_graph", {}],
  ["search_nodes", { query: "CHESS" }],
  ["search_nodes", { query: "organization" }],
  ["search_nodes", { query: "école" }],
  ["search_nodes", { query: "" }],
  ["search_nodes", { query: "nothing matches this" }],
  ["open_nodes", { names: ["Bob", "Alice", "Ghost"] }],
  ["open_nodes", { names: [] }],
  ["delete_observations", { deletions: [
    { entityName: "Alice", observations: ["likes chess", "never said"] },
    { entityName: "Ghost", observations: ["x"] },
  ] }],
  ["delete_relations", { relations: [
    { from: "Alice", to: "Bob", relationType: "knows" },
    { from: "Alice", to: "Bob", relationType: "hates" },
  ] }],
  ["delete_entities", { entityNames: ["Bob", "Ghost"] }],
  ["read_graph", {}],
  ["delete_entities", { entityNames: ["Acme", "Zoë"] }],
  ["read_graph", {}],
];

async function referenceComparison() {
  const cx = await connectStdio(binary, ["mcp", "--tenant", "e2e"], { ...baseEnv, DATA_DIR: path.join(work, "stdio-data") });
  const refMain = path.join(here, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");
  const ref = await connectStdio(process.execPath, [refMain], { ...baseEnv, MEMORY_FILE_PATH: path.join(work, "memory.jsonl") });

  const cxTools = new Map((await cx.listTools()).tools.map((t) => [t.name, t]));
  for (const t of (await ref.listTools()).tools) {
    const mine = cxTools.get(t.name);
    assert.ok(mine, `contextd lacks the reference tool ${t.name}`);
    for (const [prop, schema] of Object.entries(t.inputSchema.properties || {})) {
      assert.ok(mine.inputSchema.properties?.[prop], `${t.name}: input ${prop} missing`);
      assert.equal(mine.inputSchema.properties[prop].type, schema.type, `${t.name}: input ${prop} type`);
    }
    assert.deepEqual([...(mine.inputSchema.required || [])].sort(), [...(t.inputSchema.required || [])].sort(), `${t.name}: required inputs`);
    assert.equal(mine.annotations?.readOnlyHint ?? false, t.annotations?.readOnlyHint ?? false, `${t.name}: readOnlyHint`);
    assert.equal(mine.annotations?.destructiveHint ?? true, t.annotations?.destructiveHint ?? true, `${t.name}: destructiveHint`);
  }

  for (const [i, [name, args]] of session.entries()) {
    const want = await call(ref, name, args);
    const got = await call(cx, name, args);
    const where = `step ${i + 1} ${name} ${JSON.stringify(args)}`;
    assert.equal(got.isError, want.isError, `${where}: isError ${got.isError}, reference ${want.isError}: ${got.text} / ${want.text}`);
    if (want.isError) {
      assert.ok(got.text.includes(want.text.replace(/^MCP error -?\d+: /, "")) || want.text.includes(got.text),
        `${where}: error "${got.text}", reference "${want.text}"`);
      continue;
    }
    assert.deepEqual(shape(got.structured, want.structured), want.structured, `${where}: structured content`);
    const wantText = parsed(want.text);
    assert.deepEqual(shape(parsed(got.text), wantText), wantText, `${where}: text content`);
  }
}

// Two clients writing at once lose nothing (the reference server, whose
// JSON file is rewritten on each change, is known to lose writes here).
async function concurrentStdio() {
  const env = { ...baseEnv, DATA_DIR: path.join(work, "concurrent-data") };
  const a = await connectStdio(binary, ["mcp"], env);
  const b = await connectStdio(binary, ["mcp"], env);
  await call(a, "create_entities", { entities: [{ name: "hub", entityType: "t", observations: [] }] });
  const n = 25;
  const writes = [];
  for (const [ci, c] of [a, b].entries()) {
    writes.push((async () => {
      for (let i = 0; i < n; i++) {
        const r = await call(c, "add_observations", { observations: [{ entityName: "hub", contents: [`c${ci}-${i}`] }] });
        assert.ok(!r.isError, r.text);
      }
    })());
  }
  await Promise.all(writes);
  const g = await call(a, "open_nodes", { names: ["hub"] });
  assert.equal(g.structured.entities[0].observations.length, 2 * n, "observations lost between two processes");
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function startServer(dataDir) {
  const port = await freePort();
  const env = { ...baseEnv, DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1" };
  const proc = spawn(binary, ["serve"], { env, cwd: work, stdio: ["ignore", "ignore", "inherit"] });
  cleanups.push(() => proc.kill("SIGTERM"));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) throw new Error(`contextd serve exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url + "/health")).ok) return { url, env };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("contextd serve did not answer /health in 15 s");
}

async function httpAndRemote() {
  const { url, env } = await startServer(path.join(work, "http-data"));
  const key = execFileSync(binary, ["keys", "create", "--tenant", "e2e", "--role", "writer", "--name", "e2e"], { env, cwd: work })
    .toString().trim();

  const anon = await fetch(url + "/mcp", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
  assert.equal(anon.status, 401, "/mcp without credentials");

  const client = new Client({ name: "contextd-e2e-http", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url + "/mcp"), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  cleanups.push(() => client.close());
  const tools = (await client.listTools()).tools.map((t) => t.name);
  for (const t of ["remember", "recall", "save_context", "search_contexts", "get_graph", "read_graph", "create_entities"]) {
    assert.ok(tools.includes(t), `tool ${t} missing over HTTP`);
  }
  let r = await call(client, "remember", { content: "The user's favourite editor is Helix", sessionId: "e2e-s1", importance: "high" });
  assert.ok(!r.isError, r.text);
  r = await call(client, "recall", { query: "which editor does the user like", sessionId: "e2e-s1" });
  assert.ok(!r.isError && r.structured.results[0]?.memory.content.includes("Helix"), JSON.stringify(r));
  r = await call(client, "save_context", { title: "Runbook", content: "Restart with systemctl restart contextd" });
  assert.ok(!r.isError, r.text);
  const res = await client.readResource({ uri: `contextd://contexts/${r.structured.id}` });
  assert.ok(res.contents[0].text.includes("Runbook"), "context resource");
  const prompt = await client.getPrompt({ name: "session_memories", arguments: { sessionId: "e2e-s1" } });
  assert.ok(prompt.messages[0].content.text.includes("Helix"), "session prompt");
  r = await call(client, "create_entities", { entities: [{ name: "Remote", entityType: "place", observations: ["made over HTTP"] }] });
  assert.ok(!r.isError, r.text);

  // stdio forwarded to the server, with the key's tenant and role.
  const remote = await connectStdio(binary, ["mcp", "--url", url, "--api-key", key], { ...baseEnv, DATA_DIR: path.join(work, "unused") });
  r = await call(remote, "read_graph", {});
  assert.ok(!r.isError, r.text);
  assert.deepEqual(r.structured.entities.map((e) => e.name), ["Remote"]);
  r = await call(remote, "search_contexts", { query: "restart" });
  assert.equal(r.structured.results[0]?.title, "Runbook");
}

try {
  await step("stdio: the nine reference tools answer as @modelcontextprotocol/server-memory", referenceComparison);
  await step("stdio: two processes writing at once lose nothing", concurrentStdio);
  await step("Streamable HTTP /mcp and contextd mcp --url", httpAndRemote);
} finally {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `${failures} failed` : "all passed");
process.exit(failures ? 1 : 0);
