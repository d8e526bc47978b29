//! Conversations: the questions and answers of a chat, kept as one JSON file each in a folder
//! (`<data_dir>/conversations`). Every write goes to a temporary file that is synced and renamed over the old
//! one, so a crash never leaves a half-written conversation.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::answer::{Answer, RerankStatus};
use crate::error::{Error, Result};
use crate::generate::{ChatMessage, Role, StopReason, Timings, Usage};
use crate::types::now_ms;
use crate::types::{Citation, Source};

/// The title of a conversation before it has a question.
pub const DEFAULT_TITLE: &str = "New conversation";

/// A chat: its questions and answers in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// `c`, the creation time in hex milliseconds, `-`, six random hex digits: sorts by creation.
    pub id: String,
    pub title: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When the last message was added, milliseconds since the Unix epoch.
    pub updated_ms: i64,
    /// What the conversation's questions are answered from.
    #[serde(default)]
    pub scope: Scope,
    pub messages: Vec<Message>,
}

impl Conversation {
    /// The conversation so far as chat history (system messages left out).
    pub fn history(&self) -> Vec<ChatMessage> {
        self.messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| ChatMessage::new(m.role, m.content.clone()))
            .collect()
    }
}

/// The part of the library a conversation answers from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every document.
    #[default]
    Library,
    /// The documents of a named collection.
    Collection { name: String },
    /// One document, or every document under a folder.
    Path { path: String },
}

/// One message of a conversation, with what the answer rested on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    pub created_ms: i64,
    #[serde(default)]
    pub citations: Vec<Citation>,
    /// The chat model that wrote an answer.
    #[serde(default)]
    pub model: Option<String>,
    /// The standalone query a follow-up question was rewritten into.
    #[serde(default)]
    pub rewritten_query: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub timings: Option<Timings>,
    #[serde(default)]
    pub stop: Option<StopReason>,
    /// What the user was told about the answer (it was stopped, the library lacked the answer, …).
    #[serde(default)]
    pub notice: Option<String>,
    /// The sources an answer's model was given, numbered as cited.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Whether the reranker ordered those sources.
    #[serde(default)]
    pub rerank: Option<RerankStatus>,
    /// Retrieval found nothing close enough to the question; the model was not asked.
    #[serde(default)]
    pub not_in_library: bool,
    /// The model cited nothing; the citations were matched to the answer by Quire.
    #[serde(default)]
    pub attributed: bool,
}

impl Message {
    fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            created_ms: now_ms(),
            citations: Vec::new(),
            model: None,
            rewritten_query: None,
            usage: None,
            timings: None,
            stop: None,
            notice: None,
            sources: Vec::new(),
            rerank: None,
            not_in_library: false,
            attributed: false,
        }
    }

    /// The message that keeps an answer: its text, citations, sources and how it was made.
    pub fn answer(answer: &Answer, rerank: Option<RerankStatus>) -> Message {
        let mut m = Message::assistant(answer.text.clone());
        m.citations = answer.citations.clone();
        m.sources = answer.sources.clone();
        m.rerank = rerank;
        m.model = Some(answer.model.clone());
        m.usage = Some(answer.usage);
        m.timings = Some(answer.timings);
        m.stop = Some(answer.stop);
        m.notice = answer.notice.clone();
        m.not_in_library = answer.not_in_library;
        m.attributed = answer.attributed;
        m
    }

    pub fn user(content: impl Into<String>) -> Message {
        Message::new(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Message {
        Message::new(Role::Assistant, content)
    }
}

/// A line of the conversation list; `messages` is how many the conversation has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    pub title: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub messages: usize,
}

/// The conversations of one data folder.
pub struct ConversationStore {
    dir: PathBuf,
}

/// A title from free text: trimmed, whitespace collapsed, at most 80 characters (cut with "…"); empty text
/// gives [`DEFAULT_TITLE`].
fn title_of(text: &str) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        return DEFAULT_TITLE.to_string();
    }
    if t.chars().count() <= 80 {
        return t;
    }
    let cut: String = t.chars().take(79).collect();
    format!("{}…", cut.trim_end())
}

