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
