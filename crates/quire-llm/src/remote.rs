//! Remote models: the core's [`Embedder`] and [`Generator`] over any OpenAI-compatible server (llama.cpp
//! server, vLLM, Ollama): `POST {base}/v1/embeddings` and `POST {base}/v1/chat/completions` with
//! `stream: true` (server-sent `data:` lines ending with `[DONE]`).
//!
//! A remote server runs its own process, so nothing here needs the worker isolation llama.cpp needs. The
//! server's tokenizer is not reachable through this API: token counts are estimated on the safe side (about
//! three ASCII characters per token, one token per other character), so chunks and prompts fit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};

use quire_core::settings::RemoteEndpoint;
use quire_core::{
    ChatMessage, Embedder, EmbedderInfo, Embeddings, Error, GenEvent, GenerateRequest, Generation, Generator,
    GeneratorInfo, Result, StopReason, Timings, Usage,
};

/// How long a remote call may take.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Connecting to the server.
    pub connect_timeout: Duration,
    /// A whole embedding request; for chat, the wait for the answer to begin and the longest silence within it.
    pub timeout: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions { connect_timeout: Duration::from_secs(10), timeout: Duration::from_secs(120) }
    }
}

/// The most tokens one embedding input may have (chunk sizes stay within it).
const REMOTE_EMBED_MAX_TOKENS: usize = 512;

/// Estimated tokens of a text: a third of its ASCII characters (rounded up) plus one per other character.
pub fn estimate_tokens(text: &str) -> u32 {
    let (ascii, other) =
        text.chars().fold((0u32, 0u32), |(a, o), c| if c.is_ascii() { (a + 1, o) } else { (a, o + 1) });
    ascii.div_ceil(3) + other
}

/// The embedding model id of a remote model: distinct per server and model, so vectors never mix.
pub fn remote_model_id(endpoint: &RemoteEndpoint) -> String {
    format!("remote:{}@{}", endpoint.model.trim(), endpoint.root())
}

struct Client {
    http: reqwest::Client,
    endpoint: RemoteEndpoint,
    api_key: Option<String>,
    options: RemoteOptions,
    /// "embedding" or "chat", for messages.
    role: &'static str,
}

impl Client {
    fn new(
        role: &'static str,
        endpoint: RemoteEndpoint,
        api_key: Option<String>,
        options: RemoteOptions,
    ) -> Result<Client> {
        if let Some(problem) = endpoint.problem(role) {
            return Err(Error::InvalidInput(problem));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| Error::Model(format!("cannot set up the connection to the remote {role} server: {e}")))?;
        Ok(Client { http, endpoint, api_key: api_key.filter(|k| !k.is_empty()), options, role })
    }

