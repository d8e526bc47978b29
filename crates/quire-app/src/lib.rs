//! The composition root: opens a [`Library`] with the real adapters (LanceDB store, llama.cpp embedder, parser
//! worker, or an OpenAI-compatible server per role when the settings name one) and runs the worker modes. The desktop shell and the `quire` command line both start here, so they
//! open the same library the same way.
//!
//! ```no_run
//! # async fn demo() -> quire_core::Result<()> {
//! // In main(), before anything else: a worker process serves and exits here.
//! if let Some(code) = quire_app::run_worker_if_requested() {
//!     std::process::exit(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 });
//! }
//! let library = quire_app::open_library(&quire_app::OpenOptions::new(None)?).await?;
//! # Ok(()) }
//! ```

pub mod fit;
pub mod jobs;
pub mod switch;
pub mod watch;

/// The keychain of remote endpoints' API keys, for the binaries.
pub use quire_keys;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use quire_core::answer::{Answer, AnswerEvent, AnswerOptions, Answerer, Question, Reranker};
use quire_core::collections::Collections;
use quire_core::conversation::{Conversation, ConversationStore, Message, Scope};
use quire_core::library::{Library, LibraryConfig};
use quire_core::settings::{self, RemoteEndpoint, Remotes, Settings};
use quire_core::switch::EmbeddingSwitch;
use quire_core::worker::{Worker, WorkerSpec};
use quire_core::{DocStatus, Embedder, Error, Generator, Result, SearchFilter};
use quire_extract::{ExtractorOptions, ProcessExtractor};
use quire_keys::Keychain;
use quire_llm::{
    ChatOptions, EmbedOptions, GpuLayers, LlamaEmbedder, LlamaGenerator, LlamaReranker, RemoteEmbedder,
    RemoteGenerator, RemoteOptions,
};
use quire_store::{LanceStore, StoreOptions};

/// The first argument that starts a worker: `<exe> __worker <name> <args…>`.
pub const WORKER_ARG: &str = "__worker";

/// Runs a worker when the process was started as one (see [`WORKER_ARG`]) and returns its exit code;
/// returns None for a normal start.
pub fn run_worker_if_requested() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(WORKER_ARG) {
        return None;
    }
    let rest = args.get(3..).unwrap_or_default();
    Some(match args.get(2).map(String::as_str) {
        Some("model") => quire_llm::worker_main(rest),
        Some(quire_extract::WORKER_NAME) => quire_extract::worker_main(rest),
        other => {
            eprintln!("error: unknown worker {other:?}");
            ExitCode::from(2)
        }
    })
}

/// Everything needed to open a library.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub data_dir: PathBuf,
    /// The embedding model; None: the starter model from the model cache.
    pub embed_model: Option<PathBuf>,
    pub embed: EmbedOptions,
    /// How the chat model loads; its `model` empty: the starter chat model from the model cache.
    pub chat: ChatOptions,
    pub answer: AnswerOptions,
    /// A cross-encoder reranker (GGUF); None: the first `*rerank*.gguf` in the model cache, if any.
    pub rerank_model: Option<PathBuf>,
    pub extract: ExtractorOptions,
    pub library: LibraryConfig,
    /// The program started for workers (this executable, which has the worker modes).
    pub worker_program: PathBuf,
    /// OpenAI-compatible servers used instead of the local models, per role (from the settings).
    pub remote: Remotes,
    /// Where the API keys of remote servers are kept (the OS keychain; see [`OpenOptions::api_key`]).
    pub keychain: Keychain,
    /// Timeouts of remote calls.
    pub remote_options: RemoteOptions,
    /// How the library's store indexes and searches vectors.
    pub store: StoreOptions,
}

/// The environment variable that gives the API key of a role's remote server (it wins over the keychain):
/// `QUIRE_CHAT_API_KEY`, `QUIRE_EMBEDDING_API_KEY`.
pub fn api_key_env(role: &str) -> String {
    format!("QUIRE_{}_API_KEY", role.to_uppercase())
}

impl OpenOptions {
    /// Defaults, with the given data folder or the app's default one.
    pub fn new(data_dir: Option<PathBuf>) -> Result<OpenOptions> {
        let worker_program = std::env::current_exe().map_err(|e| Error::io("the running program", e))?;
        Ok(OpenOptions {
            data_dir: data_dir.unwrap_or_else(quire_core::paths::default_data_dir),
            embed_model: None,
            embed: EmbedOptions::default(),
            chat: ChatOptions::new(PathBuf::new()),
            answer: AnswerOptions::default(),
            rerank_model: None,
            extract: ExtractorOptions::default(),
            library: LibraryConfig::default(),
            worker_program,
            remote: Remotes::default(),
            keychain: Keychain::default(),
            remote_options: RemoteOptions::default(),
            store: StoreOptions::default(),
        })
    }

