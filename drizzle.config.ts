import { defineConfig } from "drizzle-kit";

// `npm run generate` turns schema changes into a new committed migration.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema.ts",
  out: "./migrations",
});