    fn request(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(self.endpoint.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        req
    }

    fn where_(&self) -> String {
        format!("the remote {} server at {}", self.role, self.endpoint.root())
    }

    /// A failed request, in words.
    fn send_error(&self, e: &reqwest::Error) -> Error {
        let at = self.where_();
        if e.is_timeout() {
            Error::Model(format!("{at} did not answer within {} s", self.options.timeout.as_secs()))
        } else if e.is_connect() {
            let detail = source_chain(e);
            if detail.contains("refused") {
                Error::Model(format!("could not connect to {at}: the connection was refused (is the server running?)"))
            } else {
                Error::Model(format!("could not connect to {at}: {detail}"))
            }
        } else {
            Error::Model(format!("{at} failed: {}", source_chain(e)))
        }
    }

    /// A non-success answer, in words.
    fn status_error(&self, status: reqwest::StatusCode, body: &str) -> Error {
        let at = self.where_();
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .or_else(|| v.get("error"))
                    .or_else(|| v.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| body.chars().take(200).collect());
        let lower = message.to_lowercase();
        let code = status.as_u16();
        if code == 401 || code == 403 {
            Error::Model(format!(
                "{at} refused the API key (HTTP {code}): set the right key for the {} server in Settings",
                self.role
            ))
        } else if code == 404
            || (lower.contains("model") && (lower.contains("not found") || lower.contains("does not exist")))
        {
            Error::Model(format!(
                "model not found: {at} does not serve the model \"{}\" (HTTP {code}{})",
                self.endpoint.model,
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ))
        } else {
            Error::Model(format!("{at} answered HTTP {code}: {message}"))
        }
    }

    async fn post(&self, path: &str, body: &Value, whole_timeout: bool) -> Result<reqwest::Response> {
        let mut req = self.request(path, body);
        if whole_timeout {
            req = req.timeout(self.options.timeout);
        }
        let response = match tokio::time::timeout(self.options.timeout, req.send()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(self.send_error(&e)),
            Err(_) => {
                return Err(Error::Model(format!(
                    "{} did not answer within {} s",
                    self.where_(),
                    self.options.timeout.as_secs()
                )));
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(self.status_error(status, &body))
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Embeddings from an OpenAI-compatible server.
pub struct RemoteEmbedder {
    client: Client,
    info: EmbedderInfo,
}

impl RemoteEmbedder {
    /// Connects to the server and learns the model's dimension by embedding one short text.
    pub async fn connect(
        endpoint: RemoteEndpoint,
        api_key: Option<String>,
        options: RemoteOptions,
    ) -> Result<RemoteEmbedder> {
        let model_id = remote_model_id(&endpoint);
        let client = Client::new("embedding", endpoint, api_key, options)?;
        let mut embedder = RemoteEmbedder {
            client,
            info: EmbedderInfo { model_id, dim: 0, max_tokens: REMOTE_EMBED_MAX_TOKENS, special_tokens: 0 },
        };
        let probe = embedder.embed(vec!["dimension probe".to_string()]).await?;
        embedder.info.dim = probe.vectors[0].len();
        Ok(embedder)
    }
}

#[async_trait]
impl Embedder for RemoteEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
        Ok(texts.iter().map(|t| estimate_tokens(t)).collect())
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Embeddings> {
        if texts.is_empty() {
            return Ok(Embeddings { vectors: Vec::new(), tokens: Vec::new(), truncated: 0 });
        }
        let body = json!({ "model": self.client.endpoint.model.trim(), "input": texts });
        let response = self.client.post("embeddings", &body, true).await?;
        let value: Value = response.json_value(&self.client).await?;
        let bad = |what: &str| Error::Model(format!("{} sent unreadable embeddings: {what}", self.client.where_()));
        let data = value.get("data").and_then(Value::as_array).ok_or_else(|| bad("no \"data\" list"))?;
        if data.len() != texts.len() {
            return Err(bad(&format!("{} vectors for {} texts", data.len(), texts.len())));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (position, item) in data.iter().enumerate() {
            let index = item.get("index").and_then(Value::as_u64).map_or(position, |i| i as usize);
            let values =
                item.get("embedding").and_then(Value::as_array).ok_or_else(|| bad("an item has no embedding"))?;
            let mut vector: Vec<f32> = values
                .iter()
                .map(|v| v.as_f64().map(|f| f as f32))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("a value is not a number"))?;
            if vector.is_empty() || (self.info.dim != 0 && vector.len() != self.info.dim) {
                return Err(bad(&format!("a vector of {} values, expected {}", vector.len(), self.info.dim)));
            }
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                vector.iter_mut().for_each(|x| *x /= norm);
            }
            match vectors.get_mut(index) {
                Some(slot @ None) => *slot = Some(vector),
                _ => return Err(bad("an index is repeated or out of range")),
            }
        }
        let vectors = vectors.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| bad("a text got no vector"))?;
        let tokens = texts.iter().map(|t| estimate_tokens(t)).collect();
        Ok(Embeddings { vectors, tokens, truncated: 0 })
    }
}

trait JsonBody {
    async fn json_value(self, client: &Client) -> Result<Value>;
}

impl JsonBody for reqwest::Response {
    async fn json_value(self, client: &Client) -> Result<Value> {
        let bytes = self.bytes().await.map_err(|e| client.send_error(&e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Model(format!("{} sent an answer that is not JSON: {e}", client.where_())))
    }
}

/// A chat model on an OpenAI-compatible server.
pub struct RemoteGenerator {
    client: Client,
    n_ctx: u32,
}

impl RemoteGenerator {
    /// A generator for `endpoint`; `n_ctx` is the context window assumed for fitting prompts. Nothing is sent
    /// until the first answer.
    pub fn new(
        endpoint: RemoteEndpoint,
        api_key: Option<String>,
        n_ctx: u32,
        options: RemoteOptions,
    ) -> Result<RemoteGenerator> {
        Ok(RemoteGenerator { client: Client::new("chat", endpoint, api_key, options)?, n_ctx })
    }
}

/// Estimated prompt tokens: the contents plus a few template tokens per message and the assistant's opening.
fn estimate_prompt(messages: &[ChatMessage]) -> u32 {
    messages.iter().map(|m| estimate_tokens(&m.content) + 4).sum::<u32>() + 3
}

#[async_trait]
impl Generator for RemoteGenerator {
    async fn info(&self) -> Result<GeneratorInfo> {
        Ok(GeneratorInfo { model_id: format!("remote:{}", self.client.endpoint.model.trim()), n_ctx: self.n_ctx })
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
        Ok(texts.iter().map(|t| estimate_tokens(t)).collect())
    }

    async fn prompt_tokens(&self, messages: Vec<ChatMessage>) -> Result<u32> {
        Ok(estimate_prompt(&messages))
    }

    async fn generate(
        &self,
        request: GenerateRequest,
        cancel: &AtomicBool,
        on_event: &mut (dyn FnMut(GenEvent) + Send),
    ) -> Result<Generation> {
        let started = Instant::now();
        let prompt_tokens = estimate_prompt(&request.messages);
        let s = &request.sampling;
        let messages: Vec<Value> =
            request.messages.iter().map(|m| json!({ "role": m.role.as_str(), "content": m.content })).collect();
        let body = json!({
            "model": self.client.endpoint.model.trim(),
            "messages": messages,
            "stream": true,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
        });
        let cancelled = |text: String, usage: Usage, timings: Timings| Generation {
            text,
            stop: StopReason::Cancelled,
            usage,
            timings,
        };
        let mut usage = Usage { prompt_tokens, cached_tokens: 0, completion_tokens: 0 };
        let mut timings = Timings::default();
        if cancel.load(Ordering::Relaxed) {
            return Ok(cancelled(String::new(), usage, timings));
        }
        let send = self.client.post("chat/completions", &body, false);
        tokio::pin!(send);
        let response = loop {
            tokio::select! {
                r = &mut send => break r?,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if cancel.load(Ordering::Relaxed) {
                        return Ok(cancelled(String::new(), usage, timings));
                    }
                }
            }
        };
        on_event(GenEvent::Prompt { tokens: prompt_tokens, cached: 0 });
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut text = String::new();
        let mut stop = None;
        let mut done = false;
        let mut last_data = Instant::now();
        let mut first_token_at = None;
        while !done {
            if cancel.load(Ordering::Relaxed) {
                stop = Some(StopReason::Cancelled);
                break;
            }
            let next = match tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    if last_data.elapsed() > self.client.options.timeout {
                        return Err(Error::Model(format!(
                            "{} stopped sending the answer for {} s",
                            self.client.where_(),
                            self.client.options.timeout.as_secs()
                        )));
                    }
                    continue;
                }
            };
            let bytes = match next {
                Some(Ok(bytes)) => bytes,
                Some(Err(e)) => {
                    return Err(Error::Model(format!(
                        "{} broke off the answer: {}",
                        self.client.where_(),
                        source_chain(&e)
                    )));
                }
                None => break,
            };
            last_data = Instant::now();
            buffer.extend_from_slice(&bytes);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim().strip_prefix("data:") else { continue };
                let data = data.trim();
                if data == "[DONE]" {
                    done = true;
                    break;
                }
                let Ok(chunk) = serde_json::from_str::<Value>(data) else {
                    return Err(Error::Model(format!(
                        "{} sent an unreadable piece of the answer",
                        self.client.where_()
                    )));
                };
                if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
                    return Err(Error::Model(format!("{} failed while answering: {message}", self.client.where_())));
                }
                if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                    if let Some(p) = u.get("prompt_tokens").and_then(Value::as_u64) {
                        usage.prompt_tokens = p as u32;
                    }
                    if let Some(c) = u.get("completion_tokens").and_then(Value::as_u64) {
                        usage.completion_tokens = c as u32;
                    }
                }
                let Some(choice) = chunk.pointer("/choices/0") else { continue };
                if let Some(piece) = choice.pointer("/delta/content").and_then(Value::as_str)
                    && !piece.is_empty()
                {
                    if first_token_at.is_none() {
                        first_token_at = Some(Instant::now());
                    }
                    text.push_str(piece);
                    on_event(GenEvent::Token { text: piece.to_string() });
                }
                match choice.get("finish_reason").and_then(Value::as_str) {
                    Some("length") => stop = Some(StopReason::MaxTokens),
                    Some(_) => stop = Some(StopReason::End),
                    None => {}
                }
            }
        }
        let stop = match stop {
            Some(stop) => stop,
            None if done => StopReason::End,
            None => {
                return Err(Error::Model(format!(
                    "{} closed the connection before the answer ended",
                    self.client.where_()
                )));
            }
        };
        if usage.completion_tokens == 0 {
            usage.completion_tokens = estimate_tokens(&text);
        }
        if let Some(first) = first_token_at {
            timings.first_token_ms = (first - started).as_secs_f64() * 1000.0;
            timings.generation_ms = first.elapsed().as_secs_f64() * 1000.0;
        }
        Ok(Generation { text, stop, usage, timings })
    }
}

