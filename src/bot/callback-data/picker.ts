/**
 * Callback data of the topic picker. Buttons come back from the client, so everything here is
 * treated as untrusted input: parse() accepts only the exact shapes we create.
 */
export type PickerAction = { kind: "toggle"; topic: string } | { kind: "all" } | { kind: "done" };

const PREFIX = "tp";

export function pickerData(action: PickerAction): string {
  switch (action.kind) {
    case "toggle":
      return `${PREFIX}:t:${action.topic}`;
    case "all":
      return `${PREFIX}:all`;
    case "done":
      return `${PREFIX}:done`;
  }
}

export const PICKER_DATA = /^tp:/;

export function parsePickerData(data: string, isTopic: (id: string) => boolean): PickerAction | undefined {
  if (data.length > 64) return undefined;
  if (data === `${PREFIX}:all`) return { kind: "all" };
  if (data === `${PREFIX}:done`) return { kind: "done" };
  const m = /^tp:t:([a-z0-9_]{1,24})$/.exec(data);
  if (m?.[1] && isTopic(m[1])) return { kind: "toggle", topic: m[1] };
  return undefined;
}

export function languageData(lang: string): string {
  return `lang:${lang}`;
}

export function parseLanguageData(data: string, languages: readonly string[]): string | undefined {
  const m = /^lang:([a-z]{2})$/.exec(data);
  return m?.[1] && languages.includes(m[1]) ? m[1] : undefined;
}
