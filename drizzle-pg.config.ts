import { defineConfig } from "drizzle-kit";

// The PostgreSQL twin of drizzle.config.ts: `npm run generate` turns changes
// of the tables (src/store/tables/, built for PostgreSQL by
// src/store/pg/schema.ts) into a new committed migration in migrations-pg/.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/store/pg/schema.ts",
  out: "./migrations-pg",
});
