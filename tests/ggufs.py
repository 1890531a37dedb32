"""Tiny GGUF models of every seed family, written with the `gguf` package's own writer.

Each family gets its real architecture name, its real chat template (the Jinja text the model
ships in `tokenizer.chat_template`), its real special tokens, its tokenizer kind (SentencePiece
"llama" or byte-level BPE "gpt2" with its pre-tokenizer) and its trained context length. The
dimensions are tiny (64-wide, 2 layers, ~300 tokens), so a file is ~0.3 MB and loads in
milliseconds.

The weights are random where the network computes (attention Q/K/V, the FFN's gate and up),
but the attention output and FFN down projections are zero, so every block adds nothing to the
residual stream and the next token depends only on the current token's embedding (tied to the
output, as Gemma ties them). The embedding rows are set so that greedy decoding from any token
writes ANSWER and then the family's end-of-turn token (`Family.eot`): a model that proves,
through the real runtime, that generation ends at that token and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

ANSWER = "Hello"  # the one word every family model answers before its end-of-turn token
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_LAYER = 2
SPM_SPACE = "\u2581"

# ----------------------------------------------------------------------------- real templates

LLAMA3 = (  # meta-llama/Meta-Llama-3-8B-Instruct
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
PHI3_MINI = (  # microsoft/Phi-3-mini-4k-instruct as first published (and in many GGUFs): no system role
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}"
    "{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}"
    "{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}"
    "{% endif %}{% endfor %}"
)
GEMMA2 = (  # google/gemma-2-2b-it: raises on a system message
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
GEMMA3 = (  # google/gemma-3-1b-it: folds the system message into the first user turn itself
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    '    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    '        {%- set role = "model" -%}\n'
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    '        {{ raise_exception("Invalid content type") }}\n'
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n"
)
MISTRAL = (  # mistralai/Mistral-7B-Instruct-v0.2: user/assistant only, raises on a system message
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
QWEN2 = (  # Qwen/Qwen2-0.5B-Instruct: ChatML with a default system prompt
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
OLMO2 = (  # allenai/OLMo-2-1124-7B-Instruct (Tulu format)
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ '<|system|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'user' %}"
    "{{ '<|user|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'assistant' %}"
    "{% if not loop.last %}{{ '<|assistant|>\n'  + message['content'] + eos_token + '\n' }}"
    "{% else %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}{% endfor %}"
)
ZEPHYR = (  # TinyLlama/TinyLlama-1.1B-Chat-v1.0 (the Zephyr format)
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
SMOLLM2 = (  # HuggingFaceTB/SmolLM2-135M-Instruct (the bundled model's own template)
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Family:
    """One seed family: what its GGUF says, and what a conversation must look like."""

    name: str
    arch: str
    template: str
    tokenizer: str  # "llama" (SentencePiece) | "gpt2" (byte-level BPE)
    specials: tuple[str, ...]  # control tokens, from id 0 (the SentencePiece <unk> included)
    bos: str | None
    eos: str
    eot: str  # the token a turn ends with: generation must stop there
    context_length: int
    pre: str = ""  # the BPE pre-tokenizer llama.cpp applies
    add_bos: bool = True
    extra: dict[str, object] = field(default_factory=dict)


FAMILIES: tuple[Family, ...] = (
    Family(
        "llama3",
        "llama",
        LLAMA3,
        "gpt2",
        ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
        bos="<|begin_of_text|>",
        eos="<|end_of_text|>",  # as the first Llama 3 GGUFs said: the turn ends at <|eot_id|> all the same
        eot="<|eot_id|>",
        context_length=131072,
        pre="llama-bpe",
    ),
    Family(
        "phi3",
        "phi3",
        PHI3_MINI,
        "llama",
        ("<unk>", "<s>", "</s>", "<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"),
        bos="<s>",
        eos="<|endoftext|>",
        eot="<|end|>",
        context_length=4096,
    ),
    Family(
        "gemma2",
        "gemma2",
        GEMMA2,
        "llama",
        ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"),
        bos="<bos>",
        eos="<eos>",
        eot="<end_of_turn>",
        context_length=8192,
    ),
    Family(
        "gemma3",
        "gemma3",
        GEMMA3,
        "llama",
        ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>"),
        bos="<bos>",
        eos="<eos>",
        eot="<end_of_turn>",
        context_length=32768,
    ),
    Family(
        "mistral",
        "llama",
        MISTRAL,
        "llama",
        ("<unk>", "<s>", "</s>"),
        bos="<s>",
        eos="</s>",
        eot="</s>",
        context_length=32768,
    ),
    Family(
        "qwen2",
        "qwen2",
        QWEN2,
        "gpt2",
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        bos=None,
        eos="<|im_end|>",
        eot="<|im_end|>",
        context_length=32768,
        pre="qwen2",
        add_bos=False,
    ),
    Family(
        "olmo2",
        "olmo2",
        OLMO2,
        "gpt2",
        ("<|endoftext|>", "<|pad|>"),
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        eot="<|endoftext|>",
        context_length=4096,
        pre="dbrx",
        add_bos=False,
    ),
    Family(
        "tinyllama",
        "llama",
        ZEPHYR,
        "llama",
        ("<unk>", "<s>", "</s>"),
        bos="<s>",
        eos="</s>",
        eot="</s>",
        context_length=2048,
    ),
    Family(
        "smollm",
        "llama",
        SMOLLM2,
        "gpt2",
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        bos="<|im_start|>",
        eos="<|im_end|>",
        eot="<|im_end|>",
        context_length=8192,
        pre="smollm",
        add_bos=False,
    ),
)
BY_NAME = {f.name: f for f in FAMILIES}


# ----------------------------------------------------------------------------- vocabularies


def _byte_level_chars() -> list[str]:
    """GPT-2's byte → printable character table (what byte-level BPE vocabularies hold)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    chars = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + n)
            n += 1
    return [chars[b] for b in range(256)]