    /// The API key for the remote server of `role` ("chat" or "embedding"): `QUIRE_<ROLE>_API_KEY` when set,
    /// else the one saved in the keychain for that role and server, else None (a server that needs no key).
    /// A system without a keychain has no saved keys: None. Other keychain failures are errors.
    pub fn api_key(&self, role: &str, endpoint: &RemoteEndpoint) -> Result<Option<String>> {
        if let Some(key) = std::env::var(api_key_env(role)).ok().filter(|k| !k.trim().is_empty()) {
            return Ok(Some(key.trim().to_string()));
        }
        match self.keychain.get(&quire_keys::account(role, endpoint)) {
            Ok(key) => Ok(key),
            Err(error @ quire_keys::KeyError::NoKeychain { .. }) => {
                tracing::debug!(%error, role, "no keychain: the remote server is asked without a key");
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The embedding model file to load.
    pub fn embed_model_path(&self) -> Result<PathBuf> {
        match &self.embed_model {
            Some(p) => Ok(p.clone()),
            None => quire_models::find_starter(quire_models::Role::Embedding).map_err(|e| Error::Model(e.to_string())),
        }
    }

    /// The reranker to use: the one set, or the first installed reranker of the model cache (a GGUF declaring
    /// rank pooling, by file name, then those registered in place; see [`quire_models::installed_in`]).
    pub fn rerank_model_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.rerank_model {
            return Some(p.clone());
        }
        let (models, _broken) = quire_models::installed_in(&quire_models::models_dir()).ok()?;
        models.into_iter().find(|m| m.role == quire_models::ModelRole::Reranker).map(|m| m.path)
    }

    /// The chat model options, with the starter chat model when none is set.
    pub fn chat_options(&self) -> Result<ChatOptions> {
        let mut chat = self.chat.clone();
        if chat.model.as_os_str().is_empty() {
            chat.model =
                quire_models::find_starter(quire_models::Role::Chat).map_err(|e| Error::Model(e.to_string()))?;
        }
        Ok(chat)
    }
}

/// An open library with its model worker (embeddings and chat in one supervised process). Cloning shares
/// the library and the worker; a clone may carry other options (e.g. new generation settings).
#[derive(Clone)]
pub struct Opened {
    pub library: Arc<Library>,
    pub models: Arc<Worker>,
    pub options: OpenOptions,
}

impl Opened {
    /// Answers over the library with the remote chat server of `options.remote.chat` when one is set (its key
    /// read now, so a key saved meanwhile applies), else the local chat model of `options.chat` (loaded on the
    /// first question).
    pub fn answerer(&self) -> Result<Answerer> {
        let reranker = self.options.rerank_model_path().map(|model| {
            Arc::new(LlamaReranker::new(Arc::clone(&self.models), model, self.options.chat.threads))
                as Arc<dyn Reranker>
        });
        Ok(Answerer::new(Arc::clone(&self.library), self.generator()?, reranker, self.options.answer.clone()))
    }

    /// The chat model answers are written with: the remote server of the settings, or the local model.
    pub fn generator(&self) -> Result<Arc<dyn Generator>> {
        Ok(match &self.options.remote.chat {
            Some(endpoint) => {
                let key = self.options.api_key("chat", endpoint)?;
                // The context window prompts are fitted into: the runtime setting (the server's is not known).
                let n_ctx = if self.options.chat.n_ctx == 0 { 4096 } else { self.options.chat.n_ctx };
                Arc::new(RemoteGenerator::new(endpoint.clone(), key, n_ctx, self.options.remote_options.clone())?)
            }
            None => Arc::new(LlamaGenerator::new(Arc::clone(&self.models), self.options.chat_options()?)),
        })
    }

    /// The chat model's name as answers record it: `remote:<model>` for a remote server, else the model file.
    pub fn chat_model_name(&self) -> Result<String> {
        Ok(match &self.options.remote.chat {
            Some(endpoint) => format!("remote:{}", endpoint.model.trim()),
            None => self.options.chat_options()?.model.display().to_string(),
        })
    }

    /// How many documents are indexed with another embedding model than the one this library opened with: they
    /// have no chunks in its table (vectors of different models never mix), so they are not found until they
    /// are indexed again (an ingest or sync re-embeds them; the desktop app does it when the model changes).
    pub async fn documents_of_other_models(&self) -> Result<usize> {
        let model = &self.library.embedder().info().model_id;
        let documents = self.library.documents().await?;
        Ok(documents.iter().filter(|d| d.status == DocStatus::Indexed && d.embedding_model != *model).count())
    }

    /// The conversations of this data folder.
    pub fn conversations(&self) -> Result<ConversationStore> {
        ConversationStore::open(&self.options.data_dir.join("conversations"))
    }
}

/// Opens (creating if needed) the library in `options.data_dir`, with its model worker.
///
/// With a remote embedding server (`options.remote.embedding`) the library embeds there (the server is asked
/// once now, for the vectors' dimension), no local embedding model is needed and the model worker, started only
/// if something asks for it, holds no embedding model. Its model id is [`quire_llm::remote_model_id`], so its
/// vectors go to a chunks table of their own.
///
/// While the library switches embedding model ([`switch`]), it opens with the model it is indexed with (the
/// plan's source) whatever `options` say; once the switch is committed, it opens with the new model and the
/// switch is finished here.
pub async fn open(options: &OpenOptions) -> Result<Opened> {
    std::fs::create_dir_all(&options.data_dir).map_err(|e| Error::io(&options.data_dir, e))?;
    let pending = EmbeddingSwitch::load(&options.data_dir)?;
    let options = &match &pending {
        Some(switch) if !switch.plan.committed => options.with_embedding(&switch.plan.source),
        _ => options.clone(),
    };
    let (embedder, models) = embedder(options).await?;
    let info = embedder.info().clone();
    let store =
        LanceStore::open_with(&options.data_dir.join("library"), &info.model_id, info.dim, options.store.clone())
            .await?;
    if let Some(switch) = pending.filter(|s| s.plan.committed) {
        if switch.plan.to.as_deref() == Some(info.model_id.as_str()) {
            switch.adopt(&store, &info.model_id).await?;
        } else {
            tracing::warn!(
                model = %info.model_id,
                "a finished switch of embedding model is not for the model the library opened with; it is left"
            );
        }
    }
    let spec = WorkerSpec::with_program(options.worker_program.clone(), quire_extract::WORKER_NAME, Vec::new());
    let extractor = ProcessExtractor::new(spec, options.extract.clone());
    tracing::info!(data_dir = %options.data_dir.display(), model = %info.model_id, "library open");
    let library = Library::new(Arc::new(store), embedder, Arc::new(extractor), options.library.clone());
    let opened = Opened { library: Arc::new(library), models, options: options.clone() };
    match opened.documents_of_other_models().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            documents = n,
            model = %info.model_id,
            "documents indexed with another embedding model are not searchable until they are indexed again"
        ),
        Err(error) => tracing::warn!(%error, "could not count the documents of other embedding models"),
    }
    Ok(opened)
}

