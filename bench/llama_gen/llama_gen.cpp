// llama_gen: chat-model speed measured directly on llama.cpp's C API (llama.h), the reference figures for
// `quire bench ask`. Built against the llama.cpp vendored by llama-cpp-sys-2 (see build.sh).
//
// What it measures, per repetition (after one untimed warm-up), in the style of llama-bench's pp/tg tests:
//   - the KV cache is cleared, so nothing is reused between repetitions;
//   - prompt: N tokens decoded in slices of --batch tokens (llama_batch_get_one: logits for the last token
//     only), timed to the end of the last slice -> pp_tokens_per_s = N / prompt time;
//   - first token: argmax over the last prompt token's logits -> ttft_ms = prompt time + that sampling
//     (no tokenization, no chat template, no decode of the first token);
//   - generation: greedy, one token per llama_decode, exactly M tokens in all, end-of-generation tokens are
//     ignored (as llama-bench does). tg_tokens_per_s = (M - 1) / (time from the first token sampled to the
//     M-th token sampled), i.e. the M - 1 tokens after the first over their decode + argmax time. This
//     matches Quire's generation rate, which also excludes the first token. (llama-bench's tg instead times
//     M single-token decodes from an empty context and reports M / time; per token it is the same work,
//     but here every decode sits on top of the N-token prompt, like a real answer.)
// The medians over the repetitions are printed as one JSON object on stdout, with every run in "runs".
//
// The prompt is real text: the file's text is tokenized (BOS added if the model asks for it, special tokens
// not parsed), repeated if it is too short, and cut to exactly N tokens.
//
// usage: llama_gen --model PATH --prompt-file FILE [--prompt-tokens N=512] [--gen-tokens M=128]
//                  [--threads T=2] [--ctx C=4096] [--batch B=256] [--ubatch U=256] [--flash-attn 0|1 (1)]
//                  [--reps R=3]
// The model runs on the CPU (no GPU layers), KV cache f16, n_threads = n_threads_batch = T.
#include "llama.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using clk = std::chrono::steady_clock;
static double ms_between(clk::time_point a, clk::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// Only warnings and errors reach stderr (a CONT line continues the previous message's level).
static void quiet_log(ggml_log_level level, const char * text, void *) {
    static ggml_log_level last = GGML_LOG_LEVEL_INFO;
    if (level != GGML_LOG_LEVEL_CONT) last = level;
    if (last == GGML_LOG_LEVEL_WARN || last == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static std::string json_str(const std::string & s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += (char) c; }
        else if (c < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); o += b; }
        else o += (char) c;
    }
    return o + "\"";
}

static std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text, bool add_special) {
    int n = -llama_tokenize(vocab, text.data(), (int32_t) text.size(), nullptr, 0, add_special, false);
    std::vector<llama_token> out(std::max(n, 0));
    if (n > 0) llama_tokenize(vocab, text.data(), (int32_t) text.size(), out.data(), n, add_special, false);
    return out;
}

static llama_token argmax_last(llama_context * ctx, int n_vocab) {
    const float * logits = llama_get_logits_ith(ctx, -1);
    return (llama_token) (std::max_element(logits, logits + n_vocab) - logits);
}

static bool decode(llama_context * ctx, llama_token * toks, int n) {
    int rc = llama_decode(ctx, llama_batch_get_one(toks, n));
    if (rc != 0) { fprintf(stderr, "llama_decode failed (%d)\n", rc); return false; }
    return true;
}

// Decodes the prompt in slices of n_batch tokens; logits come out for the last token only.
static bool decode_prompt(llama_context * ctx, std::vector<llama_token> & prompt, int n_batch) {
    for (size_t i = 0; i < prompt.size(); i += n_batch) {
        int n = (int) std::min<size_t>(n_batch, prompt.size() - i);
        if (!decode(ctx, prompt.data() + i, n)) return false;
    }
    llama_synchronize(ctx);
    return true;
}

