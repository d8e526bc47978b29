//! `quire`: Quire's library from the command line — ingest, search, ask, conversations, collections, eval,
//! status, remove, bench — over the same core and the same data folder as the desktop app.

mod ask;
mod bench;
mod bench_ask;
mod bench_watch;
mod keys;
mod models;
mod output;
mod switch;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use quire_app::OpenOptions;
use quire_core::fusion::Fusion;
use quire_core::library::IngestOptions;
use quire_core::watched::{FolderRules, WatchedFolders};
use quire_core::{SearchFilter, SearchMode};

#[derive(Parser)]
#[command(name = "quire", version, about = "Chat with your own documents, offline: the command line")]
struct Cli {
    /// Data folder (default: the desktop app's, e.g. ~/.local/share/dev.quire.desktop).
    #[arg(long, global = true, env = "QUIRE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Embedding model (GGUF). Default: the starter all-MiniLM-L6-v2 from the model cache.
    #[arg(long, global = true)]
    embed_model: Option<PathBuf>,
    /// CPU threads for the models (default: all cores).
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
    /// Log more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Vector,
    Fulltext,
    Hybrid,
}

impl From<Mode> for SearchMode {
    fn from(m: Mode) -> SearchMode {
        match m {
            Mode::Vector => SearchMode::Vector,
            Mode::Fulltext => SearchMode::Fulltext,
            Mode::Hybrid => SearchMode::Hybrid,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Index files and folders (recursively). Unchanged files are skipped; changed files are re-indexed;
    /// documents under an ingested folder whose files are gone are removed (unless --keep-missing).
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Re-index every file, changed or not.
        #[arg(long)]
        force: bool,
        /// Keep documents whose files are gone from an ingested folder.
        #[arg(long)]
        keep_missing: bool,
        /// One JSON object per line: progress events, then the report.
        #[arg(long)]
        json: bool,
    },
    /// Search the library (vector + full text, fused).
    Search {
        query: String,
        #[arg(short, default_value_t = 5)]
        k: usize,
        #[arg(long, value_enum, default_value = "hybrid")]
        mode: Mode,
        /// Only documents under this path.
        #[arg(long = "in")]
        within: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Ask a question: the answer streams from the local chat model, grounded in the library, with numbered
    /// citations. Each question joins a conversation (a new one unless --conversation is given).
    Ask {
        question: String,
        /// Continue this conversation (see `quire conversations list`).
        #[arg(long)]
        conversation: Option<String>,
        #[command(flatten)]
        scope: ask::ScopeArgs,
        #[command(flatten)]
        chat: ask::ChatArgs,
        /// One JSON event per line: rewritten query, sources, tokens, then done (or error).
        #[arg(long)]
        json: bool,
    },
    /// List, show, rename, delete and export conversations.
    #[command(subcommand)]
    Conversations(ask::ConversationsCommand),
    /// Named groups of files and folders to ask within (`quire ask --collection NAME`).
    #[command(subcommand)]
    Collections(CollectionsCommand),
    /// Watched folders: folders the library keeps in step with (the desktop app syncs them at every start).
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Retrieval quality on a BEIR-format set (corpus.jsonl, queries.jsonl, qrels/test.tsv), or answer quality
    /// (ROUGE-L) on a JSONL of {"question", "reference"} with --answers.
    Eval {
        #[arg(long, required_unless_present = "answers")]
        beir: Option<PathBuf>,
        /// JSONL of questions and reference answers, answered over the library in --data-dir, or over the
        /// corpus of --beir (indexed in a temporary library).
        #[arg(long)]
        answers: Option<PathBuf>,
        /// Only the first N questions of --answers.
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        chat: ask::ChatArgs,
        #[arg(short, default_value_t = 10)]
        k: usize,
        #[arg(long, value_enum, default_value = "hybrid")]
        mode: Mode,
        /// Fusion for hybrid mode: `convex:ALPHA` (weight of the vector scores) or `rrf:K`.
        #[arg(long)]
        fusion: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// What the library holds.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Remove a document, or every document under a folder, from the library (the files stay).
    Remove {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks (figures for BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Models: the catalog and the installed models, and whether each fits this machine's memory.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// API keys of the remote servers in the settings, kept in the system keychain: `key set ROLE` reads the key
    /// from stdin.
    #[command(subcommand)]
    Key(keys::KeyCommand),
}

#[derive(Subcommand)]
enum CollectionsCommand {
    List,
    /// Add files or folders to a collection (created if new).
    Add {
        name: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Delete a collection (its documents stay in the library).
    Remove {
        name: String,
    },
}

#[derive(Subcommand)]
enum WatchCommand {
    /// Watch a folder (in a collection, if given) and sync it now. Hidden, temporary and lock files are always
    /// left out; patterns are globs matched against paths relative to the folder (`*` also crosses `/`).
    Add {
        path: PathBuf,
        #[arg(long)]
        collection: Option<String>,
        /// Only files matching this pattern (repeat for more), e.g. `*.pdf`.
        #[arg(long = "include", value_name = "GLOB")]
        include: Vec<String>,
        /// Leave out files and folders matching this pattern (repeat for more), e.g. `archive` or `*.log`.
        #[arg(long = "exclude", value_name = "GLOB")]
        exclude: Vec<String>,
        /// Leave out files larger than this many megabytes.
        #[arg(long, value_name = "MB")]
        max_size: Option<f64>,
    },
    /// The watched folders.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop watching a folder (its documents stay in the library).
    Remove { path: PathBuf },
    /// Bring every watched folder up to date: new and changed files are indexed, documents whose files are
    /// gone are removed.
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// Follow the watched folders until Ctrl-C: compare each with the library, then apply every change as
    /// it happens (new, changed, deleted, renamed and moved files), printing each one.
    Run {
        /// One JSON event per line.
        #[arg(long)]
        json: bool,
        /// Seconds a file must stay the same (size and modification time) before it is indexed.
        #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
        stable_for: f64,
        /// Minutes between full comparisons of each folder with the library.
        #[arg(long, default_value_t = 10.0, value_name = "MINUTES")]
        rescan_every: f64,
        /// Poll the folders instead of using the system's change notifications.
        #[arg(long)]
        poll: bool,
    },
}

/// Megabytes as a byte count, refused when not a positive number.
fn megabytes(mb: f64) -> Result<u64> {
    if !(mb.is_finite() && mb > 0.0) {
        bail!("--max-size must be a positive number of megabytes");
    }
    Ok((mb * 1e6).round() as u64)
}

/// Seconds as a duration, refused when not a positive number.
fn seconds(s: f64, flag: &str) -> Result<std::time::Duration> {
    if !(s.is_finite() && s > 0.0) {
        bail!("{flag} must be a positive number");
    }
    Ok(std::time::Duration::from_secs_f64(s))
}

async fn watch_run(cli: &Cli, json: bool, stable_for: f64, rescan_every: f64, poll: bool) -> Result<ExitCode> {
    let options = open_options(cli)?;
    let run = quire_app::watch::WatchRunOptions {
        watch: quire_watch::WatchOptions {
            stable_for: seconds(stable_for, "--stable-for")?,
            force_poll: poll,
            ..quire_watch::WatchOptions::default()
        },
        rescan_every: seconds(rescan_every * 60.0, "--rescan-every")?,
        ..Default::default()
    };
    let library = quire_app::open_library(&options).await?;
    let report = move |event: quire_app::watch::WatchReport| output::print_watch(&event, json);
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    quire_app::watch::run_watch(&library, &options.data_dir, &run, &report, stop).await?;
    library.store().maintain().await?;
    Ok(ExitCode::SUCCESS)
}

async fn watch(cli: &Cli, command: &WatchCommand) -> Result<ExitCode> {
    let options = open_options(cli)?;
    std::fs::create_dir_all(&options.data_dir)?;
    let mut watched = WatchedFolders::load(&options.data_dir)?;
    let to_sync = match command {
        WatchCommand::List { json } => {
            if *json {
                println!("{}", serde_json::to_string_pretty(&watched.folders)?);
            } else if watched.folders.is_empty() {
                println!("No watched folders yet: add one with `quire watch add FOLDER`.");
            }
            for f in watched.folders.iter().filter(|_| !*json) {
                println!("{}", output::watched_line(f));
            }
            return Ok(ExitCode::SUCCESS);
        }
        WatchCommand::Remove { path } => {
            if !watched.remove(path) {
                bail!("{} is not a watched folder", path.display());
            }
            watched.save()?;
            return Ok(ExitCode::SUCCESS);
        }
        WatchCommand::Add { path, collection, include, exclude, max_size } => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
            let rules = FolderRules {
                include: include.clone(),
                exclude: exclude.clone(),
                max_bytes: max_size.map(megabytes).transpose()?,
            };
            quire_app::watch::check_rules(&rules)?;
            let folder = watched.add_with_rules(path, collection.as_deref(), rules, i64::try_from(now)?)?;
            watched.save()?;
            println!("watching {}", folder.path);
            vec![folder]
        }
        WatchCommand::Sync { .. } => watched.folders.clone(),
        WatchCommand::Run { json, stable_for, rescan_every, poll } => {
            return watch_run(cli, *json, *stable_for, *rescan_every, *poll).await;
        }
    };
    let json = matches!(command, WatchCommand::Sync { json: true });
    let library = quire_app::open_library(&options).await?;
    let mut failed = 0;
    for folder in &to_sync {
        let progress = output::IngestProgress::new(json);
        let report =
            quire_app::watch::sync_folder(&library, &options.data_dir, folder, &|e| progress.event(&e)).await?;
        progress.finish(&report);
        failed += report.failed;
    }
    library.store().maintain().await?;
    Ok(if failed > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

fn parse_fusion(spec: &str) -> Result<Fusion> {
    let (name, value) = spec.split_once(':').unwrap_or((spec, ""));
    match name {
        "convex" => {
            let alpha: f32 =
                if value.is_empty() { 0.7 } else { value.parse().context("convex:ALPHA needs a number")? };
            if !(0.0..=1.0).contains(&alpha) {
                bail!("convex:ALPHA must be between 0 and 1");
            }
            Ok(Fusion::Convex { alpha })
        }
        "rrf" => {
            let k: f32 = if value.is_empty() { 60.0 } else { value.parse().context("rrf:K needs a number")? };
            Ok(Fusion::Rrf { k, vector_weight: 1.0, fulltext_weight: 1.0 })
        }
        _ => bail!("unknown fusion {spec:?}: use convex:ALPHA or rrf:K"),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUIRE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
}

fn main() -> ExitCode {
    if let Some(code) = quire_app::run_worker_if_requested() {
        return code;
    }
    // SAFETY: `main` has started no thread yet.
    #[allow(unsafe_code)]
    unsafe {
        quire_store::configure_readers()
    };
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn open_options(cli: &Cli) -> Result<OpenOptions> {
    let mut options = OpenOptions::new(cli.data_dir.clone())?;
    // The desktop app's settings (models, chunking, sampling) are the defaults; flags given here win.
    options.apply_settings(&quire_core::settings::Settings::load(&options.data_dir)?);
    if let Some(model) = &cli.embed_model {
        options.embed_model = Some(model.clone());
    }
    options.embed.threads = cli.threads;
    Ok(options)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Ingest { paths, force, keep_missing, json } => {
            let library = quire_app::open_library(&open_options(&cli)?).await?;
            let cancel = output::cancel_on_ctrl_c(Some("stopping after the current document…"));
            let options = IngestOptions { prune_missing: !keep_missing, force: *force };
            let progress = output::IngestProgress::new(*json);
            let report = library.ingest(paths, &options, &|e| progress.event(&e), Some(&cancel)).await?;
            progress.finish(&report);
            library.store().maintain().await?;
            Ok(if report.failed > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
        }
        Command::Search { query, k, mode, within, json } => {
            let library = quire_app::open_library(&open_options(&cli)?).await?;
            let filter = SearchFilter {
                path_prefix: within
                    .as_ref()
                    .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string()),
                doc_ids: None,
            };
            let hits = library.search(query, *k, (*mode).into(), &filter).await?;
            output::print_hits(&hits, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ask { question, conversation, scope, chat, json } => {
            let mut options = open_options(&cli)?;
            chat.apply(&mut options, cli.threads);
            let opened = quire_app::open(&options).await?;
            ask::ask(&opened, question, conversation.as_deref(), scope, *json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Conversations(command) => {
            let options = open_options(&cli)?;
            let store = quire_core::conversation::ConversationStore::open(&options.data_dir.join("conversations"))?;
            ask::conversations(&store, command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Collections(command) => {
            let options = open_options(&cli)?;
            std::fs::create_dir_all(&options.data_dir)?;
            let mut c = quire_core::collections::Collections::load(&options.data_dir)?;
            match command {
                CollectionsCommand::List => {
                    if c.collections.is_empty() {
                        println!("No collections yet: create one with `quire collections add NAME PATH…`.");
                    }
                    for (name, paths) in &c.collections {
                        println!("{name}: {}", paths.join(", "));
                    }
                }
                CollectionsCommand::Add { name, paths } => {
                    c.add(name, paths)?;
                    c.save()?;
                }
                CollectionsCommand::Remove { name } => {
                    if !c.remove(name) {
                        bail!("there is no collection {name:?}");
                    }
                    c.save()?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch(command) => watch(&cli, command).await,
        Command::Eval { beir, answers, limit, chat, k, mode, fusion, json } => {
            let mut options = open_options(&cli)?;
            if let Some(spec) = fusion {
                options.library.fusion = parse_fusion(spec)?;
            }
            if let Some(file) = answers {
                chat.apply(&mut options, cli.threads);
                match beir {
                    Some(dir) => {
                        bench::eval_answers_on_corpus(options, cli.data_dir.is_some(), dir, file, *limit, *json)
                            .await?;
                    }
                    None => {
                        let opened = quire_app::open(&options).await?;
                        ask::eval_answers(&opened, file, *limit, *json).await?;
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let Some(beir) = beir else { bail!("give --beir DIR or --answers FILE") };
            let report = bench::eval_beir(options, cli.data_dir.is_some(), beir, *k, (*mode).into()).await?;
            output::print_eval(&report, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json } => {
            let options = open_options(&cli)?;
            let library = quire_app::open_library(&options).await?;
            let stats = library.stats().await?;
            let docs = library.documents().await?;
            output::print_status(&options.data_dir, &stats, &docs, &library.store().recovered(), *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { path, json } => {
            let library = quire_app::open_library(&open_options(&cli)?).await?;
            let removed = library.remove(path).await?;
            if removed.is_empty() {
                bail!("nothing in the library at {}", path.display());
            }
            library.store().maintain().await?;
            output::print_removed(&removed, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(command) => {
            bench::run(command, open_options(&cli)?, cli.threads).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Models(models::ModelsCommand::UseEmbedding { file, cancel, json }) => {
            let options = open_options(&cli)?;
            match file {
                Some(file) if !cancel => switch::use_embedding(&options, file, *json).await?,
                _ => switch::cancel(&options, *json).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Models(command) => {
            models::run(command, &open_options(&cli)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(command) => {
            keys::run(command, &open_options(&cli)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_specs() {
        assert_eq!(parse_fusion("convex:0.5").ok(), Some(Fusion::Convex { alpha: 0.5 }));
        assert!(matches!(parse_fusion("rrf").ok(), Some(Fusion::Rrf { k, .. }) if k == 60.0));
        assert!(parse_fusion("convex:2").is_err());
        assert!(parse_fusion("magic").is_err());
    }

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