@dataclass
class Vocab:
    tokens: list[str]
    types: list[int]
    scores: list[float]
    merges: list[str]

    def id(self, text: str) -> int:
        return self.tokens.index(text)


def build_vocab(family: Family) -> Vocab:
    T = gguf.TokenType
    tokens = list(family.specials)
    types = [T.UNKNOWN if t == "<unk>" else T.CONTROL for t in tokens]
    merges: list[str] = []
    if family.tokenizer == "llama":
        tokens += [f"<0x{b:02X}>" for b in range(256)]
        types += [T.BYTE] * 256
        words = [SPM_SPACE, ANSWER, SPM_SPACE + ANSWER]
    else:
        byte_chars = _byte_level_chars()
        tokens += byte_chars
        types += [T.NORMAL] * 256
        words = ["He", "ll", ANSWER]
        merges = ["H e", "l l"]
    tokens += words
    types += [T.NORMAL] * len(words)
    scores = [0.0] * (len(tokens) - len(words)) + [-float(i + 1) for i in range(len(words))]
    return Vocab(tokens, [int(t) for t in types], scores, merges)


# ----------------------------------------------------------------------------- weights


def _embeddings(vocab: Vocab, family: Family) -> np.ndarray:
    """Rows chosen so that, with tied output and blocks that add nothing, greedy decoding from any
    token gives ANSWER, and from ANSWER gives the end-of-turn token (see the module docstring)."""
    emb = np.zeros((len(vocab.tokens), N_EMBD), dtype=np.float32)
    emb[:, 1] = 1.0  # every token: "not the answer yet"
    answer, eot = vocab.id(ANSWER), vocab.id(family.eot)
    emb[answer] = 0.0
    emb[answer, 1], emb[answer, 0] = 2.0, 1.0
    emb[eot] = 0.0
    emb[eot, 0] = 10.0
    return emb


def _tensors(family: Family, emb: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tensor name → array (numpy shape = ggml dims reversed) for the family's architecture."""

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)

    def ones(*shape: int) -> np.ndarray:
        return np.ones(shape, dtype=np.float32)

    head = N_EMBD // N_HEAD
    n_kv = N_HEAD if family.arch == "olmo2" else N_HEAD_KV
    kv = head * n_kv
    out: dict[str, np.ndarray] = {"token_embd.weight": emb, "output_norm.weight": ones(N_EMBD)}
    if family.arch in ("phi3", "olmo2"):
        out["output.weight"] = emb.copy()  # these do not tie: same values, own tensor
    for i in range(N_LAYER):
        p = f"blk.{i}."
        t: dict[str, np.ndarray] = {}
        if family.arch == "phi3":
            t["attn_norm.weight"] = ones(N_EMBD)
            t["attn_qkv.weight"] = rand(N_EMBD + 2 * kv, N_EMBD)
            t["attn_output.weight"] = zeros(N_EMBD, N_EMBD)
            t["ffn_norm.weight"] = ones(N_EMBD)
            t["ffn_up.weight"] = rand(2 * N_FF, N_EMBD)
            t["ffn_down.weight"] = zeros(N_EMBD, N_FF)
        else:
            t["attn_q.weight"] = rand(N_EMBD, N_EMBD)
            t["attn_k.weight"] = rand(kv, N_EMBD)
            t["attn_v.weight"] = rand(kv, N_EMBD)
            t["attn_output.weight"] = zeros(N_EMBD, N_EMBD)
            t["ffn_gate.weight"] = rand(N_FF, N_EMBD)
            t["ffn_up.weight"] = rand(N_FF, N_EMBD)
            t["ffn_down.weight"] = zeros(N_EMBD, N_FF)
            if family.arch != "olmo2":  # OLMo 2 normalises after each block, not before
                t["attn_norm.weight"] = ones(N_EMBD)
                t["ffn_norm.weight"] = ones(N_EMBD)
            if family.arch == "qwen2":
                t["attn_q.bias"] = rand(N_EMBD)
                t["attn_k.bias"] = rand(kv)
                t["attn_v.bias"] = rand(kv)
            if family.arch in ("gemma2", "gemma3", "olmo2"):
                t["post_attention_norm.weight"] = ones(N_EMBD)
                t["post_ffw_norm.weight"] = ones(N_EMBD)
            if family.arch == "gemma3":
                t["attn_q_norm.weight"] = ones(head)
                t["attn_k_norm.weight"] = ones(head)
            if family.arch == "olmo2":
                t["attn_q_norm.weight"] = ones(N_EMBD)
                t["attn_k_norm.weight"] = ones(kv)
        out.update({p + k: v for k, v in t.items()})
    return out


