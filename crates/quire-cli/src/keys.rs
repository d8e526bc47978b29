//! `quire key`: the API keys of the remote endpoints in the settings (`remote.chat`, `remote.embedding` in the
//! data folder's settings.json), kept in the system keychain only — never in settings.json.
//!
//! `quire key set ROLE` reads the key from one line of stdin (so it is neither in the shell's history nor in
//! the process list); on a terminal the typed characters are not echoed (`stty -echo`). `QUIRE_CHAT_API_KEY` /
//! `QUIRE_EMBEDDING_API_KEY` give a key for one run instead, and win over a stored one.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use quire_app::OpenOptions;
use quire_app::quire_keys::{self, KeyError};
use quire_core::settings::{RemoteEndpoint, Settings};

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyRole {
    Chat,
    Embedding,
}

impl KeyRole {
    fn as_str(self) -> &'static str {
        match self {
            KeyRole::Chat => "chat",
            KeyRole::Embedding => "embedding",
        }
    }
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Save the API key of ROLE's remote server (read from one line of stdin, not echoed on a terminal) in the
    /// system keychain, replacing any.
    Set { role: KeyRole },
    /// Remove the API key of ROLE's remote server from the keychain.
    Delete { role: KeyRole },
    /// Each role's remote server (or the local model) and whether a key is stored for it.
    Status {
        #[arg(long)]
        json: bool,
    },
}

fn endpoint(settings: &Settings, role: KeyRole) -> Option<RemoteEndpoint> {
    match role {
        KeyRole::Chat => settings.remote.chat.clone(),
        KeyRole::Embedding => settings.remote.embedding.clone(),
    }
}

fn require(settings: &Settings, role: KeyRole) -> Result<RemoteEndpoint> {
    match endpoint(settings, role) {
        Some(endpoint) => Ok(endpoint),
        None => bail!(
            "no remote {0} server is set: set \"remote\": {{\"{0}\": {{\"base_url\": …, \"model\": …}}}} in the \
             settings (the desktop app's Models screen, or settings.json in the data folder) first",
            role.as_str()
        ),
    }
}

/// Turns the terminal's echo off while it lives (when stdin is a terminal and `stty` is there).
struct NoEcho(bool);

impl NoEcho {
    fn new() -> NoEcho {
        NoEcho(std::io::stdin().is_terminal() && stty("-echo"))
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        if self.0 {
            stty("echo");
            eprintln!();
        }
    }
}

fn stty(arg: &str) -> bool {
    Command::new("stty").arg(arg).stdin(Stdio::inherit()).status().is_ok_and(|s| s.success())
}

fn read_key(role: KeyRole) -> Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("API key of the remote {} server: ", role.as_str());
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    {
        let _no_echo = NoEcho::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the key from stdin")?;
    }
    let key = line.trim().to_string();
    if key.is_empty() {
        bail!("no key was given on stdin: nothing was saved");
    }
    Ok(key)
}

fn account(role: KeyRole, endpoint: &RemoteEndpoint) -> String {
    quire_keys::account(role.as_str(), endpoint)
}

pub fn run(command: &KeyCommand, options: &OpenOptions) -> Result<()> {
    let settings = Settings::load(&options.data_dir)?;
    let keychain = &options.keychain;
    match command {
        KeyCommand::Set { role } => {
            let endpoint = require(&settings, *role)?;
            let key = read_key(*role)?;
            keychain.set(&account(*role, &endpoint), &key)?;
            println!(
                "The key of the remote {} server at {} is saved in the system keychain.",
                role.as_str(),
                endpoint.root()
            );
        }
        KeyCommand::Delete { role } => {
            let endpoint = require(&settings, *role)?;
            if keychain.delete(&account(*role, &endpoint))? {
                println!("The key of the remote {} server at {} is removed.", role.as_str(), endpoint.root());
            } else {
                println!("No key was stored for the remote {} server at {}.", role.as_str(), endpoint.root());
            }
        }
        KeyCommand::Status { json } => {
            let mut rows = Vec::new();
            for role in [KeyRole::Chat, KeyRole::Embedding] {
                let from_environment =
                    std::env::var(quire_app::api_key_env(role.as_str())).is_ok_and(|k| !k.trim().is_empty());
                let Some(endpoint) = endpoint(&settings, role) else {
                    rows.push(json!({"role": role.as_str(), "remote": null, "stored": false,
                        "keychain": null, "from_environment": from_environment}));
                    continue;
                };
                let (stored, keychain_ok, detail) = match keychain.has(&account(role, &endpoint)) {
                    Ok(stored) => (stored, true, None),
                    Err(error @ KeyError::NoKeychain { .. }) => (false, false, Some(error.to_string())),
                    Err(error) => return Err(error.into()),
                };
                rows.push(json!({"role": role.as_str(), "remote": {"base_url": endpoint.base_url,
                    "model": endpoint.model}, "stored": stored, "keychain": keychain_ok,
                    "from_environment": from_environment, "detail": detail}));
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for row in &rows {
                    let role = row["role"].as_str().unwrap_or_default();
                    let key = if row["from_environment"] == true {
                        format!("key from {}", quire_app::api_key_env(role))
                    } else if row["keychain"] == false {
                        "no keychain on this system: no key can be stored".to_string()
                    } else if row["stored"] == true {
                        "key stored in the system keychain".to_string()
                    } else {
                        "no key stored".to_string()
                    };
                    match row["remote"].as_object() {
                        None => println!("{role:<10} local model"),
                        Some(remote) => println!(
                            "{role:<10} {} (model {}): {key}",
                            remote["base_url"].as_str().unwrap_or_default(),
                            remote["model"].as_str().unwrap_or_default()
                        ),
                    }
                }
            }
        }
    }
    Ok(())
}
