// Types of freshness.js (plain JavaScript: the CLI loads it before any build exists).
export declare function newestMtimeMs(dir: string): number;
export declare function distIsCurrent(root: string): boolean;
export declare const HELP_FILE: string;
export declare function quickAnswer(root: string, argv: readonly string[]): string | null;
