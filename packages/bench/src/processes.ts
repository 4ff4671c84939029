import { fileURLToPath } from "node:url";

export { freePort } from "@otp/testkit";

/** The repository root: every service runs from its built `dist/`, as `pnpm start:*` runs it. */
export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
