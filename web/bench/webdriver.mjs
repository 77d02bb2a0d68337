// A minimal W3C WebDriver client for ChromeDriver (Node ≥ 18, no dependencies),
// used by the benchmark runner.

import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";

const CHROMEDRIVER = process.env.CHROMEDRIVER || "/usr/bin/chromedriver";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ""}`);
}

export class Browser {
  /** `profile`: a fresh directory the caller owns (and removes). */
  static async start({ downloadDir, windowSize = "1280,900", extraArgs = [], profile } = {}) {
    if (!profile) throw new Error("Browser.start needs a profile directory");
    const port = await freePort();
    const driver = spawn(CHROMEDRIVER, [`--port=${port}`], { stdio: "ignore" });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/status`)).ok, 10000, "chromedriver");
    const args = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      `--user-data-dir=${profile}`,
      `--window-size=${windowSize}`, ...extraArgs,
    ];
    const response = await fetch(`${base}/session`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        capabilities: {
          alwaysMatch: {
            browserName: "chrome",
            "goog:chromeOptions": {
              binary: CHROMIUM,
              args,
              prefs: downloadDir ? { "download.default_directory": downloadDir, "download.prompt_for_download": false } : {},
            },
            "goog:loggingPrefs": { browser: "ALL" },
          },
        },
      }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`session: ${JSON.stringify(body)}`);
    const browser = new Browser(driver, `${base}/session/${body.value.sessionId}`);
    if (downloadDir) {
      await browser.cdp("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloadDir });
    }
    return browser;
  }

  constructor(driver, session) {
    this.driver = driver;
    this.session = session;
  }

  async call(method, path, body) {
    const response = await fetch(`${this.session}${path}`, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  }

  cdp(cmd, params = {}) {
    return this.call("POST", "/goog/cdp/execute", { cmd, params });
  }

  open(url) {
    return this.call("POST", "/url", { url });
  }

  url() {
    return this.call("GET", "/url");
  }

  script(source, ...args) {
    return this.call("POST", "/execute/sync", { script: source, args });
  }

  asyncScript(source, ...args) {
    return this.call("POST", "/execute/async", { script: source, args });
  }

  async find(css, timeoutMs = 10000) {
    return waitFor(async () => {
      const found = await this.call("POST", "/elements", { using: "css selector", value: css });
      return found.length ? Object.values(found[0])[0] : null;
    }, timeoutMs, css);
  }

  async findAll(css) {
    const found = await this.call("POST", "/elements", { using: "css selector", value: css });
    return found.map((e) => Object.values(e)[0]);
  }

  click(element) {
    return this.call("POST", `/element/${element}/click`, {});
  }

  // Finds and clicks, again if the page re-rendered the element in between.
  async clickOn(css, timeoutMs = 10000) {
    return waitFor(async () => {
      await this.click(await this.find(css, timeoutMs));
      return true;
    }, timeoutMs, `click ${css}`);
  }

  type(element, text) {
    return this.call("POST", `/element/${element}/value`, { text });
  }

  text(element) {
    return this.call("GET", `/element/${element}/text`);
  }

  attribute(element, name) {
    return this.call("GET", `/element/${element}/attribute/${name}`);
  }

  async waitUntil(predicate, timeoutMs, what) {
    return waitFor(predicate, timeoutMs, what);
  }

  screenshot() {
    return this.call("GET", "/screenshot");
  }

  logs() {
    return this.call("POST", "/se/log", { type: "browser" }).catch(() => []);
  }

  async quit() {
    try {
      await fetch(this.session, { method: "DELETE" });
    } finally {
      this.driver.kill();
    }
  }
}
