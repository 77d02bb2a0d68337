// Loads the app without an inline script, so the page works under a strict
// Content-Security-Policy (script-src 'self'). Trunk renders the <script
// id="sealdrop-boot"> tag that loads this file with the hashed names of the
// wasm-bindgen module and the wasm binary (see Trunk.toml, pattern_script).
const boot = document.getElementById("sealdrop-boot");

try {
  const glue = await import(new URL(boot.dataset.glue, document.baseURI).href);
  await glue.default({ module_or_path: new URL(boot.dataset.wasm, document.baseURI) });
  glue.start_app();
} catch (error) {
  console.error("sealdrop failed to start", error);
  document.getElementById("boot-failure")?.removeAttribute("hidden");
}
