// Headless browser benchmark of sealdrop's crypto path (see web/src/bench.rs).
//
//   node web/bench/run.mjs [--runs 5] [--mib 256]     throughput: encrypt and decrypt vs WebCrypto one-shot
//   node web/bench/run.mjs --memory [--mib 2048]      peak memory of an upload and a download
//   node web/bench/run.mjs --e2e [--mib 1024] [--runs 3]
//                                                    end-to-end upload against a release `sealdrop serve`
//                                                    (embedded store): CSE vs unencrypted, same presigned path
//   tuning knobs: --segment-kib N (bytes per WebCrypto call), --workers N, --inflight N (parts at once)
//   --trace: the page also prints the workers' time per stage (web/src/trace.rs)
//
// Writes a random plaintext file of --mib MiB, serves dist-bench/ (build it first:
// `trunk build web/bench.html --release --dist dist-bench`) with the production Content Security Policy plus a
// scratch object store (`bench-store/…`: PUT parts, GET the object), opens
// `index.html?bench…` in headless Chromium through ChromeDriver, chooses the
// file on the page (so it is read from disk like an upload), and prints the
// page's JSON lines, then one summary line per measurement with the medians:
//   {"name":"encrypt","mbps":…,"baseline_mbps":…,"ratio":…,"runs":N,"correct":true}
// The memory run samples every process of this Chromium (PSS from
// /proc/*/smaps_rollup, every 100 ms) and prints the peak of the renderer
// processes (the page and its workers), of all processes, and per phase.

import { createServer } from "node:http";
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { Browser, sleep } from "./webdriver.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const memory = args.includes("--memory");
const e2e = args.includes("--e2e");
const trace = args.includes("--trace");
const mib = Number(option("mib", memory ? 2048 : e2e ? 1024 : 256));
const runs = Number(option("runs", memory ? 1 : e2e ? 3 : 5));
const segmentKib = option("segment-kib", null);
const dist = option("dist", join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist-bench"));

const MIME = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json" };
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const store = mkdtempSync(join(tmpdir(), "sealdrop-bench-"));

// bench-store/<id>/<part>: PUT stores a part; GET bench-store/<id> streams all parts in order.
function benchStore(request, response, path) {
  const [id, part] = path.split("/").slice(1);
  if (!/^[0-9a-f]+$/.test(id ?? "")) return response.writeHead(400).end();
  if (request.method === "PUT" && /^\d+$/.test(part ?? "")) {
    request.pipe(createWriteStream(join(store, `${id}.${part.padStart(6, "0")}`))).on("finish", () => {
      response.writeHead(200, { ETag: `"${id}-${part}"` }).end();
    });
    return;
  }
  const parts = readdirSync(store).filter((f) => f.startsWith(`${id}.`)).sort();
  const length = parts.reduce((n, f) => n + statSync(join(store, f)).size, 0);
  response.writeHead(200, { "Content-Length": length, "Content-Type": "application/octet-stream" });
  (function next(i) {
    if (i === parts.length) return response.end();
    const stream = createReadStream(join(store, parts[i]), { highWaterMark: 1 << 20 });
    stream.pipe(response, { end: false });
    stream.on("end", () => next(i + 1));
  })(0);
}

const server = createServer((request, response) => {
  const path = decodeURIComponent(new URL(request.url, "http://x").pathname).slice(1);
  if (path.startsWith("bench-store/")) return benchStore(request, response, path);
  const file = normalize(join(dist, path || "index.html"));
  if (!file.startsWith(normalize(dist))) return response.writeHead(403).end();
  let body;
  try {
    body = readFileSync(file);
  } catch {
    return response.writeHead(404).end();
  }
  response.writeHead(200, { "Content-Type": MIME[extname(file)] ?? "application/octet-stream", "Content-Security-Policy": CSP, "Cache-Control": "no-cache" });
  response.end(body);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
let origin = `http://127.0.0.1:${server.address().port}`;

// --e2e: a release `sealdrop serve` (embedded store, fresh data directory)
// serves dist/ and the API; its login URL (stdout) signs the page in.
let serve = null;
let loginHash = "";
if (e2e) {
  const binary = option("sealdrop", join(process.env.CARGO_TARGET_DIR || join(dirname(fileURLToPath(import.meta.url)), "..", "..", "target"), "release", "sealdrop"));
  const dataDir = mkdtempSync(join(tmpdir(), "sealdrop-bench-data-"));
  serve = spawn(binary, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--store-listen", "127.0.0.1:0", "--web-root", dist], { stdio: ["ignore", "pipe", "pipe"] });
  serve.dataDir = dataDir;
  const login = await new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    serve.stdout.on("data", (d) => {
      out += d;
      const url = /(http:\/\/\S+)#token=(\S+)/.exec(out);
      if (url) resolve(url);
    });
    serve.stderr.on("data", (d) => (err += d));
    serve.on("exit", (code) => reject(new Error(`sealdrop serve exited (${code}): ${err}`)));
  });
  origin = new URL(login[1]).origin;
  loginHash = `#token=${login[2]}`;
}

// Memory of the browser's processes: the Chromium started with this session's
// profile and all its descendants (other Chromium instances on the machine are
// not counted). PSS, so shared pages are not counted twice.
function sampleMemory(profile) {
  const table = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 3)
    .map(([pid, ppid, ...rest]) => ({ pid, ppid, command: rest.join(" ") }));
  const ours = new Set(table.filter((p) => p.command.includes(`--user-data-dir=${profile}`) && !p.command.includes("--type=")).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of table) {
      if (!ours.has(p.pid) && ours.has(p.ppid)) {
        ours.add(p.pid);
        grew = true;
      }
    }
  }
  const MiB = 1024 * 1024;
  const processes = [];
  for (const p of table.filter((p) => ours.has(p.pid))) {
    let rollup;
    try {
      rollup = readFileSync(`/proc/${p.pid}/smaps_rollup`, "utf8");
    } catch {
      continue;
    }
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0) * 1024;
    const type = /--type=([a-z-]+)/.exec(p.command)?.[1] ?? "browser";
    processes.push({ type, pss: field("Pss"), anon: field("Pss_Anon") });
  }
  const sum = (list) => list.reduce((n, p) => n + p.pss, 0);
  return {
    renderer: sum(processes.filter((p) => p.type === "renderer")),
    total: sum(processes),
    processes: processes.map((p) => ({ type: p.type, pss_mib: Math.round(p.pss / MiB), anon_mib: Math.round(p.anon / MiB) })),
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const profile = mkdtempSync(join(tmpdir(), "sealdrop-bench-profile-"));
const browser = await Browser.start({ profile });
// Peaks overall and per phase (the name of the page's last JSON line), and the
// processes at the renderer peak.
const peak = { renderer: 0, total: 0, processes: [] };
const phases = {};
let phase = "start";
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const now = sampleMemory(profile);
    if (now.renderer > peak.renderer) Object.assign(peak, { renderer: now.renderer, processes: now.processes });
    peak.total = Math.max(peak.total, now.total);
    phases[phase] = Math.max(phases[phase] ?? 0, now.renderer);
    await sleep(100);
  }
})();