/// The file in the data folder that records what each local embedding model is (see [`LlamaEmbedder::open`]).
pub const KNOWN_EMBEDDING_MODELS: &str = "embedding-models.json";

/// The embedding model of `options`: a remote server (asked once now, for the vectors' dimension; the model
/// worker returned, started only if something asks for it, holds no embedding model) or a local model in the
/// model worker returned, which starts when the model is first used (or now, once, for a model file not seen
/// before).
pub async fn embedder(options: &OpenOptions) -> Result<(Arc<dyn Embedder>, Arc<Worker>)> {
    Ok(match &options.remote.embedding {
        Some(endpoint) => {
            let key = options.api_key("embedding", endpoint)?;
            let embedder = RemoteEmbedder::connect(endpoint.clone(), key, options.remote_options.clone()).await?;
            (Arc::new(embedder), quire_llm::model_worker(&options.worker_program, None, &options.embed))
        }
        None => {
            let model = options.embed_model_path()?;
            let models = quire_llm::model_worker(&options.worker_program, Some(&model), &options.embed);
            let known = options.data_dir.join(KNOWN_EMBEDDING_MODELS);
            (Arc::new(LlamaEmbedder::open(Arc::clone(&models), &model, &known).await?), models)
        }
    })
}

/// Opens (creating if needed) the library in `options.data_dir`.
pub async fn open_library(options: &OpenOptions) -> Result<Library> {
    let opened = open(options).await?;
    Arc::try_unwrap(opened.library).map_err(|_| Error::Store("the library is shared".into()))
}

