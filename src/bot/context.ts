import type { Context as BaseContext } from "grammy";
import type { I18nFlavor } from "@grammyjs/i18n";
import type { ConversationFlavor } from "@grammyjs/conversations";
import type { Catalog } from "../catalog.ts";
import type { Logger } from "../logger.ts";
import type { Subscriber, SubscriberStore } from "../store/subscribers.ts";
import type { DeliveryStore } from "../store/deliveries.ts";
import type { BroadcastStore } from "../store/broadcasts.ts";
import type { Last24h } from "../store/stats.ts";

/** What handlers may use; built once in the composition root and attached to every update. */
export interface BotServices {
  catalog: Catalog;
  subscribers: SubscriberStore;
  logger: Logger;
  adminIds: ReadonlySet<number>;
  agencyName: string;
  admin: AdminServices;
}

/** What the editors' commands use. */
export interface AdminServices {
  deliveries: DeliveryStore;
  broadcasts: BroadcastStore;
  last24h(): Promise<Last24h>;
  queueDepths(): Promise<Record<string, Record<string, number>>>;
  /** Messages/s a broadcast goes out at (for the ETA before a rate is measured). */
  configuredRate(paid: boolean): number;
}

interface ServicesFlavor {
  services: BotServices;
  /** The sender's subscriber record, loaded once per update (undefined before /start). */
  subscriber: Subscriber | undefined;
}

/** The one Context type of the bot. */
export type Context = ConversationFlavor<BaseContext & I18nFlavor & ServicesFlavor>;
