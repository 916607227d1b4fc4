/** Packages loaded from node_modules at run time rather than bundled (scripts/bundle.mjs). */
export declare const EXTERNAL: readonly string[];
/** Bundles the server from `root` (the checkout) into `outdir`/src/ (scripts/bundle.mjs). */
export declare function bundleServer(root: string, outdir: string): Promise<void>;
