// Development smoke test: drives the built app (dist/) in headless Chromium
// through the stable data-testid hooks, and saves screenshots of the main states
// into web/screenshots/.
//
//   node web/dev/smoke.mjs            against web/dev/mock_broker.py (after `trunk build --release`)
//   SEALDROP_LOGIN_URL='http://127.0.0.1:8080/#token=…' SEALDROP_DATA_DIR=… node web/dev/smoke.mjs
//                                     against a running `sealdrop serve` (tampering edits the
//                                     embedded store's files in SEALDROP_DATA_DIR, if given)
//
// Checks: login link sign-in (token removed from the address bar), CSE uploads
// (single PUT and multipart), SSE upload, object badges, downloads equal the
// files, details (SSE header), a tampered object ends as a failed download with
// the integrity message and no file, sign-out, and no CSP violation.

import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Browser, freePort, sleep } from "../bench/webdriver.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const shots = join(repo, "web", "screenshots");
mkdirSync(shots, { recursive: true });

const sha = (data) => createHash("sha256").update(data).digest("hex");
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

let login = process.env.SEALDROP_LOGIN_URL;
let mock;
if (!login) {
  const port = await freePort();
  mock = spawn("python3", [join(here, "mock_broker.py"), "--port", String(port), "--dist", join(repo, "dist")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve) => mock.stdout.once("data", resolve));
  login = `http://127.0.0.1:${port}/#token=dev-token`;
}
const origin = new URL(login).origin;
const work = mkdtempSync(join(tmpdir(), "sealdrop-smoke-"));
const downloads = join(work, "downloads");
mkdirSync(downloads);
const browser = await Browser.start({ downloadDir: downloads, windowSize: "1280,1000" });

