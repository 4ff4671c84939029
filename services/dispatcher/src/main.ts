import { runDispatcherProcess } from "./run.js";

/** The delivery process: `pnpm start:dispatcher` (or `node dist/main.js`). */
await runDispatcherProcess();