int main(int argc, char ** argv) {
    std::string model_path, prompt_path;
    int n_prompt = 512, n_gen = 128, threads = 2, n_ctx = 4096, n_batch = 256, n_ubatch = 256, fa = 1, reps = 3;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) { fprintf(stderr, "missing value for %s\n", a.c_str()); return 2; }
        const char * v = argv[++i];
        if (a == "--model") model_path = v;
        else if (a == "--prompt-file") prompt_path = v;
        else if (a == "--prompt-tokens") n_prompt = atoi(v);
        else if (a == "--gen-tokens") n_gen = atoi(v);
        else if (a == "--threads") threads = atoi(v);
        else if (a == "--ctx") n_ctx = atoi(v);
        else if (a == "--batch") n_batch = atoi(v);
        else if (a == "--ubatch") n_ubatch = atoi(v);
        else if (a == "--flash-attn") fa = atoi(v);
        else if (a == "--reps") reps = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
    }
    if (model_path.empty() || prompt_path.empty()) {
        fprintf(stderr, "usage: %s --model PATH --prompt-file FILE [--prompt-tokens N] [--gen-tokens M] [--threads T]"
                        " [--ctx C] [--batch B] [--ubatch U] [--flash-attn 0|1] [--reps R]\n", argv[0]);
        return 2;
    }
    if (n_prompt < 1 || n_gen < 2 || reps < 1 || threads < 1 || n_batch < 1 || n_ubatch < 1) {
        fprintf(stderr, "need --prompt-tokens >= 1, --gen-tokens >= 2, --reps, --threads, --batch, --ubatch >= 1\n");
        return 2;
    }
    if (n_prompt + n_gen > n_ctx) {
        fprintf(stderr, "%d prompt + %d generated tokens do not fit --ctx %d\n", n_prompt, n_gen, n_ctx);
        return 2;
    }
    std::string text;
    {
        std::ifstream f(prompt_path, std::ios::binary);
        if (!f) { fprintf(stderr, "cannot open %s\n", prompt_path.c_str()); return 1; }
        std::stringstream ss; ss << f.rdbuf(); text = ss.str();
    }

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.progress_callback = [](float, void *) { return true; };  // no progress dots
    llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", model_path.c_str()); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_ubatch = n_ubatch;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = GGML_TYPE_F16;
    cp.type_v = GGML_TYPE_F16;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot create the context\n"); return 1; }
    llama_memory_t mem = llama_get_memory(ctx);

    // Prompt: [BOS if the model wants it] + the text's tokens, the text repeated as needed, cut to N.
    std::vector<llama_token> prompt;
    if (llama_vocab_get_add_bos(vocab)) prompt.push_back(llama_vocab_bos(vocab));
    std::vector<llama_token> body = tokenize(vocab, text, false);
    if (body.empty()) { fprintf(stderr, "%s gives no tokens\n", prompt_path.c_str()); return 1; }
    while ((int) prompt.size() < n_prompt) prompt.insert(prompt.end(), body.begin(), body.end());
    prompt.resize(n_prompt);

    // Warm-up (untimed): one prompt-sized batch and one single-token step, then forget them.
    {
        std::vector<llama_token> w(prompt.begin(), prompt.begin() + std::min(n_prompt, n_batch));
        if (!decode_prompt(ctx, w, n_batch)) return 1;
        llama_token t = argmax_last(ctx, n_vocab);
        if (!decode(ctx, &t, 1)) return 1;
        llama_synchronize(ctx);
        llama_memory_clear(mem, true);
    }

    std::vector<double> pp, tg, ttft;
    std::string runs;
    for (int r = 0; r < reps; r++) {
        llama_memory_clear(mem, true);
        std::vector<llama_token> p = prompt;

        auto t0 = clk::now();
        if (!decode_prompt(ctx, p, n_batch)) return 1;
        auto t1 = clk::now();
        llama_token tok = argmax_last(ctx, n_vocab);  // token 1 of M
        auto t2 = clk::now();
        for (int k = 1; k < n_gen; k++) {            // tokens 2..M: decode the previous one, take the argmax
            if (!decode(ctx, &tok, 1)) return 1;
            llama_synchronize(ctx);
            tok = argmax_last(ctx, n_vocab);
        }
        auto t3 = clk::now();

        double prompt_ms = ms_between(t0, t1), first_ms = ms_between(t0, t2), gen_ms = ms_between(t2, t3);
        pp.push_back(n_prompt * 1000.0 / prompt_ms);
        tg.push_back((n_gen - 1) * 1000.0 / gen_ms);
        ttft.push_back(first_ms);
        char b[256];
        snprintf(b, sizeof b,
                 "%s{\"prompt_ms\": %.3f, \"ttft_ms\": %.3f, \"gen_ms\": %.3f, \"pp_tokens_per_s\": %.2f, "
                 "\"tg_tokens_per_s\": %.2f}", r ? ", " : "", prompt_ms, first_ms, gen_ms, pp.back(), tg.back());
        runs += b;
    }

    std::string name = model_path.substr(model_path.find_last_of('/') + 1);
    printf("{\"model\": %s, \"threads\": %d, \"prompt_tokens\": %d, \"gen_tokens\": %d, \"n_ctx\": %d, "
           "\"n_batch\": %d, \"n_ubatch\": %d, \"flash_attn\": %d, \"reps\": %d, "
           "\"pp_tokens_per_s\": %.2f, \"tg_tokens_per_s\": %.2f, \"ttft_ms\": %.3f, "
           "\"tg_definition\": \"(gen_tokens - 1) / time from first token sampled to last token sampled\", "
           "\"system_info\": %s, \"runs\": [%s]}\n",
           json_str(name).c_str(), threads, n_prompt, n_gen, (int) llama_n_ctx(ctx), n_batch, n_ubatch, fa, reps,
           median(pp), median(tg), median(ttft), json_str(llama_print_system_info()).c_str(), runs.c_str());

    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
