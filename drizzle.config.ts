import { defineConfig } from "drizzle-kit";

// `npm run generate` turns changes of the tables (defined once in
// src/store/tables/, built for SQLite by src/store/schema.ts) into a new
// committed migration in migrations/; drizzle-pg.config.ts does the same for
// PostgreSQL.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema.ts",
  out: "./migrations",
});