async function shot(name) {
  writeFileSync(join(shots, `${name}.png`), Buffer.from(await browser.screenshot(), "base64"));
}
async function rowState(css, attribute, wanted, timeoutMs = 60000) {
  return browser.waitUntil(async () => {
    const row = (await browser.findAll(css))[0];
    if (!row) return false;
    const value = await browser.attribute(row, attribute);
    if (value === "failed" && wanted !== "failed") {
      throw new Error(`${css} failed: ${await browser.text(row)}`);
    }
    return value === wanted ? row : false;
  }, timeoutMs, `${css} ${attribute}=${wanted}`);
}
async function post(path) {
  await fetch(`${origin}${path}`, { method: "POST" });
}
// Flips one byte of a stored object: through the mock's hook, or in one of the
// embedded store's segment files of the object (CSE objects are stored as the
// browser sent them; multipart objects as one file per part, here 8 MiB ones).
async function tamper(key, storedSize) {
  if (mock) return post(`/dev/tamper?key=${encodeURIComponent(key)}`);
  const dir = process.env.SEALDROP_DATA_DIR;
  if (!dir) throw new Error("set SEALDROP_DATA_DIR to tamper with a real store");
  const find = (size) => execFileSync("find", [join(dir, "store", "data"), "-type", "f", "-size", `${size}c`], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  const files = [...find(storedSize), ...find(8 * 1024 * 1024)];
  if (!files.length) throw new Error(`no stored segment of ${key} found`);
  const data = readFileSync(files[0]);
  data[data.length >> 1] ^= 1;
  writeFileSync(files[0], data);
}

try {
  await browser.open(`${origin}/`);
  await browser.find("[data-testid=token-input]");
  await shot("1-sign-in");

  await browser.open(login);
  await browser.find(".account:not([hidden]) [data-testid=sign-out]");
  check(!(await browser.url()).includes("token"), "the login link's token is removed from the address bar");
  const user = await browser.text(await browser.find(".who strong"));

  const files = {
    "small.txt": Buffer.from("hello sealdrop\n".repeat(70)),
    "medium.bin": randomBytes(20 * 1024 * 1024 + 5),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(work, name), data);
  const input = await browser.find("[data-testid=file-input]");
  await browser.type(input, Object.keys(files).map((n) => join(work, n)).join("\n"));
  for (const name of Object.keys(files)) {
    await rowState(`[data-testid=upload-row][data-name="${name}"]`, "data-state", "done");
  }
  check(true, "CSE uploads (single PUT and multipart) complete");

  await browser.clickOn("[data-testid=mode-sse]");
  writeFileSync(join(work, "report.pdf"), randomBytes(300_000));
  await browser.type(await browser.find("[data-testid=file-input]"), join(work, "report.pdf"));
  await rowState('[data-testid=upload-row][data-name="report.pdf"]', "data-state", "done");
  check(true, "SSE upload completes");

  await rowState(`[data-testid=object-row][data-key="${user}/report.pdf"]`, "data-mode", "sse-kms");
  await rowState(`[data-testid=object-row][data-key="${user}/medium.bin"]`, "data-mode", "cse-v3");
  check(true, "object rows carry their encryption mode");
  await browser.script("document.getElementById('objects-title').scrollIntoView()");
  await shot("3-list-with-badges");

  for (const name of [...Object.keys(files), "report.pdf"]) {
    await browser.clickOn(`[data-testid=object-row][data-key="${user}/${name}"] [data-testid=download]`);
    await rowState(`[data-testid=object-row][data-key="${user}/${name}"]`, "data-download", "done");
    const path = join(downloads, name);
    await browser.waitUntil(() => existsSync(path) && readFileSync(path).length === (files[name] ?? readFileSync(join(work, name))).length, 20000, `${name} on disk`);
    check(sha(readFileSync(path)) === sha(readFileSync(join(work, name))), `downloaded ${name} equals the uploaded file`);
  }

  await browser.clickOn(`[data-testid=object-row][data-key="${user}/report.pdf"] [data-testid=details]`);
  const header = await browser.find("[data-testid=sse-header]");
  check((await browser.text(header)).includes("aws:kms"), "details show the x-amz-server-side-encryption header");
  await shot("4-details-sse");
  await browser.clickOn("[data-testid=close-details]");
  await browser.clickOn(`[data-testid=object-row][data-key="${user}/medium.bin"] [data-testid=details]`);
  check((await browser.text(await browser.find("[data-testid=encryption-context]"))).length > 0, "details show the encryption context of a CSE object");
  await shot("4-details-cse");
  await browser.clickOn("[data-testid=close-details]");

  await tamper(`${user}/medium.bin`, files["medium.bin"].length + 16);
  const before = readdirSync(downloads).length;
  await browser.clickOn(`[data-testid=object-row][data-key="${user}/medium.bin"] [data-testid=download]`);
  await rowState(`[data-testid=object-row][data-key="${user}/medium.bin"]`, "data-download", "failed");
  const error = await browser.text(await browser.find("[data-testid=error]"));
  check(error.includes("Integrity check failed — the object was modified or corrupted; nothing was saved"), "a tampered object shows the integrity error");
  await sleep(1500);
  check(readdirSync(downloads).length === before, "a tampered object saves no file");
  await browser.script("window.scrollTo(0, 0)");
  await shot("5-integrity-error");
  await browser.clickOn("[data-testid=dismiss-error]");

  // A large CSE upload: progress screenshot, pause, resume, and the result must
  // still equal the file (parts sent again after the pause re-encrypt to the same bytes).
  await browser.clickOn("[data-testid=mode-cse]");
  writeFileSync(join(work, "large.bin"), randomBytes(160 * 1024 * 1024));
  await browser.type(await browser.find("[data-testid=file-input]"), join(work, "large.bin"));
  const largeRow = `[data-testid=upload-row][data-name="large.bin"]`;
  await browser.waitUntil(async () => {
    const value = await browser.script(`return document.querySelector('${largeRow} progress')?.value ?? 0`);
    return value >= 30;
  }, 60000, "large.bin at 30%");
  await browser.script(`document.querySelector('${largeRow}').scrollIntoView({block: "center"})`);
  await shot("2-upload-in-progress");
  await browser.clickOn(`${largeRow} [data-testid=pause]`);
  await browser.waitUntil(async () => (await browser.text(await browser.find(`${largeRow} [data-testid=upload-status]`))) === "Paused", 10000, "paused");
  check(true, "an upload pauses");
  await sleep(1000);
  await browser.clickOn(`${largeRow} [data-testid=resume]`);
  await rowState(largeRow, "data-state", "done", 180000);
  await browser.clickOn(`[data-testid=object-row][data-key="${user}/large.bin"] [data-testid=download]`);
  await rowState(`[data-testid=object-row][data-key="${user}/large.bin"]`, "data-download", "done", 120000);
  const largeDownload = join(downloads, "large.bin");
  await browser.waitUntil(() => existsSync(largeDownload) && readFileSync(largeDownload).length === 160 * 1024 * 1024, 30000, "large.bin on disk");
  check(sha(readFileSync(largeDownload)) === sha(readFileSync(join(work, "large.bin"))), "a paused and resumed upload downloads intact");

  // Cancel: the row ends as failed/Cancelled and no object appears.
  writeFileSync(join(work, "cancelled.bin"), randomBytes(100 * 1024 * 1024));
  await browser.type(await browser.find("[data-testid=file-input]"), join(work, "cancelled.bin"));
  const cancelRow = `[data-testid=upload-row][data-name="cancelled.bin"]`;
  await rowState(cancelRow, "data-state", "working", 20000);
  await browser.clickOn(`${cancelRow} [data-testid=cancel]`);
  await rowState(cancelRow, "data-state", "failed", 20000);
  check((await browser.text(await browser.find(`${cancelRow} [data-testid=upload-status]`))) === "Cancelled", "a cancelled upload says so");

  // The same name again: 409, then overwrite.
  await browser.type(await browser.find("[data-testid=file-input]"), join(work, "small.txt"));
  const again = `[data-testid=upload-row][data-name="small.txt"][data-state="failed"]`;
  await browser.find(again, 20000);
  check((await browser.text(await browser.find(`${again} [data-testid=upload-error]`))).includes("already exists"), "an existing name is reported (409)");
  await browser.clickOn(`${again} [data-testid=overwrite]`);
  await browser.waitUntil(async () => (await browser.findAll(again)).length === 0, 20000, "overwrite");
  check(true, "overwrite replaces the object");

  // Delete with confirmation.
  await browser.clickOn(`[data-testid=object-row][data-key="${user}/report.pdf"] [data-testid=delete]`);
  await browser.clickOn("[data-testid=confirm-delete]");
  await browser.waitUntil(async () => (await browser.findAll(`[data-testid=object-row][data-key="${user}/report.pdf"]`)).length === 0, 20000, "deletion");
  check(true, "delete asks for confirmation and removes the object");
  check((await browser.findAll(`[data-testid=object-row][data-key="${user}/cancelled.bin"]`)).length === 0, "a cancelled upload leaves no object");

  if (mock) {
    // Transient storage failures are retried with backoff.
    await post("/dev/fail?count=2&status=503");
    writeFileSync(join(work, "retried.txt"), "retry me\n");
    await browser.type(await browser.find("[data-testid=file-input]"), join(work, "retried.txt"));
    await rowState(`[data-testid=upload-row][data-name="retried.txt"]`, "data-state", "done", 30000);
    check(true, "an upload survives two 503 answers from storage");

    // Presigned URLs that expired mid-upload are signed again.
    writeFileSync(join(work, "late.bin"), randomBytes(20 * 1024 * 1024));
    await post("/dev/expire-urls?count=3");
    await browser.type(await browser.find("[data-testid=file-input]"), join(work, "late.bin"));
    await rowState(`[data-testid=upload-row][data-name="late.bin"]`, "data-state", "done", 60000);
    check(true, "expired presigned URLs are signed again");

    // A download whose stream breaks off resumes with a Range request.
    await post(`/dev/cut?bytes=${5 * 1024 * 1024 + 7}`);
    await browser.clickOn(`[data-testid=object-row][data-key="${user}/late.bin"] [data-testid=download]`);
    await rowState(`[data-testid=object-row][data-key="${user}/late.bin"]`, "data-download", "done", 60000);
    const late = join(downloads, "late.bin");
    await browser.waitUntil(() => existsSync(late) && readFileSync(late).length === 20 * 1024 * 1024, 20000, "late.bin on disk");
    check(sha(readFileSync(late)) === sha(readFileSync(join(work, "late.bin"))), "an interrupted download resumes and is byte-exact");

    await post("/dev/expire");
    await browser.clickOn("[data-testid=refresh]");
    await browser.find("[data-testid=token-input]");
    const expired = await browser.text(await browser.find("[data-testid=error]"));
    check(expired.includes("session has expired"), "a 401 returns to sign-in with a message");
  }

  const logs = await browser.logs();
  const violations = logs.filter((l) => /Content Security Policy|Refused to/.test(l.message));
  for (const v of violations) console.log(`violation: ${v.message}`);
  check(violations.length === 0, `no CSP violations (${logs.length} console entries)`);
  for (const entry of logs.filter((l) => l.level === "SEVERE")) console.log(`console: ${entry.message}`);
} catch (error) {
  await shot("failure").catch(() => {});
  for (const entry of await browser.logs()) console.log(`console: ${entry.level} ${entry.message}`);
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.quit();
  mock?.kill();
}
