import { customType } from "drizzle-orm/pg-core";

/** Raw bytes: digests and ciphertexts. */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});
