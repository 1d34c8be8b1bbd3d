import { I18n } from "@grammyjs/i18n";
import { fileURLToPath } from "node:url";
import { LANGUAGES } from "../catalog.ts";
import type { Context } from "./context.ts";

/** The interface language for a Telegram language code: Russian for "ru", English otherwise. */
export function languageFromTelegram(code: string | undefined): string {
  return code?.toLowerCase().startsWith("ru") ? "ru" : "en";
}

export function createI18n(): I18n<Context> {
  return new I18n<Context>({
    defaultLocale: "en",
    directory: fileURLToPath(new URL("./locales", import.meta.url)),
    // Fluent's bidi isolation marks would end up inside Telegram HTML and hashtags.
    fluentBundleOptions: { useIsolating: false },
    // The stored choice wins; before /start, the language of the user's Telegram app.
    localeNegotiator: (ctx) => ctx.subscriber?.lang ?? languageFromTelegram(ctx.from?.language_code),
  });
}

export { LANGUAGES };
