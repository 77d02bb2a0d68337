// A sealdrop worker: the page sends { glue, module } (the URL of the app's JS
// module and its compiled WebAssembly.Module); the worker instantiates the same
// app and hands control to Rust (start_worker), which answers { json: ready }.
self.addEventListener(
  "message",
  async ({ data }) => {
    try {
      const glue = await import(data.glue);
      await glue.default({ module_or_path: data.module });
      glue.start_worker();
    } catch (error) {
      self.postMessage({ bootFailed: String(error) });
    }
  },
  { once: true },
);
