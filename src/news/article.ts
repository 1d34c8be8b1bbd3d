/** Where an article came from; kept for logs and the delivery record. */
export type ArticleSource = { kind: "feed"; feedUrl: string } | { kind: "cms" } | { kind: "broadcast"; adminId: number };

export type Priority = "normal" | "breaking";

/** An item as a feed parser yields it, before topics and ids are assigned. */
export interface FeedItem {
  /** The item's guid/id as the feed gives it, if any. */
  guid?: string;
  /** Absolute http(s) link to the article. */
  url: string;
  /** Plain text (tags stripped, entities decoded). */
  title: string;
  /** Plain text, may be empty. */
  summary: string;
  imageUrl?: string;
  /** ISO 8601, when the feed gave a valid date. */
  publishedAt?: string;
}

/** An article as stored and delivered. */
export interface Article {
  id: string;
  url: string;
  title: string;
  summary: string;
  imageUrl?: string;
  publishedAt?: string;
  topics: string[];
  priority: Priority;
  source: ArticleSource;
  /** ms since epoch when the article entered the system. */
  ingestedAt: number;
  /** Send with allow_paid_broadcast (only honoured when PAID_BROADCAST is enabled). */
  paid?: boolean;
  /** A broadcast to every active subscriber, whatever their topics. */
  toAll?: boolean;
  /** An editor's broadcast: sent exactly as composed (Telegram HTML), not as an article card. */
  broadcast?: BroadcastBody;
}

export interface BroadcastBody {
  /** Telegram HTML: the text, or the photo's caption. */
  html: string;
  /** file_id of the photo, when the broadcast is a photo with a caption. */
  photo?: string;
}
