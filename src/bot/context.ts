import type { Context as BaseContext } from "grammy";
import type { I18nFlavor } from "@grammyjs/i18n";
import type { Catalog } from "../catalog.ts";
import type { Logger } from "../logger.ts";
import type { Subscriber, SubscriberStore } from "../store/subscribers.ts";

/** What handlers may use; built once in the composition root and attached to every update. */
export interface BotServices {
  catalog: Catalog;
  subscribers: SubscriberStore;
  logger: Logger;
  adminIds: ReadonlySet<number>;
  agencyName: string;
}

interface ServicesFlavor {
  services: BotServices;
  /** The sender's subscriber record, loaded once per update (undefined before /start). */
  subscriber: Subscriber | undefined;
}

/** The one Context type of the bot. */
export type Context = BaseContext & I18nFlavor & ServicesFlavor;