/// A new id: `c`, the time in milliseconds in hex (so ids sort by creation), `-` and 24 random bits.
///
/// The random part hashes the time in nanoseconds, the process id and a process-wide counter with a randomly
/// keyed hasher, so two ids made in the same millisecond (in one process or two) differ.
fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("c{:011x}-{:06x}", now.as_millis(), h.finish() & 0xff_ffff)
}

/// Checks that an id given by a user names a conversation file and nothing else: 1 to 64 characters of
/// `a-z`, `0-9` and `-`.
fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok { Ok(()) } else { Err(Error::InvalidInput(format!("not a conversation id: {id:?}"))) }
}

fn unknown(id: &str) -> Error {
    Error::InvalidInput(format!("no conversation with id {id}"))
}

impl ConversationStore {
    /// The store in `dir`, created if needed.
    pub fn open(dir: &Path) -> Result<ConversationStore> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(ConversationStore { dir: dir.to_path_buf() })
    }

    /// The folder the conversations are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Starts an empty conversation titled `title` (whitespace collapsed, at most 80 characters; an empty title
    /// gives [`DEFAULT_TITLE`], which the first question replaces).
    pub fn create(&self, title: &str) -> Result<Conversation> {
        self.create_in(title, Scope::Library)
    }

    /// Starts an empty conversation over `scope` (see [`create`](Self::create)).
    pub fn create_in(&self, title: &str, scope: Scope) -> Result<Conversation> {
        let mut id = new_id();
        while self.file(&id).exists() {
            id = new_id();
        }
        let now = now_ms();
        let c =
            Conversation { id, title: title_of(title), created_ms: now, updated_ms: now, scope, messages: Vec::new() };
        self.save(&c)?;
        Ok(c)
    }

    /// Changes what a conversation answers from.
    pub fn set_scope(&self, id: &str, scope: Scope) -> Result<Conversation> {
        let mut c = self.get(id)?;
        c.scope = scope;
        self.save(&c)?;
        Ok(c)
    }

    /// Takes back the last question and its answer, to ask it again: returns the conversation as it was
    /// before that question (not saved yet) and the question's text.
    pub fn without_last_question(&self, id: &str) -> Result<(Conversation, String)> {
        let mut c = self.get(id)?;
        let Some(at) = c.messages.iter().rposition(|m| m.role == Role::User) else {
            return Err(Error::InvalidInput("this conversation has no question to answer again".into()));
        };
        let question = c.messages[at].content.clone();
        c.messages.truncate(at);
        Ok((c, question))
    }

    /// The conversation `id`.
    pub fn get(&self, id: &str) -> Result<Conversation> {
        check_id(id)?;
        let file = self.file(id);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unknown(id)),
            Err(e) => return Err(Error::io(&file, e)),
        };
        serde_json::from_str(&text)
            .map_err(|e| Error::InvalidInput(format!("the conversation {id} is damaged and cannot be read ({e})")))
    }

    /// Every readable conversation, most recently updated first. A file that cannot be read or parsed is
    /// skipped and logged; temporary files of a write in progress are ignored.
    pub fn list(&self) -> Result<Vec<ConversationSummary>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), "skipping an unreadable folder entry: {e}");
                    continue;
                }
            };
            let path = entry.path();
            // `<id>.json.tmp` has the extension `tmp`, so writes in progress are left out here.
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Conversation>(&t).map_err(|e| e.to_string()));
            let c = match parsed {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(file = %path.display(), "skipping an unreadable conversation: {e}");
                    continue;
                }
            };
            if path.file_stem().and_then(|s| s.to_str()) != Some(c.id.as_str()) {
                tracing::warn!(file = %path.display(), id = %c.id, "skipping a conversation whose id does not match its file name");
                continue;
            }
            out.push(ConversationSummary {
                id: c.id,
                title: c.title,
                created_ms: c.created_ms,
                updated_ms: c.updated_ms,
                messages: c.messages.len(),
            });
        }
        out.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Writes a conversation atomically (see [`crate::paths::write_atomic`]): a crash leaves either the old
    /// conversation or the new one, never half of one.
    pub fn save(&self, c: &Conversation) -> Result<()> {
        check_id(&c.id)?;
        let text = serde_json::to_vec_pretty(c)
            .map_err(|e| Error::InvalidInput(format!("the conversation {} cannot be saved ({e})", c.id)))?;
        crate::paths::write_atomic(&self.file(&c.id), &text)
    }

    /// Adds messages at the end and marks the conversation updated. A conversation still titled
    /// [`DEFAULT_TITLE`] takes its first question as its title.
    pub fn append(&self, id: &str, messages: Vec<Message>) -> Result<Conversation> {
        self.append_to(self.get(id)?, messages)
    }

    /// Adds messages at the end of `c` (as read earlier, possibly changed since) and saves it in place of the
    /// stored conversation, as [`append`](Self::append) does.
    pub fn append_to(&self, mut c: Conversation, messages: Vec<Message>) -> Result<Conversation> {
        c.messages.extend(messages);
        if c.title == DEFAULT_TITLE
            && let Some(first) = c.messages.iter().find(|m| m.role == Role::User)
        {
            c.title = title_of(&first.content);
        }
        c.updated_ms = now_ms().max(c.updated_ms);
        self.save(&c)?;
        Ok(c)
    }

    /// Gives a conversation a new title (cleaned as in [`create`](Self::create)). Its place in the list, which
    /// follows the last message, does not change.
    pub fn rename(&self, id: &str, title: &str) -> Result<Conversation> {
        let mut c = self.get(id)?;
        c.title = title_of(title);
        self.save(&c)?;
        Ok(c)
    }

    /// Deletes a conversation for good.
    pub fn delete(&self, id: &str) -> Result<()> {
        check_id(id)?;
        let file = self.file(id);
        match std::fs::remove_file(&file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(unknown(id)),
            Err(e) => Err(Error::io(&file, e)),
        }
    }

    /// The conversation as pretty-printed JSON, the same form it is stored in.
    pub fn export_json(c: &Conversation) -> Result<String> {
        serde_json::to_string_pretty(c)
            .map_err(|e| Error::InvalidInput(format!("the conversation {} cannot be exported ({e})", c.id)))
    }

    /// The conversation as Markdown: `# Title`, then each question (`## You`) and answer (`## Quire`); under an
    /// answer, the sources it cites with their pages, and its notice in italics. System messages are left out.
    pub fn export_markdown(c: &Conversation) -> String {
        let mut out = format!("# {}\n", c.title);
        for m in &c.messages {
            let who = match m.role {
                Role::User => "You",
                Role::Assistant => "Quire",
                Role::System => continue,
            };
            out.push_str(&format!("\n## {who}\n\n{}\n", m.content.trim()));
            if m.role == Role::Assistant && !m.citations.is_empty() {
                out.push_str("\nSources:\n\n");
                for cit in &m.citations {
                    out.push_str(&format!("- {}\n", cit.line()));
                }
            }
            if let Some(notice) = m.notice.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                out.push_str(&format!("\n*{notice}*\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citation(n: u32, title: Option<&str>, pages: (Option<u32>, Option<u32>)) -> Citation {
        Citation {
            n,
            doc_id: "d".into(),
            path: "/docs/guide.pdf".into(),
            title: title.map(str::to_string),
            page_start: pages.0,
            page_end: pages.1,
            heading_path: vec![],
            snippet: "text".into(),
        }
    }

    fn store() -> (tempfile::TempDir, ConversationStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConversationStore::open(&dir.path().join("conversations")).expect("open");
        (dir, store)
    }

    fn files(store: &ConversationStore) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(store.dir())
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn create_cleans_the_title_and_makes_distinct_sortable_ids() {
        let (_dir, store) = store();
        let a = store.create("   How do I \n  pin a package? ").expect("create");
        assert_eq!(a.title, "How do I pin a package?");
        assert!(check_id(&a.id).is_ok(), "{}", a.id);
        assert!(a.messages.is_empty() && a.created_ms == a.updated_ms);
        assert_eq!(store.get(&a.id).expect("get"), a);
        assert_eq!(store.create(" \t ").expect("create").title, DEFAULT_TITLE);

        let long = store.create(&"é".repeat(200)).expect("create");
        assert_eq!(long.title.chars().count(), 80);
        assert!(long.title.ends_with('…'));

        let ids: Vec<String> = (0..200).map(|_| new_id()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "ids are unique");
        assert!(ids.iter().all(|id| check_id(id).is_ok()));
        let old = format!("c{:011x}-ffffff", now_ms() - 1);
        assert!(old < new_id(), "ids sort by creation time");
    }

    #[test]
    fn append_adds_messages_and_titles_a_default_conversation() {
        let (_dir, store) = store();
        let c = store.create("").expect("create");
        let mut answer = Message::assistant("Use apt preferences [1].");
        answer.citations = vec![citation(1, Some("Guide"), (Some(3), None))];
        answer.model = Some("qwen".into());
        let after =
            store.append(&c.id, vec![Message::user("  What is   ssh-agent? "), answer.clone()]).expect("append");
        assert_eq!(after.title, "What is ssh-agent?");
        assert_eq!(after.messages.len(), 2);
        assert_eq!(after.messages[1], answer);
        assert!(after.updated_ms >= c.updated_ms);
        assert_eq!(store.get(&c.id).expect("get"), after, "append is saved");

        let again = store.append(&c.id, vec![Message::user("And gpg-agent?")]).expect("append");
        assert_eq!(again.title, "What is ssh-agent?", "a title is only taken once");
        assert_eq!(again.messages.len(), 3);

        let named = store.create("Pinning").expect("create");
        let named = store.append(&named.id, vec![Message::user("Something else")]).expect("append");
        assert_eq!(named.title, "Pinning", "a title given by the user is kept");
    }

    #[test]
    fn list_is_newest_first() {
        let (_dir, store) = store();
        let mut ids = Vec::new();
        for (title, updated) in [("old", 1_000), ("newest", 3_000), ("middle", 2_000)] {
            let mut c = store.create(title).expect("create");
            c.updated_ms = updated;
            c.messages.push(Message::user(title));
            store.save(&c).expect("save");
            ids.push(c.id);
        }
        let list = store.list().expect("list");
        let titles: Vec<&str> = list.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["newest", "middle", "old"]);
        assert_eq!(list[0].id, ids[1]);
        assert_eq!(list[0].messages, 1);
        assert_eq!(list[0].updated_ms, 3_000);
    }

    #[test]
    fn rename_changes_the_title_only() {
        let (_dir, store) = store();
        let c = store.create("first").expect("create");
        let renamed = store.rename(&c.id, "  Second   title ").expect("rename");
        assert_eq!(renamed.title, "Second title");
        assert_eq!(renamed.updated_ms, c.updated_ms);
        assert_eq!(store.get(&c.id).expect("get"), renamed);
        assert!(matches!(store.rename("c0-000000", "x"), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn delete_removes_the_file_and_unknown_ids_are_invalid_input() {
        let (_dir, store) = store();
        let c = store.create("gone soon").expect("create");
        store.delete(&c.id).expect("delete");
        assert!(files(&store).is_empty());
        for err in [store.get(&c.id).expect_err("get"), store.delete(&c.id).expect_err("delete")] {
            assert!(matches!(err, Error::InvalidInput(_)));
            assert_eq!(err.to_string(), format!("no conversation with id {}", c.id));
        }
        let err = store.append("c123-abc", vec![Message::user("hi")]).expect_err("append");
        assert_eq!(err.to_string(), "no conversation with id c123-abc");
    }

    #[test]
    fn ids_cannot_escape_the_folder() {
        let (dir, store) = store();
        std::fs::write(dir.path().join("secret.json"), "{}").expect("write");
        let long = "x".repeat(65);
        for bad in ["../secret", "..", "a/b", "a\\b", "", "UPPER", "c1.json", "c 1", long.as_str()] {
            for err in [
                store.get(bad).expect_err("get"),
                store.delete(bad).expect_err("delete"),
                store.rename(bad, "t").expect_err("rename"),
                store.append(bad, vec![]).expect_err("append"),
            ] {
                assert!(matches!(err, Error::InvalidInput(_)), "{bad}: {err}");
                assert!(err.to_string().starts_with("not a conversation id: "), "{bad}: {err}");
            }
        }
        let mut crafted = store.create("x").expect("create");
        crafted.id = "../escaped".into();
        assert!(matches!(store.save(&crafted), Err(Error::InvalidInput(_))));
        assert!(dir.path().join("secret.json").exists(), "nothing outside the folder was touched");
        assert!(!dir.path().join("escaped.json").exists());
        assert!(check_id(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn list_skips_damaged_and_temporary_files() {
        let (_dir, store) = store();
        let good = store.create("kept").expect("create");
        let d = store.dir().to_path_buf();
        std::fs::write(d.join("cbroken.json"), "{ not json").expect("write");
        std::fs::write(d.join("cempty.json"), "").expect("write");
        std::fs::write(d.join("chalf.json.tmp"), "{\"id\": \"chalf\"").expect("write");
        std::fs::write(d.join("notes.txt"), "hello").expect("write");
        let mut other = good.clone();
        other.id = "cother".into();
        std::fs::write(d.join("cmismatch.json"), serde_json::to_string(&other).expect("json")).expect("write");
        std::fs::create_dir(d.join("cdir.json")).expect("mkdir");

        let list = store.list().expect("list despite damaged files");
        assert_eq!(list.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [good.id.as_str()]);
        assert!(matches!(store.get("cbroken"), Err(Error::InvalidInput(m)) if m.contains("damaged")));
    }

    #[test]
    fn save_is_atomic_and_leaves_no_temporary_file() {
        let (_dir, store) = store();
        let mut c = store.create("atomic").expect("create");
        // A temporary file left by a crash is replaced, and the saved file is whole.
        std::fs::write(store.dir().join(format!("{}.json.tmp", c.id)), "{ half").expect("write");
        c.messages.push(Message::user("hello"));
        store.save(&c).expect("save");
        assert_eq!(files(&store), [format!("{}.json", c.id)]);
        assert_eq!(store.get(&c.id).expect("get"), c);
        store.append(&c.id, vec![Message::assistant("hi")]).expect("append");
        store.rename(&c.id, "renamed").expect("rename");
        assert_eq!(files(&store), [format!("{}.json", c.id)], "no temporary file is left behind");
    }

    #[test]
    fn markdown_export_has_turns_sources_with_pages_and_notices() {
        let mut answer = Message::assistant("Use apt preferences [1][2][3].");
        answer.citations = vec![
            citation(1, Some("Guide"), (Some(12), Some(14))),
            citation(2, None, (Some(7), Some(7))),
            Citation { path: "/notes/todo.md".into(), ..citation(3, Some("  "), (None, None)) },
        ];
        answer.notice = Some("stopped".into());
        let mut system = Message::user("secret system prompt");
        system.role = Role::System;
        let mut user = Message::user("How do I pin?");
        user.citations = vec![citation(9, Some("Not shown"), (None, None))];
        let c = Conversation {
            id: "c1-abcdef".into(),
            title: "Pinning".into(),
            created_ms: 1,
            updated_ms: 2,
            scope: Scope::Library,
            messages: vec![system, user, answer],
        };
        let md = ConversationStore::export_markdown(&c);
        assert!(md.starts_with("# Pinning\n"), "{md}");
        assert!(md.contains("## You\n\nHow do I pin?\n"), "{md}");
        assert!(md.contains("## Quire\n\nUse apt preferences [1][2][3].\n"), "{md}");
        assert!(md.contains("Sources"), "{md}");
        assert!(md.contains("[1] Guide — /docs/guide.pdf, pp. 12–14\n"), "{md}");
        assert!(md.contains("[2] guide.pdf — /docs/guide.pdf, p. 7\n"), "{md}");
        assert!(md.contains("[3] todo.md — /notes/todo.md\n"), "{md}");
        assert!(md.contains("\n*stopped*\n"), "{md}");
        assert!(!md.contains("secret system prompt") && !md.contains("Not shown"), "{md}");
        assert!(md.find("## You").expect("you") < md.find("## Quire").expect("quire"));
    }

    #[test]
    fn json_export_round_trips_and_old_files_still_read() {
        let mut answer = Message::assistant("Answer [1].");
        answer.citations = vec![citation(1, Some("Guide"), (Some(1), Some(2)))];
        answer.model = Some("qwen2.5-3b".into());
        answer.rewritten_query = Some("pin a package apt".into());
        answer.usage = Some(Usage { prompt_tokens: 900, cached_tokens: 100, completion_tokens: 42 });
        answer.timings = Some(Timings { load_ms: 0.0, prompt_ms: 120.5, first_token_ms: 130.0, generation_ms: 800.25 });
        answer.stop = Some(StopReason::MaxTokens);
        answer.notice = Some("the answer reached the length limit".into());
        let c = Conversation {
            id: "c1-abcdef".into(),
            title: "T".into(),
            created_ms: 1,
            updated_ms: 2,
            scope: Scope::Library,
            messages: vec![Message::user("Q"), answer],
        };
        let json = ConversationStore::export_json(&c).expect("json");
        assert!(json.contains("\n  \"title\": \"T\""), "pretty: {json}");
        assert_eq!(serde_json::from_str::<Conversation>(&json).expect("parse"), c);

        // Messages written before the optional fields existed still read.
        let minimal = r#"{"id":"c2-000000","title":"t","created_ms":1,"updated_ms":1,
            "messages":[{"role":"user","content":"q","created_ms":1}]}"#;
        let parsed: Conversation = serde_json::from_str(minimal).expect("parse minimal");
        assert_eq!(parsed.messages[0].citations, vec![]);
        assert_eq!(parsed.messages[0].stop, None);
    }

    #[test]
    fn scope_is_kept_and_changed() {
        let (_t, store) = store();
        let c = store.create_in("Q", Scope::Collection { name: "manuals".into() }).expect("create");
        assert_eq!(store.get(&c.id).expect("get").scope, Scope::Collection { name: "manuals".into() });
        let changed = store.set_scope(&c.id, Scope::Path { path: "/docs/a.pdf".into() }).expect("scope");
        assert_eq!(store.get(&c.id).expect("get"), changed);
        let json = serde_json::to_value(&changed.scope).expect("json");
        assert_eq!(json, serde_json::json!({"kind": "path", "path": "/docs/a.pdf"}));
    }

    #[test]
    fn the_last_question_is_taken_back_with_its_answer() {
        let (_t, store) = store();
        let c = store.create("").expect("create");
        let messages =
            vec![Message::user("one"), Message::assistant("1"), Message::user("two"), Message::assistant("2")];
        store.append(&c.id, messages).expect("append");

        let (before, question) = store.without_last_question(&c.id).expect("take back");
        assert_eq!(question, "two");
        assert_eq!(before.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["one", "1"]);
        assert_eq!(store.get(&c.id).expect("get").messages.len(), 4, "nothing is saved until the new answer");

        let empty = store.create("").expect("create");
        assert!(store.without_last_question(&empty.id).is_err());
    }
}