impl OpenOptions {
    /// Applies the user's settings: the model files or remote servers, how the chat model runs, how answers are
    /// sampled and how documents are chunked.
    /// These options with another embedding model (a local file, none: the starter model; or a server).
    pub fn with_embedding(&self, choice: &settings::EmbeddingChoice) -> OpenOptions {
        let mut options = self.clone();
        options.embed_model = choice.local.clone();
        options.remote.embedding = choice.remote.clone();
        options
    }

    pub fn apply_settings(&mut self, settings: &Settings) {
        self.remote = settings.remote.clone();
        if let Some(path) = &settings.models.embedding {
            self.embed_model = Some(path.clone());
        }
        if let Some(path) = &settings.models.chat {
            self.chat.model = path.clone();
        }
        if let Some(path) = &settings.models.reranker {
            self.rerank_model = Some(path.clone());
        }
        self.chat.gpu_layers = match settings.runtime.gpu_layers {
            settings::GpuLayers::All => GpuLayers::All,
            settings::GpuLayers::None => GpuLayers::None,
            settings::GpuLayers::Count(n) => GpuLayers::Count(n),
        };
        self.chat.n_ctx = settings.runtime.context_size;
        self.chat.threads = settings.runtime.threads as usize;
        let sampling = &mut self.answer.sampling;
        sampling.temperature = settings.generation.temperature;
        sampling.top_p = settings.generation.top_p;
        sampling.max_tokens = settings.generation.max_tokens;
        sampling.repeat_penalty = settings.generation.repeat_penalty;
        self.answer.max_sources = settings.retrieval.top_k as usize;
        self.library.chunk.max_tokens = settings.retrieval.chunk_tokens as usize;
        self.library.chunk.overlap_tokens = settings.retrieval.chunk_overlap as usize;
    }
}

impl Opened {
    /// The search filter of a conversation's scope. A collection that does not exist is an error.
    pub async fn filter(&self, scope: &Scope) -> Result<SearchFilter> {
        let mut filter = SearchFilter::default();
        match scope {
            Scope::Library => {}
            Scope::Path { path } => {
                let path = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
                filter.path_prefix = Some(path.display().to_string());
            }
            Scope::Collection { name } => {
                let collections = Collections::load(&self.options.data_dir)?;
                let docs = self.library.documents().await?;
                filter.doc_ids = Some(collections.doc_ids(name, &docs)?);
            }
        }
        Ok(filter)
    }

    /// Asks `question` in the conversation `id`, within its scope and with its history, and saves the question
    /// and the answer. With `regenerate`, the conversation's last question is asked again and its new answer
    /// replaces the old one (`question` is not used). `on_event` receives the answer's steps and tokens.
    /// A stopped answer is saved as far as it got.
    pub async fn ask_in(
        &self,
        id: &str,
        question: &str,
        regenerate: bool,
        cancel: &AtomicBool,
        on_event: &mut (dyn FnMut(AnswerEvent) + Send),
    ) -> Result<(Conversation, Answer)> {
        let store = self.conversations()?;
        let (conversation, question) = if regenerate {
            store.without_last_question(id)?
        } else {
            let question = question.trim();
            if question.is_empty() {
                return Err(Error::InvalidInput("the question is empty".into()));
            }
            (store.get(id)?, question.to_string())
        };
        let answerer = self.answerer()?;
        let q = Question {
            text: question.clone(),
            history: conversation.history(),
            filter: self.filter(&conversation.scope).await?,
        };
        let mut rerank = None;
        let mut forward = |event: AnswerEvent| {
            if let AnswerEvent::Rerank(status) = &event {
                rerank = Some(status.clone());
            }
            on_event(event);
        };
        let answer = match answerer.ask(&q, cancel, &mut forward).await {
            Ok(answer) => answer,
            // Stopped before the answer began (while a follow-up was being rewritten or the prompt read):
            // the question is kept, with an empty stopped answer, so that nothing the user typed is lost.
            Err(Error::Cancelled) => Answer {
                text: String::new(),
                citations: Vec::new(),
                attributed: false,
                sources: Vec::new(),
                rewritten_query: None,
                model: self.chat_model_name()?,
                stop: quire_core::StopReason::Cancelled,
                notice: Some("stopped before the answer began".into()),
                not_in_library: false,
                usage: Default::default(),
                timings: Default::default(),
                total_ms: 0.0,
            },
            Err(error) => return Err(error),
        };
        let mut user = Message::user(question);
        user.rewritten_query = answer.rewritten_query.clone();
        let saved = store.append_to(conversation, vec![user, Message::answer(&answer, rerank)])?;
        Ok((saved, answer))
    }
}
