#!/usr/bin/env node
// `npx appgrant …` / `npm run studio`: runs the compiled CLI. dist/ is built by
// `npm install` (the prepare script) or `npm run build`.
let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli/main.js")) {
    process.stderr.write("appgrant: the CLI is not built yet; run `npm run build` (or `npm install`) first.\n");
    process.exit(1);
  }
  throw error;
}
await cli.run(process.argv.slice(2));
