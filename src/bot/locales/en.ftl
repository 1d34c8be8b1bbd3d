# Reader-facing texts. Variables are written as { $name }.

language-name = English 🇬🇧

welcome =
    👋 Welcome to <b>{ $agency }</b>!
    Choose the topics you want news about. Tap a topic to switch it on or off, then press <b>Done</b>.
welcome-back =
    👋 Welcome back! Your subscription is on again.
    Your topics are below; change them if you like.
picker-title = Choose your topics (✅ = you get news about it):
picker-all = 📚 All topics
picker-all-on = ✅ All topics
picker-done = ✔️ Done
picker-added = Added: { $topic }
picker-removed = Removed: { $topic }
picker-all-added = All topics selected
picker-all-removed = All topics cleared
picker-empty = Pick at least one topic, or send /stop to unsubscribe.
picker-saved =
    ✅ Saved. You will get news about: { $topics }.
    Change it any time with /topics. /stop pauses the news.
picker-not-subscribed = Send /start first to subscribe.

stopped =
    🔕 You are unsubscribed and will get no more news.
    Your topics are kept: send /start to resume.
stop-not-subscribed = You are not subscribed. Send /start to subscribe.

help =
    <b>{ $agency }</b> sends you its news on the topics you choose.

    /start — subscribe and choose topics
    /topics — change your topics
    /language — switch the interface language
    /stop — unsubscribe (your topics are kept)
    /help — this message

language-choose = Choose the interface language:
language-set = Language: English 🇬🇧

unknown-command = Sorry, I don't know that command. See /help for what I can do.
unknown-message = I only understand commands. See /help.
button-expired = This button is no longer valid. Send /topics to open a fresh picker.
private-only = Please write to me in a private chat.
error-generic = Something went wrong on our side. Please try again in a minute.

cmd-start = Subscribe and choose topics
cmd-topics = Change your topics
cmd-language = Switch language
cmd-help = How this bot works
cmd-stop = Unsubscribe

breaking-label = ⚡ BREAKING

# --- Editors (ADMIN_IDS) ---
cmd-broadcast = Send breaking news to readers
cmd-broadcasts = Recent broadcasts
cmd-stats = Subscribers and delivery statistics
cmd-cancel = Leave the current step

bc-ask =
    📣 <b>New broadcast.</b> Send the message as readers should see it: formatted text, or a photo with a caption.
    /cancel leaves at any step.
bc-ask-again = Please send text or a photo with a caption, or /cancel.
bc-text-too-long = This text is { $length } characters long; Telegram allows { $limit }. Please shorten it and send it again.
bc-caption-too-long = This caption is { $length } characters long; Telegram allows { $limit } under a photo. Please shorten it and send the photo again.
bc-empty = The message is empty. Please send text or a photo.
bc-audience = 👥 <b>Who gets it?</b> Choose all subscribers or one or more topics.
    Recipients now: <b>{ $count }</b>
bc-all = All subscribers ({ $count })
bc-paid-on = ⭐ Paid delivery: on (up to 1000/s)
bc-paid-off = Paid delivery: off
bc-next = Next ➡️
bc-cancel-button = ✖️ Cancel
bc-pick-audience = Choose all subscribers or at least one topic.
bc-use-buttons = Please use the buttons above, or /cancel.
bc-preview = ⬆️ This is exactly what { $count } readers will get. Send it?
bc-send = ✅ Send to { $count }
bc-cancelled = Broadcast cancelled. Nothing was sent.
bc-nothing-to-cancel = There is nothing to cancel.
bc-queued = 📣 Broadcast queued for { $count } readers.
bc-progress =
    📣 <b>Broadcast</b> — { $state }
    Sent: { $sent } · Failed: { $failed } · Blocked: { $blocked } · Remaining: { $remaining }
    { $eta }
bc-eta = ETA: { $eta }
bc-final =
    📣 <b>Broadcast { $state }</b>
    Audience: { $audience } · Sent: { $sent } · Failed: { $failed } · Blocked: { $blocked }
    Took { $took }.
bc-state-queued = queued
bc-state-sending = sending
bc-state-cancelling = cancelling…
bc-state-cancelled = cancelled
bc-state-done = finished
bc-stop-button = ⏹ Cancel delivery
bc-stop-ok = Cancelling: no more messages will leave.
bc-stop-late = This broadcast has already ended.
bc-list-empty = No broadcasts yet.
bc-list-title = <b>Recent broadcasts</b>
bc-list-item = { $n }. { $state } · { $sent }/{ $audience } · { $when } · { $preview }

stats =
    📊 <b>Statistics</b>
    Subscribers: { $total } (active { $active }, blocked { $blocked }, stopped { $stopped })
    Per topic (active): { $topics }
    Last 24 h: { $articles } articles, { $sent } messages sent, { $failed } failed, { $blockedNow } blocked
    Queues: { $queues }
    Failures (24 h): { $failures }
stats-none = none
