// driver.mjs: one headless Chromium page, driven over stdin/stdout by
// tests/integration/test_browser.py (the test does the thinking; this only
// clicks and reads).
//
//   node driver.mjs --deps DIR --chromium PATH --profile DIR
//
// DIR/node_modules holds playwright-core (installed by the test from
// tests/browser/package-lock.json); PATH is Debian's /usr/bin/chromium (no
// browser download); the profile is a new empty directory.
//
// Protocol: one JSON object per line on stdin, {"id": N, "op": ..., ...};
// one answer per line on stdout, {"id": N, "ok": true, "value": ...} or
// {"id": N, "ok": false, "error": "..."}. The first line on stdout is
// {"ready": true, "version": ...} once the browser runs. Ops:
//   goto {url}            load a page, wait for its load event
//   fill {selector, value}
//   click {selector}
//   eval {expr}           page.evaluate(expr): a JSON-able value
//   requests              every request to /sse so far: url, headers
//                         (lower-case names; sent: true once they are
//                         the headers as sent), status or failure
//   errors                uncaught page errors so far
//   close                 close the browser and exit 0
// End of stdin also closes the browser and exits. Everything else (console
// messages, diagnostics) goes to stderr.
//
// Every page gets an init script that wraps EventSource (the page's code is
// unchanged) and records in window.__sse.log each open, error and message
// event, with the event's lastEventId and the source's readyState, for
// every event type the page listens to.

import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    process.stderr.write(`driver: missing ${name}\n`);
    process.exit(2);
  }
  return process.argv[i + 1];
}

const deps = arg("--deps");
const executablePath = arg("--chromium");
const profile = arg("--profile");
const require = createRequire(path.join(path.resolve(deps), "package.json"));
const { chromium } = require("playwright-core");
const pwVersion = require("playwright-core/package.json").version;

const recorder = () => {
  const Native = window.EventSource;
  const log = [];
  const sources = [];
  window.__sse = { log, sources };
  class RecordedEventSource extends Native {
    constructor(url, init) {
      super(url, init);
      const src = sources.length;
      sources.push(this);
      this.__types = new Set();
      this.__record = (ev) => log.push({
        src, type: ev.type,
        data: typeof ev.data === "string" ? ev.data : null,
        lastEventId: typeof ev.lastEventId === "string" ? ev.lastEventId : null,
        readyState: this.readyState,
      });
      for (const t of ["open", "error", "message"]) this.__listen(t);
    }
    __listen(type) {
      if (this.__types.has(type)) return;
      this.__types.add(type);
      super.addEventListener(type, this.__record);
    }
    addEventListener(type, fn, opts) {
      this.__listen(type);
      return super.addEventListener(type, fn, opts);
    }
  }
  window.EventSource = RecordedEventSource;
};

const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  chromiumSandbox: false,
  args: flags,
  timeout: 30000,
});
context.setDefaultTimeout(15000);
await context.addInitScript(recorder);
const page = context.pages()[0] || await context.newPage();

const requests = [];
const errors = [];
page.on("pageerror", (e) => {
  errors.push(String(e && e.stack || e));
  process.stderr.write(`driver: page error: ${e}\n`);
});
page.on("console", (m) => process.stderr.write(
  `driver: console.${m.type()}: ${m.text()}\n`));
page.on("request", (r) => {
  if (!new URL(r.url()).pathname.startsWith("/sse")) return;
  const entry = { url: r.url(), headers: r.headers(), sent: false,
                  status: null, failure: null };
  requests.push(entry);
  // the headers Chromium really sent (Last-Event-ID among them): the
  // provisional ones above lack what the network stack adds
  r.allHeaders().then((h) => { entry.headers = h; entry.sent = true; },
                      () => {});
  r.response().then((resp) => {
    if (resp) entry.status = resp.status();
  }, () => {});
});
page.on("requestfailed", (r) => {
  for (const e of requests)
    if (e.url === r.url() && e.failure === null && e.status === null)
      e.failure = r.failure() ? r.failure().errorText : "failed";
});

let closing = null;
async function shutdown(code) {
  if (!closing) {
    closing = context.close().catch((e) => {
      process.stderr.write(`driver: close: ${e}\n`);
    });
  }
  await closing;
  process.exit(code);
}

const ops = {
  goto: async (m) => {
    const r = await page.goto(m.url, { waitUntil: "load" });
    return { status: r ? r.status() : null,
             contentType: r ? (await r.allHeaders())["content-type"] : null };
  },
  fill: async (m) => { await page.fill(m.selector, m.value); return null; },
  click: async (m) => { await page.click(m.selector); return null; },
  eval: async (m) => page.evaluate(m.expr),
  requests: async () => requests,
  errors: async () => errors,
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

reply({ ready: true, version: pwVersion,
        browser: context.browser() ? context.browser().version() : null });

const rl = readline.createInterface({ input: process.stdin });
// one command at a time, in order
let chain = Promise.resolve();
rl.on("line", (line) => {
  chain = chain.then(async () => {
    let m;
    try {
      m = JSON.parse(line);
    } catch (e) {
      reply({ id: null, ok: false, error: `bad JSON: ${e}` });
      return;
    }
    if (m.op === "close") {
      await shutdown(0);
      return;
    }
    const f = ops[m.op];
    if (!f) {
      reply({ id: m.id, ok: false, error: `unknown op ${m.op}` });
      return;
    }
    try {
      reply({ id: m.id, ok: true, value: await f(m) });
    } catch (e) {
      reply({ id: m.id, ok: false, error: String(e && e.message || e) });
    }
  });
});
rl.on("close", () => { chain.then(() => shutdown(0)); });
process.on("SIGTERM", () => { shutdown(0); });