// The plaintext is a real file on disk, chosen on the page like an upload.
const plaintext = join(store, "plaintext.bin");
{
  const out = createWriteStream(plaintext);
  const block = randomBytes(1 << 20);
  for (let i = 0; i < mib; i++) if (!out.write(block)) await new Promise((r) => out.once("drain", r));
  await new Promise((r) => out.end(r));
}

const results = [];
try {
  const query = new URLSearchParams({ bench: memory ? "memory" : e2e ? "e2e" : "", mib: String(mib), runs: String(runs), file: "1" });
  if (segmentKib) query.set("segment_kib", segmentKib);
  if (trace) query.set("trace", "1");
  for (const k of ["workers", "inflight"]) if (option(k, null)) query.set(k, option(k, null));
  await browser.open(`${origin}/?${query}${loginHash}`);
  await browser.type(await browser.find("#bench-file"), plaintext);
  let seen = 0;
  await browser.waitUntil(async () => {
    const lines = (await browser.script("return window.sealdropBench || []")) ?? [];
    for (const line of lines.slice(seen)) {
      console.log(JSON.stringify(line));
      results.push(line);
      phase = line.name;
    }
    seen = lines.length;
    return lines.some((l) => l.name === "done");
  }, 30 * 60 * 1000, "the benchmark");
} finally {
  sampling = false;
  await sampler;
  await browser.quit();
  server.close();
  if (serve) {
    serve.kill();
    rmSync(serve.dataDir, { recursive: true, force: true });
  }
  rmSync(store, { recursive: true, force: true });
  // The profile holds the OPFS staging files of the downloads (gigabytes).
  rmSync(profile, { recursive: true, force: true });
}

for (const name of ["encrypt-memory", "encrypt", "decrypt-memory", "decrypt", "e2e-upload"]) {
  const lines = results.filter((l) => l.name === name);
  if (!lines.length) continue;
  const summary = {
    name,
    mbps: median(lines.map((l) => l.mbps)),
    baseline_mbps: median(lines.map((l) => l.baseline_mbps)),
    ratio: median(lines.map((l) => l.ratio)),
    runs: lines.length,
    correct: lines.every((l) => l.tag_matches_one_shot ?? l.verified ?? true),
  };
  for (const extra of ["baseline_with_file_read_mbps", "ratio_to_baseline_with_file_read", "same_download_without_decryption_mbps", "same_pipeline_without_decryption_mbps"]) {
    if (extra in lines[0]) summary[extra] = median(lines.map((l) => l[extra]));
  }
  console.log(JSON.stringify(summary));
}
if (memory || e2e) {
  const MiB = 1024 * 1024;
  const during = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v / MiB)]));
  console.log(JSON.stringify({
    name: "peak-memory",
    mib,
    renderer_mib: Math.round(peak.renderer / MiB),
    all_processes_mib: Math.round(peak.total / MiB),
    renderer_mib_by_phase: during,
    processes_at_renderer_peak: peak.processes,
  }));
}
const failed = results.some((l) => l.name === "error" || l.tag_matches_one_shot === false || l.verified === false);
process.exitCode = failed ? 1 : 0;