# ----------------------------------------------------------------------------- writer


def write_family_gguf(family: Family, path: Path, *, arch: str | None = None, seed: int = 0) -> Path:
    """Write `family`'s tiny model to `path` (arch overrides the architecture name, for tests of
    one that llama.cpp does not know)."""
    arch = arch or family.arch
    vocab = build_vocab(family)
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny {family.name}")
    w.add_license("apache-2.0")
    w.add_context_length(family.context_length)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD if family.arch == "olmo2" else N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if family.arch in ("gemma2", "gemma3"):
        w.add_key_length(N_EMBD // N_HEAD)
        w.add_value_length(N_EMBD // N_HEAD)
        w.add_sliding_window(4096 if family.arch == "gemma2" else 512)
    if family.arch == "gemma2":
        w.add_attn_logit_softcapping(50.0)
        w.add_final_logit_softcapping(30.0)
    w.add_tokenizer_model(family.tokenizer)
    if family.pre:
        w.add_tokenizer_pre(family.pre)
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.types)
    if family.tokenizer == "llama":
        w.add_token_scores(vocab.scores)
        if "<unk>" in vocab.tokens:
            w.add_unk_token_id(vocab.id("<unk>"))
    else:
        w.add_token_merges(vocab.merges)
    if family.bos:
        w.add_bos_token_id(vocab.id(family.bos))
    w.add_eos_token_id(vocab.id(family.eos))
    w.add_add_bos_token(family.add_bos)
    w.add_add_eos_token(False)
    w.add_chat_template(family.template)
    for name, array in _tensors(family, _embeddings(vocab, family), rng).items():
        w.add_tensor(name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# ----------------------------------------------------------------------------- LoRA adapters

LORA_RANK = 2


def write_lora_gguf(
    family: Family,
    path: Path,
    *,
    target: str = "output.weight",
    n_embd: int = N_EMBD,
    boost: float = 3.0,
    base_name: str = "",
) -> Path:
    """A LoRA adapter for `family`'s tiny model (as convert_lora_to_gguf.py writes one).

    On "output.weight" it adds `boost` × the "not the answer yet" feature to the end-of-turn
    token's logit: at scale 1 the model ends its turn at once (an empty answer), at scale 0 (or a
    small one) it answers ANSWER as the base does. `n_embd` other than the base's makes an adapter
    for another size of model."""
    vocab = build_vocab(family)
    n_out = len(vocab.tokens) if target == "output.weight" else n_embd
    lora_a = np.zeros((LORA_RANK, n_embd), dtype=np.float32)  # ggml [n_in, rank]
    lora_b = np.zeros((n_out, LORA_RANK), dtype=np.float32)  # ggml [rank, n_out]
    lora_a[0, 1] = 1.0
    if target == "output.weight":
        lora_b[vocab.id(family.eot), 0] = boost
    w = gguf.GGUFWriter(str(path), family.arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(LORA_RANK))  # alpha / rank = 1
    w.add_name(f"tiny {family.name} adapter")
    if base_name:
        w.add_string("general.base_model.0.name", base_name)
    w.add_tensor(f"{target}.lora_a", lora_a)
    w.add_tensor(f"{target}.lora_b", lora_b)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# The base + adapter pair the `adapter_folder` fixture (tests/conftest.py) writes.
LORA_PAIR = "tiny-phi3 + phi3-lora"