#[cfg(test)]
mod tests {
    //! Against a small OpenAI-compatible server on loopback started by each test: deterministic embeddings, a
    //! streamed chat completion, a 401 for a wrong key, an unknown model, a dropped connection, a silent server.

    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use quire_core::{Role, SamplingParams};

    use super::*;

    const KEY: &str = "sk-test-key";

    /// A fake server; returns its base URL.
    async fn serve() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                tokio::spawn(handle(socket));
            }
        });
        format!("http://{addr}")
    }

    async fn read_request(socket: &mut TcpStream) -> (String, String, Value) {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let header_end = loop {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "the client closed the connection early");
            data.extend_from_slice(&buf[..n]);
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&data[..header_end]).to_string();
        let length = head
            .lines()
            .find_map(|l| {
                l.to_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().expect("len"))
            })
            .unwrap_or(0);
        while data.len() < header_end + length {
            let n = socket.read(&mut buf).await.expect("read");
            data.extend_from_slice(&buf[..n]);
        }
        let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
        let body = serde_json::from_slice(&data[header_end..header_end + length]).unwrap_or(Value::Null);
        (path, head, body)
    }

    async fn respond(socket: &mut TcpStream, status: &str, content_type: &str, body: &str) {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await.expect("write");
        socket.write_all(body.as_bytes()).await.expect("write");
    }

    fn fake_vector(text: &str) -> Vec<f32> {
        let bytes = text.as_bytes();
        vec![bytes.len() as f32, bytes.iter().map(|&b| f32::from(b)).sum::<f32>() / 100.0, 1.0, f32::from(bytes[0])]
    }

    async fn handle(mut socket: TcpStream) {
        let (path, head, body) = read_request(&mut socket).await;
        let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
        if model == "silent" {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        if !head.to_lowercase().contains(&format!("authorization: bearer {}", KEY.to_lowercase())) {
            let error = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#;
            return respond(&mut socket, "401 Unauthorized", "application/json", error).await;
        }
        if model == "missing" {
            let error = r#"{"error":{"message":"model 'missing' not found"}}"#;
            return respond(&mut socket, "404 Not Found", "application/json", error).await;
        }
        match path.as_str() {
            "/v1/embeddings" => {
                let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).expect("input");
                // In reverse order, as the index field allows.
                let data: Vec<Value> = inputs
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": fake_vector(t)}))
                    .collect();
                let answer = json!({"object": "list", "data": data, "model": model}).to_string();
                respond(&mut socket, "200 OK", "application/json", &answer).await;
            }
            "/v1/chat/completions" => {
                assert_eq!(body["stream"], true);
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
                socket.write_all(head.as_bytes()).await.expect("write");
                let piece = |text: &str, finish: Value| {
                    let chunk = json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]});
                    format!("data: {chunk}\n\n")
                };
                let pieces = ["Hello", ", wor", "ld", "!"];
                if model == "drop" {
                    socket.write_all(piece("Hello", Value::Null).as_bytes()).await.expect("write");
                    socket.flush().await.expect("flush");
                    return; // the connection is dropped mid-answer
                }
                let count = if model == "endless" { 10_000 } else { pieces.len() };
                for i in 0..count {
                    let text = pieces[i % pieces.len()];
                    let finish = if i + 1 == count { json!("stop") } else { Value::Null };
                    // One event split over two writes, to check lines are reassembled.
                    let event = piece(text, finish);
                    let (a, b) = event.split_at(event.len() / 2);
                    if socket.write_all(a.as_bytes()).await.is_err() {
                        return;
                    }
                    socket.flush().await.ok();
                    if socket.write_all(b.as_bytes()).await.is_err() {
                        return;
                    }
                    if model == "endless" {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                socket.write_all(b"data: [DONE]\n\n").await.ok();
            }
            _ => respond(&mut socket, "404 Not Found", "text/plain", "no such route").await,
        }
    }

    fn endpoint(base: &str, model: &str) -> RemoteEndpoint {
        RemoteEndpoint { base_url: base.to_string(), model: model.to_string() }
    }

    fn quick() -> RemoteOptions {
        RemoteOptions { connect_timeout: Duration::from_secs(2), timeout: Duration::from_secs(2) }
    }

    fn question() -> GenerateRequest {
        GenerateRequest {
            messages: vec![ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Hi?")],
            sampling: SamplingParams::default(),
            repetition_guard: false,
        }
    }

    #[tokio::test]
    async fn embeddings_come_back_in_order_normalised_with_a_model_id_per_server_and_model() {
        let base = serve().await;
        let embedder = RemoteEmbedder::connect(endpoint(&format!("{base}/v1/"), "embed-a"), Some(KEY.into()), quick())
            .await
            .expect("connect");
        assert_eq!(embedder.info().dim, 4);
        assert_eq!(embedder.info().model_id, format!("remote:embed-a@{base}"));
        let other = RemoteEmbedder::connect(endpoint(&base, "embed-b"), Some(KEY.into()), quick()).await.expect("b");
        assert_ne!(other.info().model_id, embedder.info().model_id);

        let texts = vec!["alpha".to_string(), "a much longer text".to_string(), "zz".to_string()];
        let out = embedder.embed(texts.clone()).await.expect("embed");
        assert_eq!(out.vectors.len(), 3);
        for (text, vector) in texts.iter().zip(&out.vectors) {
            let raw = fake_vector(text);
            let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
            for (a, b) in vector.iter().zip(&raw) {
                assert!((a - b / norm).abs() < 1e-6, "{text}: {vector:?}");
            }
        }
        assert_eq!(embedder.count_tokens(texts).await.expect("count"), vec![2, 6, 1]);
        assert_eq!(estimate_tokens("héllo"), 1 + 2);
    }

    #[tokio::test]
    async fn a_chat_answer_streams_token_by_token() {
        let base = serve().await;
        let generator = RemoteGenerator::new(endpoint(&base, "chat"), Some(KEY.into()), 4096, quick()).expect("new");
        assert_eq!(generator.info().await.expect("info").n_ctx, 4096);
        let mut events = Vec::new();
        let cancel = AtomicBool::new(false);
        let generation = generator.generate(question(), &cancel, &mut |e| events.push(e)).await.expect("generate");
        assert_eq!(generation.text, "Hello, world!");
        assert_eq!(generation.stop, StopReason::End);
        assert!(generation.usage.completion_tokens > 0);
        assert!(matches!(events[0], GenEvent::Prompt { .. }), "{events:?}");
        let tokens: Vec<&str> = events
            .iter()
            .filter_map(|e| if let GenEvent::Token { text } = e { Some(text.as_str()) } else { None })
            .collect();
        assert_eq!(tokens, ["Hello", ", wor", "ld", "!"]);
    }

    #[tokio::test]
    async fn cancel_stops_a_running_answer_with_the_text_so_far() {
        let base = serve().await;
        let generator = RemoteGenerator::new(endpoint(&base, "endless"), Some(KEY.into()), 4096, quick()).expect("new");
        let cancel = Arc::new(AtomicBool::new(false));
        let mut seen = 0;
        let flag = Arc::clone(&cancel);
        let generation = generator
            .generate(question(), &cancel, &mut |e| {
                if matches!(e, GenEvent::Token { .. }) {
                    seen += 1;
                    if seen == 3 {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
            })
            .await
            .expect("generate");
        assert_eq!(generation.stop, StopReason::Cancelled);
        assert!(generation.text.starts_with("Hello, world"), "{}", generation.text);
        assert!(generation.text.len() < 200, "{}", generation.text);
    }

    #[tokio::test]
    async fn failures_are_said_in_words() {
        let base = serve().await;
        let cancel = AtomicBool::new(false);
        let message = |r: Result<RemoteEmbedder>| r.err().expect("an error").to_string();

        let bad_key = message(RemoteEmbedder::connect(endpoint(&base, "e"), Some("wrong".into()), quick()).await);
        assert!(bad_key.contains("refused the API key (HTTP 401)"), "{bad_key}");
        let no_key = message(RemoteEmbedder::connect(endpoint(&base, "e"), None, quick()).await);
        assert!(no_key.contains("HTTP 401"), "{no_key}");

        let missing = message(RemoteEmbedder::connect(endpoint(&base, "missing"), Some(KEY.into()), quick()).await);
        assert!(missing.contains("model not found") && missing.contains("\"missing\""), "{missing}");

        let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let refused =
            message(RemoteEmbedder::connect(endpoint(&format!("http://127.0.0.1:{port}"), "e"), None, quick()).await);
        assert!(refused.contains("connection was refused"), "{refused}");

        let silent = message(RemoteEmbedder::connect(endpoint(&base, "silent"), Some(KEY.into()), quick()).await);
        assert!(silent.contains("did not answer within 2 s"), "{silent}");

        let generator = RemoteGenerator::new(endpoint(&base, "drop"), Some(KEY.into()), 4096, quick()).expect("new");
        let dropped = generator.generate(question(), &cancel, &mut |_| {}).await.expect_err("a dropped answer");
        assert!(dropped.to_string().contains("before the answer ended"), "{dropped}");

        let generator =
            RemoteGenerator::new(endpoint(&base, "chat"), Some("wrong".into()), 4096, quick()).expect("new");
        let refused = generator.generate(question(), &cancel, &mut |_| {}).await.expect_err("a bad key");
        assert!(refused.to_string().contains("HTTP 401"), "{refused}");

        let invalid =
            RemoteGenerator::new(endpoint("localhost:8080", "m"), None, 4096, quick()).err().expect("invalid");
        assert!(invalid.to_string().contains("must start with http://"), "{invalid}");
    }
}
