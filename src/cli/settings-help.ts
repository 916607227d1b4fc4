import { SETTINGS } from "../config/settings.js";

const WIDTH = 100;
const INDENT = "      ";

/** Every setting as `serve --help` prints it: the name and default on one line, the meaning wrapped below. */
export function settingsHelp(): string {
  const rows = SETTINGS.flatMap((s) => [
    `  ${s.name} (default: ${s.default})`,
    ...wrap(s.meaning, WIDTH - INDENT.length),
  ]);
  return ["", 'Settings (environment variables; README "Settings" has the same table):', ...rows].join("\n");
}

/** `text` in lines of at most `width` characters (longer words alone on theirs), indented. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(INDENT + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(INDENT + line);
  return lines;
}
